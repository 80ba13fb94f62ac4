import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAwsAuth, planAwsAuth } from '../../lambda/targets/awsauth/index.js';
import type { ConfigMap } from '../../lambda/configmap.js';
import type { DesiredState } from '../../lambda/mappings.js';
import { awsAuthMap, desiredState, role } from '../support/awsauth-fixtures.js';

const desired: DesiredState = desiredState([[role('dev'), 'dev', ['developers'], 'static']]);
const configMap = (mapRoles: string): ConfigMap => awsAuthMap({ mapRoles });

/** YAML 1.1 scalars as people write them by hand: integers, floats in every notation, specials, strings. */
const scalarText = fc.oneof(
  fc.integer().map(String),
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map(String),
  fc.double({ noNaN: true }).map((d) => (Number.isInteger(d) ? `${d}.0` : String(d).replace(/e(\d)/, '.0e+$1'))),
  fc.constantFrom('-0', '-0.0', '0.0', '1.0', '1.0e+21', '1.5e-7', '.nan', '.inf', '-.inf', '0x1F', '0o17', '017', '1_000', '~', 'null', 'yes', 'off', '2001-12-14'),
  fc.stringMatching(/^[a-z][a-z0-9 ]{0,8}$/),
);

describe('foreign entries with YAML 1.1 scalars', () => {
  it('keeps every scalar a hand edit wrote, floats such as 1.0 and 1.0e+21 included, when it rewrites the list', () => {
    fc.assert(
      fc.property(fc.array(scalarText, { minLength: 1, maxLength: 6 }), (scalars) => {
        const text = `- rolearn: arn:aws:iam::111122223333:role/hand\n  username: hand\n${scalars.map((s, i) => `  f${i}: ${s}\n`).join('')}`;
        const live = parseAwsAuth(configMap(text));
        const next = planAwsAuth({ desired, live, settings: { mode: 'merge', allowEmpty: false, maxRemovals: 20 } }).next;
        expect(parseAwsAuth(next).roles[0]?.raw).toEqual(live.roles[0]?.raw);
      }),
      { numRuns: 150 },
    );
  });
});
