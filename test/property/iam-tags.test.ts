import { GetAccountAuthorizationDetailsCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/config.js';
import { canonicalRoleArn, type AccessPolicySpec } from '../../lambda/mappings.js';
import { TAG_RESTRICTED_POLICIES } from '../../lambda/scanners/iam-policies.js';
import { scanWith } from '../scanners/helpers.js';
import { ACCOUNT, CLUSTER, RESERVED_PREFIXES, TRUST_POLICIES, iamIdentities, someRenderingStartsWith, type TrustName } from './arbitraries.js';

const iam = mockClient(IAMClient);
afterAll(() => iam.restore());

// What the `type` tag asks for: fixed entries, never built from tag values, and only for a role
// that nobody but the node type's service can assume (see SECURITY.md).
const NODE_ENTRIES = new Map<string, { type: string; trust: TrustName }>([
  [JSON.stringify(['system:node:{{EC2PrivateDNSName}}', ['system:bootstrappers', 'system:nodes']]), { type: 'node', trust: 'ec2' }],
  [JSON.stringify(['system:node:{{SessionName}}', ['system:bootstrappers', 'system:nodes', 'system:node-proxier']]), { type: 'fargateNode', trust: 'fargate' }],
]);
const OPT_INS = ['system:masters', 'system:nodes', 'system:authenticated'];
// The tests' own model of what an access policy may be (EKS's names, DNS-label namespaces; tags cannot write `*`).
const POLICY_NAME = /^[A-Za-z][A-Za-z0-9]{0,127}$/;
const TAG_NAMESPACE = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** The tag value that grants exactly `specs`, written back in the tag syntax. */
const asTagValue = (specs: AccessPolicySpec[], separator: string): string =>
  specs.map((p) => [p.policy, ...(p.namespaces ?? [])].join('/')).join(separator);

describe('IAM tags (properties)', () => {
  it('never grant a system: group the config does not list, nor a reserved username, in any rendering of their templates, nor a node entry to a role others can assume, nor an access policy other than the tag says or an admin one the config does not allow', async () => {
    const input = fc.record({
      separator: fc.constantFrom('::', ','),
      allowed: fc.subarray(OPT_INS),
      allowedPolicies: fc.subarray([...TAG_RESTRICTED_POLICIES]),
    }).chain(({ separator, allowed, allowedPolicies }) => fc.record({
      separator: fc.constant(separator), allowed: fc.constant(allowed), allowedPolicies: fc.constant(allowedPolicies), identities: iamIdentities(separator),
    }));

    await fc.assert(
      fc.asyncProperty(input, async ({ separator, allowed, allowedPolicies, identities }) => {
        const config = parseConfig(JSON.stringify({
          cluster: { name: CLUSTER, region: 'eu-west-1', accountID: ACCOUNT },
          scanners: [{ type: 'iam', iam: { groupSeparator: separator, allowSystemGroups: allowed, allowAccessPolicies: allowedPolicies } }],
        }), 'config.json');
        iam.reset();
        iam.on(GetAccountAuthorizationDetailsCommand).resolves({
          IsTruncated: false,
          RoleDetailList: identities.roles.map((r) => ({
            RoleName: r.name, Path: r.path, Arn: r.arn, Tags: r.tags, AssumeRolePolicyDocument: r.trust && TRUST_POLICIES[r.trust],
          })),
          UserDetailList: identities.users.map((u) => ({ UserName: u.name, Path: u.path, Arn: u.arn, Tags: u.tags })),
        });
        const { mappings } = await scanWith(config);
        const sources = (rolearn: string) => identities.roles
          .filter((r) => canonicalRoleArn(r.arn) === rolearn)
          .map((r) => ({ type: r.tags.filter((t) => t.Key === `eks/${ACCOUNT}/${CLUSTER}/type`).pop()?.Value, trust: r.trust }));

        const all = [...identities.users, ...identities.roles];
        const lastTag = (arn: string | undefined, key: string) => all.find((i) => i.arn === arn)?.tags.filter((t) => t.Key === `eks/${ACCOUNT}/${CLUSTER}/${key}`).pop()?.Value;
        for (const entry of [...mappings.users, ...mappings.roles]) {
          // Printable ASCII only: no look-alike letters, no invisible or control characters.
          for (const name of [entry.username, ...entry.groups]) expect(name).toMatch(/^[\x21-\x7e]+$/);
          // Each mapping names the identity IAM returned, path included.
          expect(all.map((i) => i.arn)).toContain(entry.sourceArn);
          if (entry.accessPolicies === undefined) {
            expect(entry.nodeType !== undefined || lastTag(entry.sourceArn, 'accessPolicies') === undefined).toBe(true);
            continue;
          }
          // Exactly what the tag says, every name well-formed, and no admin policy the config does not allow.
          expect(asTagValue(entry.accessPolicies, separator)).toBe(lastTag(entry.sourceArn, 'accessPolicies'));
          for (const p of entry.accessPolicies) {
            expect(p.policy).toMatch(POLICY_NAME);
            for (const ns of p.namespaces ?? []) expect(ns).toMatch(TAG_NAMESPACE);
            if ((TAG_RESTRICTED_POLICIES as readonly string[]).includes(p.policy)) expect(allowedPolicies).toContain(p.policy);
          }
        }
        // What the authenticator renders, whatever session name the assumer picks, must stay unreserved.
        const expectUnreserved = (e: { username: string; groups: string[] }): void => {
          for (const p of RESERVED_PREFIXES) expect(someRenderingStartsWith(e.username, p), `${e.username} can render ${p}…`).toBe(false);
          for (const g of e.groups) if (someRenderingStartsWith(g, 'system:')) expect(allowed).toContain(g);
        };
        mappings.users.forEach(expectUnreserved);
        for (const r of mappings.roles) {
          const node = NODE_ENTRIES.get(JSON.stringify([r.username, r.groups]));
          if (node !== undefined) {
            expect(sources(r.rolearn)).toContainEqual(node);
            // A node's entry takes no access policies, whatever its tags say.
            expect(r.nodeType).toBe(node.type);
            expect(r.accessPolicies).toBeUndefined();
            continue;
          }
          expectUnreserved(r);
        }
      }),
      { numRuns: 150 },
    );
  });
});
