import { GetAccountAuthorizationDetailsCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/config.js';
import { canonicalRoleArn } from '../../lambda/mappings.js';
import { runScanners } from '../../lambda/scanners/index.js';
import { deps } from '../scanners/helpers.js';
import { ACCOUNT, CLUSTER, iamIdentities } from './arbitraries.js';

const iam = mockClient(IAMClient);
afterAll(() => iam.restore());

// What the `type` tag asks for: fixed entries, never built from tag values (see SECURITY.md).
const NODE_ENTRIES = [
  JSON.stringify(['system:node:{{EC2PrivateDNSName}}', ['system:bootstrappers', 'system:nodes']]),
  JSON.stringify(['system:node:{{SessionName}}', ['system:bootstrappers', 'system:nodes', 'system:node-proxier']]),
];
const OPT_INS = ['system:masters', 'system:nodes', 'system:authenticated'];

describe('IAM tags (properties)', () => {
  it('never grant a system: group the config does not list, nor a system: username, whatever the tags say', async () => {
    const input = fc.record({
      separator: fc.constantFrom('::', ','),
      allowed: fc.subarray(OPT_INS),
    }).chain(({ separator, allowed }) => fc.record({ separator: fc.constant(separator), allowed: fc.constant(allowed), identities: iamIdentities(separator) }));

    await fc.assert(
      fc.asyncProperty(input, async ({ separator, allowed, identities }) => {
        const config = parseConfig(JSON.stringify({
          cluster: { name: CLUSTER, region: 'eu-west-1', accountID: ACCOUNT },
          scanners: [{ type: 'iam', iam: { groupSeparator: separator, allowSystemGroups: allowed } }],
        }), 'config.json');
        iam.reset();
        iam.on(GetAccountAuthorizationDetailsCommand).resolves({
          IsTruncated: false,
          RoleDetailList: identities.roles.map((r) => ({ RoleName: r.name, Path: r.path, Arn: r.arn, Tags: r.tags })),
          UserDetailList: identities.users.map((u) => ({ UserName: u.name, Path: u.path, Arn: u.arn, Tags: u.tags })),
        });
        const { mappings } = await runScanners(config, deps(config));
        const typeTags = (rolearn: string) => identities.roles
          .filter((r) => canonicalRoleArn(r.arn) === rolearn)
          .map((r) => r.tags.filter((t) => t.Key === `eks/${ACCOUNT}/${CLUSTER}/type`).pop()?.Value);

        for (const entry of [...mappings.users, ...mappings.roles]) {
          // Printable ASCII only: no look-alike letters, no invisible or control characters.
          for (const name of [entry.username, ...entry.groups]) expect(name).toMatch(/^[\x21-\x7e]+$/);
        }
        for (const u of mappings.users) {
          expect(u.username.startsWith('system:')).toBe(false);
          for (const g of u.groups) if (g.startsWith('system:')) expect(allowed).toContain(g);
        }
        for (const r of mappings.roles) {
          if (NODE_ENTRIES.includes(JSON.stringify([r.username, r.groups]))) {
            expect(typeTags(r.rolearn).some((t) => t === 'node' || t === 'fargateNode')).toBe(true);
            continue;
          }
          expect(r.username.startsWith('system:')).toBe(false);
          for (const g of r.groups) if (g.startsWith('system:')) expect(allowed).toContain(g);
        }
      }),
      { numRuns: 150 },
    );
  });
});
