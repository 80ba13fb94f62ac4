import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAwsAuth, renderList } from '../../lambda/awsauth.js';
import type { ConfigMap } from '../../lambda/configmap.js';
import { hostileText } from './arbitraries.js';

const configMap = (mapRoles: string): ConfigMap => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'aws-auth' }, data: { mapRoles } });
const item = fc.record({ rolearn: fc.stringMatching(/^arn:aws:iam::111122223333:role\/[a-z]{1,8}$/), username: hostileText, groups: fc.array(hostileText, { maxLength: 2 }), extra: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ['rolearn'] });
const BROKEN_ITEMS = ['- rolearn: x\n   username: y', '- {unclosed: [', '- "unterminated', '- *undefined', '- a: b\n\tc: d', '- !!binary ===='];

describe('repairing a broken list (properties)', () => {
  it('keeps every readable item, in order, and drops exactly the broken one, naming its lines', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 5 }), fc.array(item, { maxLength: 5 }), fc.constantFrom(...BROKEN_ITEMS), (before, after, broken) => {
        const head = before.length ? renderList(before) : '';
        const text = `${head}${broken}\n${after.length ? renderList(after) : ''}`;
        const live = parseAwsAuth(configMap(text), { repair: true });
        const expected = parseAwsAuth(configMap(`${head}${after.length ? renderList(after) : ''}`)).roles.map((e) => e.raw);
        if (live.repaired.length === 0) return; // some damage still parses (e.g. !!binary ====): nothing to repair
        expect(live.roles.map((e) => e.raw)).toEqual(expected);
        const firstLine = head.split('\n').length;
        expect(live.repaired[0]?.dropped.map((d) => [d.firstLine, d.text])).toEqual([[firstLine, broken]]);
      }),
      { numRuns: 120 },
    );
  });
});
