import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAwsAuth } from '../lambda/targets/awsauth/index.js';
import { BrokenAwsAuthError } from '../lambda/errors.js';
import { MAX_YAML_NESTING, yamlNestingBound, yamlNestingProblem } from '../lambda/yaml-limits.js';
import { awsAuthMap } from './support/awsauth-fixtures.js';

describe('the YAML nesting bound', () => {
  it.each([
    ['a flat mapping', 'a: 1\nb: 2\n', 2],
    ['a block list of mappings', '- a: 1\n  b: [x]\n', 5],
    ['brackets inside quotes and comments', 'a: "[[[[" # {{{{\n', 2],
    ['a comment indented far', 'a: 1\n                                # note\n', 2],
    ['1,000 open brackets', '['.repeat(1000), 1001],
    ['300 compact list items', '- '.repeat(300) + 'x', 301],
  ])('bounds %s', (_, text, bound) => {
    expect(yamlNestingBound(text)).toBe(bound);
  });

  it('passes the example configs and a 7,000-entry aws-auth', () => {
    for (const f of ['examples/full.yaml', 'examples/mappings.yaml']) expect(yamlNestingProblem(readFileSync(f, 'utf8'))).toBeUndefined();
    const big = Array.from({ length: 7000 }, (_, i) => `- rolearn: arn:aws:iam::111122223333:role/r${i}\n  username: u${i}\n  groups:\n    - g\n`).join('');
    expect(yamlNestingProblem(big)).toBeUndefined();
  });

  it(`refuses more than ${MAX_YAML_NESTING} levels`, () => {
    expect(yamlNestingProblem('['.repeat(MAX_YAML_NESTING) + ']'.repeat(MAX_YAML_NESTING))).toBeUndefined();
    expect(yamlNestingProblem('['.repeat(MAX_YAML_NESTING + 1))).toMatch(/nested too deeply/);
  });

  it('lets a deeply nested aws-auth be read again and again, with and without repair, without aborting the process', () => {
    const cm = awsAuthMap({ mapRoles: '['.repeat(1000) }, { namespace: null });
    for (let i = 0; i < 5; i++) {
      expect(() => parseAwsAuth(cm)).toThrow(BrokenAwsAuthError);
      expect(parseAwsAuth(cm, { repair: true }).repaired[0]?.dropped[0]?.problem).toMatch(/nested too deeply/);
    }
  });
});

describe('yamlNestingProblem on flow (JSON) text', () => {
  it('accepts a long one-line JSON document, however many keys and items it has', () => {
    const roles = Array.from({ length: 2000 }, (_, i) => ({ rolearn: `arn:aws:iam::111122223333:role/r${i}`, username: `u${i}`, groups: ['a', 'b'] }));
    const json = JSON.stringify({ cluster: { name: 'c' }, scanners: [{ type: 'static', static: { roles } }] });
    expect(yamlNestingBound(json)).toBeLessThan(10);
    expect(yamlNestingProblem(json)).toBeUndefined();
  });

  it('still refuses deeply nested flow collections', () => {
    expect(yamlNestingProblem(`${'{"a": '.repeat(150)}1${'}'.repeat(150)}`)).toMatch(/nested too deeply/);
  });
});
