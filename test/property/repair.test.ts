import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseAwsAuth, renderList } from '../../lambda/targets/awsauth/index.js';
import type { ConfigMap } from '../../lambda/configmap.js';
import { awsAuthMap } from '../support/awsauth-fixtures.js';
import { hostileText } from './arbitraries.js';

const configMap = (mapRoles: string): ConfigMap => awsAuthMap({ mapRoles }, { namespace: null });
const item = fc.record({ rolearn: fc.stringMatching(/^arn:aws:iam::111122223333:role\/[a-z]{1,8}$/), username: hostileText, groups: fc.array(hostileText, { maxLength: 2 }), extra: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: ['rolearn'] });
// Each fails to parse on its own (`- !!binary ====` is not one: it reads as the string "====").
const BROKEN_ITEMS = ['- rolearn: x\n   username: y', '- {unclosed: [', '- "unterminated', '- *undefined', '- a: b\n\tc: d'];

describe('repairing a broken list (properties)', () => {
  it('keeps every readable item, in order, and drops exactly the broken one, naming its lines', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 5 }), fc.array(item, { maxLength: 5 }), fc.constantFrom(...BROKEN_ITEMS), (before, after, broken) => {
        const head = before.length ? renderList(before) : '';
        const text = `${head}${broken}\n${after.length ? renderList(after) : ''}`;
        const live = parseAwsAuth(configMap(text), { repair: true });
        const expected = parseAwsAuth(configMap(`${head}${after.length ? renderList(after) : ''}`)).roles.map((e) => e.raw);
        expect(live.repaired).toHaveLength(1);
        expect(live.roles.map((e) => e.raw)).toEqual(expected);
        const firstLine = head.split('\n').length;
        expect(live.repaired[0]?.dropped.map((d) => [d.firstLine, d.text])).toEqual([[firstLine, broken]]);
      }),
      { numRuns: 120 },
    );
  });
});
