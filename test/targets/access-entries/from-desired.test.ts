import { describe, expect, it } from 'vitest';
import { mergeScanResults, type DesiredState, type RoleArn, type UserArn } from '../../../lambda/mappings.js';
import { mappingsForAccessEntries } from '../../../lambda/targets/access-entries/from-desired.js';
import { translateMappings } from '../../../lambda/targets/access-entries/translate.js';

const ACCT = '111122223333';
const NODES = `arn:aws:iam::${ACCT}:role/Nodes`;
const NODES_WITH_PATH = `arn:aws:iam::${ACCT}:role/eks/Nodes`;
const DEV = `arn:aws:iam::${ACCT}:role/Dev`;
const ALICE = `arn:aws:iam::${ACCT}:user/people/alice`;

function desired(over: Partial<DesiredState> = {}): DesiredState {
  return {
    mappings: {
      users: [{ userarn: ALICE as UserArn, username: 'alice', groups: ['devs'], sourceArn: ALICE }],
      roles: [
        { rolearn: DEV as RoleArn, username: 'dev', groups: [], accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }] },
        {
          rolearn: NODES as RoleArn, username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'],
          sourceArn: NODES_WITH_PATH, nodeType: 'node',
        },
      ],
    },
    sourceOf: new Map([[ALICE.toLowerCase(), 'file[0]'], [DEV.toLowerCase(), 'static[1]'], [NODES.toLowerCase(), 'iam[2]']]),
    fromTags: new Set([NODES.toLowerCase()]),
    warnings: [],
    ...over,
  };
}

describe('mappingsForAccessEntries', () => {
  it('uses the ARN with its path the source gave, and the node type, source and trust of each mapping', () => {
    expect(mappingsForAccessEntries(desired())).toEqual([
      { kind: 'user', arn: ALICE, username: 'alice', groups: ['devs'], source: 'file[0]', fromTags: false },
      {
        kind: 'role', arn: DEV, username: 'dev', groups: [], source: 'static[1]', fromTags: false,
        accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }],
      },
      {
        kind: 'role', arn: NODES_WITH_PATH, username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'],
        nodeType: 'node', source: 'iam[2]', fromTags: true,
      },
    ]);
  });

  it('falls back to the aws-auth ARN when the source gave none, so translation resolves the path', async () => {
    const lookedUp: string[] = [];
    const { entries } = await translateMappings(mappingsForAccessEntries(desired()), {
      partition: 'aws',
      clusterAccountId: ACCT,
      resolveRole: (arn) => { lookedUp.push(arn); return Promise.resolve(`arn:aws:iam::${ACCT}:role/teams/Dev`); },
    });
    expect(lookedUp).toEqual([DEV]);
    expect(entries.map((e) => [e.principalArn, e.type, e.source])).toEqual([
      [`arn:aws:iam::${ACCT}:role/eks/Nodes`, 'EC2_LINUX', 'iam[2]'],
      [`arn:aws:iam::${ACCT}:role/teams/Dev`, 'STANDARD', 'static[1]'],
      [ALICE, 'STANDARD', 'file[0]'],
    ]);
    expect(entries[1]?.policies).toEqual([
      { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy', scope: { type: 'namespace', namespaces: ['dev', 'team-*'] } },
    ]);
  });

  it('does not share the desired state\'s lists, so translation cannot change it', () => {
    const d = desired();
    const [, dev] = mappingsForAccessEntries(d);
    (dev?.accessPolicies?.[0]?.namespaces as string[]).push('prod');
    expect(d.mappings.roles[0]?.accessPolicies?.[0]?.namespaces).toEqual(['dev', 'team-*']);
  });

  it('gets the path through the merge: aws-auth writes the role without it, the access entry keeps it as the source wrote it', async () => {
    const sso = `arn:aws:iam::${ACCT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_1`;
    const merged = mergeScanResults([
      { source: 'static[0]', trust: 'operator', warnings: [], mappings: { users: [], roles: [{ rolearn: sso as RoleArn, username: 'admin', groups: [] }] } },
      {
        source: 'iam[1]', trust: 'tags', warnings: [], mappings: {
          users: [],
          roles: [{ rolearn: NODES as RoleArn, username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:nodes'], sourceArn: NODES_WITH_PATH, nodeType: 'node' }],
        },
      },
    ]);
    expect(merged.mappings.roles.map((r) => r.rolearn)).toEqual([`arn:aws:iam::${ACCT}:role/AWSReservedSSO_Admin_1`, NODES]);
    expect(mappingsForAccessEntries(merged).map((m) => [m.arn, m.source, m.fromTags, m.nodeType])).toEqual([
      [sso, 'static[0]', false, undefined],
      [NODES_WITH_PATH, 'iam[1]', true, 'node'],
    ]);
  });
});
