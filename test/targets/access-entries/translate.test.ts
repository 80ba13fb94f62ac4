import { GetRoleCommand, IAMClient, NoSuchEntityException } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { EksAuthSyncError } from '../../../lambda/errors.js';
import { iamRoleResolver } from '../../../lambda/targets/access-entries/role-paths.js';
import {
  translateMappings, type DesiredAccessEntry, type MappingForAccessEntry, type TranslateOptions,
} from '../../../lambda/targets/access-entries/translate.js';

const ACCT = '111122223333';
const OTHER = '444455556666';
const ADMIN = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';

/** Roles IAM knows, path-less ARN (lowercased) → ARN with its path. */
const KNOWN_ROLES = new Map([
  [`arn:aws:iam::${ACCT}:role/admin`, `arn:aws:iam::${ACCT}:role/Admin`],
  [`arn:aws:iam::${ACCT}:role/awsreservedsso_admin_abc`, `arn:aws:iam::${ACCT}:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_abc`],
  [`arn:aws:iam::${ACCT}:role/nodes`, `arn:aws:iam::${ACCT}:role/Nodes`],
]);

function options(over: Partial<TranslateOptions> = {}): TranslateOptions {
  return {
    partition: 'aws',
    clusterAccountId: ACCT,
    resolveRole: (arn) => Promise.resolve(KNOWN_ROLES.get(arn.toLowerCase())),
    ...over,
  };
}

function role(over: Partial<MappingForAccessEntry> = {}): MappingForAccessEntry {
  return { kind: 'role', arn: `arn:aws:iam::${ACCT}:role/Admin`, username: 'admin', groups: [], source: 'static', fromTags: false, ...over };
}

async function one(m: MappingForAccessEntry, over: Partial<TranslateOptions> = {}) {
  const t = await translateMappings([m], options(over));
  return { entry: t.entries[0], warning: t.warnings[0]?.message };
}

describe('translateMappings: one row of the table per case', () => {
  const entryCases: { name: string; mapping: MappingForAccessEntry; opts?: Partial<TranslateOptions>; want: Partial<DesiredAccessEntry>; why?: RegExp }[] = [
    {
      name: 'a role ARN with its path is used as written, without a lookup',
      mapping: role({ arn: `arn:aws:iam::${ACCT}:role/teams/dev/Dev` }),
      opts: { resolveRole: () => Promise.reject(new Error('must not be called')) },
      want: { principalArn: `arn:aws:iam::${ACCT}:role/teams/dev/Dev` as DesiredAccessEntry['principalArn'], type: 'STANDARD', username: 'admin' },
    },
    {
      name: 'a path-less role ARN gets its path from IAM, and the plan says so',
      mapping: role({ arn: `arn:aws:iam::${ACCT}:role/AWSReservedSSO_Admin_abc` }),
      want: { principalArn: KNOWN_ROLES.get(`arn:aws:iam::${ACCT}:role/awsreservedsso_admin_abc`) as DesiredAccessEntry['principalArn'] },
      why: /role path \/aws-reserved\/sso\.amazonaws\.com\/eu-west-1\/ added/,
    },
    {
      name: 'a user ARN keeps its path',
      mapping: { kind: 'user', arn: `arn:aws:iam::${ACCT}:user/people/alice`, username: 'alice', groups: ['devs'], source: 'file', fromTags: false },
      want: { principalArn: `arn:aws:iam::${ACCT}:user/people/alice` as DesiredAccessEntry['principalArn'], kubernetesGroups: ['devs'] },
    },
    {
      name: 'no username leaves EKS\'s default, and says so',
      mapping: (() => { const m = role(); delete m.username; return m; })(),
      want: { kubernetesGroups: [] },
      why: /EKS's default/,
    },
    {
      name: 'a template after a colon is kept',
      mapping: role({ username: 'admin:{{SessionName}}' }),
      want: { username: 'admin:{{SessionName}}' },
    },
    {
      name: 'system:masters becomes the cluster admin policy at cluster scope and no group',
      mapping: role({ groups: ['system:masters', 'ops'] }),
      want: { kubernetesGroups: ['ops'], policies: [{ policyArn: ADMIN, scope: { type: 'cluster' } }] },
      why: /system:masters → AmazonEKSClusterAdminPolicy/,
    },
    {
      name: 'system:masters from tags is granted when the iam scanner allows it',
      mapping: role({ groups: ['system:masters'], fromTags: true, source: 'iam[0]' }),
      opts: { tagsMayGrantClusterAdmin: true },
      want: { policies: [{ policyArn: ADMIN, scope: { type: 'cluster' } }] },
    },
    {
      name: 'groups keep their order, duplicates removed',
      mapping: role({ groups: ['b', 'a', 'b'] }),
      want: { kubernetesGroups: ['b', 'a'] },
    },
    {
      name: 'node becomes EC2_LINUX with no username and no groups',
      mapping: role({ arn: `arn:aws:iam::${ACCT}:role/Nodes`, nodeType: 'node', username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'] }),
      want: { type: 'EC2_LINUX', kubernetesGroups: [], policies: [] },
      why: /node type "node" → EC2_LINUX/,
    },
    {
      name: 'fargateNode becomes FARGATE_LINUX',
      mapping: role({ arn: `arn:aws:iam::${ACCT}:role/Nodes`, nodeType: 'fargateNode', groups: ['system:node-proxier'] }),
      want: { type: 'FARGATE_LINUX', kubernetesGroups: [] },
    },
    {
      name: 'an access policy without namespaces applies to the cluster, in the cluster\'s partition',
      mapping: role({ arn: 'arn:aws-cn:iam::111122223333:role/ops/Ops', accessPolicies: [{ policy: 'AmazonEKSViewPolicy' }] }),
      opts: { partition: 'aws-cn' },
      want: { policies: [{ policyArn: 'arn:aws-cn:eks::aws:cluster-access-policy/AmazonEKSViewPolicy', scope: { type: 'cluster' } }] },
    },
    {
      name: 'an access policy with namespaces applies in them, wildcards allowed, sorted',
      mapping: role({ accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['team-*', 'dev'] }] }),
      want: { policies: [{ policyArn: VIEW, scope: { type: 'namespace', namespaces: ['dev', 'team-*'] } }] },
    },
    {
      name: 'the same policy twice joins its namespaces',
      mapping: role({ accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['b'] }, { policy: 'AmazonEKSViewPolicy', namespaces: ['a'] }] }),
      want: { policies: [{ policyArn: VIEW, scope: { type: 'namespace', namespaces: ['a', 'b'] } }] },
      why: /namespaces joined: a, b/,
    },
    {
      name: 'the same policy at namespace and cluster scope becomes cluster scope',
      mapping: role({ accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['b'] }, { policy: 'AmazonEKSViewPolicy' }] }),
      want: { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] },
      why: /cluster scope, which covers every namespace/,
    },
  ];
  it.each(entryCases)('$name', async ({ mapping, opts, want, why }) => {
    const { entry, warning } = await one(mapping, opts);
    expect(warning).toBeUndefined();
    expect(entry).toMatchObject(want);
    if (why) expect(entry?.why.join('\n')).toMatch(why);
    expect(entry?.source).toBe(mapping.source);
  });

  it('gives a node entry no username even when the mapping had one', async () => {
    const { entry } = await one(role({ arn: `arn:aws:iam::${ACCT}:role/Nodes`, nodeType: 'node', username: 'system:node:{{EC2PrivateDNSName}}' }));
    expect(entry).not.toHaveProperty('username');
  });

  const skipCases: { name: string; mapping: MappingForAccessEntry; opts?: Partial<TranslateOptions>; warning: RegExp }[] = [
    { name: 'a path-less role IAM does not know', mapping: role({ arn: `arn:aws:iam::${ACCT}:role/Gone` }), warning: /iam:GetRole found no such role/ },
    { name: 'an STS session ARN', mapping: role({ arn: `arn:aws:sts::${ACCT}:assumed-role/Admin/alice` }), warning: /STS session ARNs/ },
    { name: 'a service-linked role', mapping: role({ arn: `arn:aws:iam::${ACCT}:role/aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS` }), warning: /service-linked/ },
    ...['system:', 'eks:', 'aws:', 'amazon:', 'iam:'].map((p) => ({
      name: `a username starting with ${p}`, mapping: role({ username: `${p}someone` }), warning: new RegExp(`starting with ${p}`),
    })),
    { name: 'a template before any colon', mapping: role({ username: '{{SessionName}}:admin' }), warning: /template before its first ":".*can render "system:admin"/ },
    { name: 'a template with no colon', mapping: role({ username: 'admin-{{SessionNameRaw}}' }), warning: /only after a colon/ },
    { name: 'a template access entries do not render', mapping: role({ username: 'admin:{{AccountID}}' }), warning: /not \{\{AccountID\}\}/ },
    { name: 'another system: group', mapping: role({ groups: ['ops', 'system:nodes'] }), warning: /group "system:nodes": EKS refuses/ },
    { name: 'system:masters from tags the scanner does not allow', mapping: role({ groups: ['system:masters'], fromTags: true }), warning: /IAM tags may not grant system:masters/ },
    {
      name: 'the cluster admin policy from tags the scanner does not allow',
      mapping: role({ fromTags: true, accessPolicies: [{ policy: 'AmazonEKSClusterAdminPolicy' }] }),
      warning: /IAM tags may not grant AmazonEKSClusterAdminPolicy/,
    },
    { name: 'a node type on a user', mapping: { ...role(), kind: 'user', arn: `arn:aws:iam::${ACCT}:user/n`, nodeType: 'node' }, warning: /applies only to roles/ },
    { name: 'a node role of another account', mapping: role({ arn: `arn:aws:iam::${OTHER}:role/x/Nodes`, nodeType: 'node' }), warning: /cluster's account 111122223333, not 444455556666/ },
    { name: 'a node type with access policies', mapping: role({ nodeType: 'fargateNode', accessPolicies: [{ policy: 'AmazonEKSViewPolicy' }] }), warning: /FARGATE_LINUX entry takes no access policies/ },
    { name: 'a policy name that is not one', mapping: role({ accessPolicies: [{ policy: 'View/../Admin' }] }), warning: /is not an access policy name/ },
    { name: 'an empty namespaces list', mapping: role({ accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: [] }] }), warning: /empty namespaces list/ },
    { name: 'a namespace that is not one', mapping: role({ accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['Dev Team'] }] }), warning: /"Dev Team" is not a namespace name/ },
  ];
  it.each(skipCases)('skips, with a warning naming source and ARN: $name', async ({ mapping, opts, warning }) => {
    const t = await translateMappings([mapping, role({ arn: `arn:aws:iam::${ACCT}:role/other/Kept`, source: 'later' })], options(opts));
    expect(t.entries.map((e) => e.source)).toEqual(['later']);
    expect(t.warnings).toEqual([{ source: mapping.source, subject: mapping.arn, message: expect.stringMatching(warning) }]);
  });

  it('keeps the first of two mappings that resolve to one principal and names the source it kept', async () => {
    const t = await translateMappings([
      role({ arn: `arn:aws:iam::${ACCT}:role/admin`, source: 'ssm' }),
      role({ arn: `arn:aws:iam::${ACCT}:role/Admin`, source: 'file', username: 'other' }),
    ], options());
    expect(t.entries).toHaveLength(1);
    expect(t.entries[0]).toMatchObject({ source: 'ssm', username: 'admin' });
    expect(t.warnings[0]).toMatchObject({ source: 'file', message: expect.stringMatching(/already mapped by "ssm"/) });
  });

  it('looks each path-less role up once, however many mappings name it', async () => {
    const asked: string[] = [];
    const t = await translateMappings([
      role({ arn: `arn:aws:iam::${ACCT}:role/Admin` }),
      role({ arn: `arn:aws:iam::${ACCT}:role/admin`, source: 'ssm' }),
      role({ arn: `arn:aws:iam::${ACCT}:role/Nodes`, nodeType: 'node' }),
    ], options({ resolveRole: (arn) => { asked.push(arn); return Promise.resolve(KNOWN_ROLES.get(arn.toLowerCase())); } }));
    expect(asked).toEqual([`arn:aws:iam::${ACCT}:role/Admin`, `arn:aws:iam::${ACCT}:role/Nodes`]);
    expect(t.entries.map((e) => e.principalArn)).toEqual([`arn:aws:iam::${ACCT}:role/Admin`, `arn:aws:iam::${ACCT}:role/Nodes`]);
  });
});

describe('iamRoleResolver', () => {
  const iam = mockClient(IAMClient);
  afterAll(() => iam.restore());
  beforeEach(() => iam.reset());

  it('returns the role ARN with its path, asking IAM once per role', async () => {
    const withPath = `arn:aws:iam::${ACCT}:role/teams/Admin`;
    iam.on(GetRoleCommand, { RoleName: 'Admin' }).resolves({ Role: { Arn: withPath, RoleName: 'Admin', Path: '/teams/', RoleId: 'AROA', CreateDate: new Date() } });
    const resolve = iamRoleResolver(new IAMClient({ region: 'eu-west-1' }));
    expect(await resolve(`arn:aws:iam::${ACCT}:role/Admin`)).toBe(withPath);
    expect(await resolve(`arn:aws:iam::${ACCT}:role/admin`)).toBe(withPath);
    expect(iam.commandCalls(GetRoleCommand)).toHaveLength(1);
  });

  it('answers undefined for a role IAM does not know', async () => {
    iam.on(GetRoleCommand).rejects(new NoSuchEntityException({ message: 'The role with name Gone cannot be found.', $metadata: {} }));
    expect(await iamRoleResolver(new IAMClient({ region: 'eu-west-1' }))(`arn:aws:iam::${ACCT}:role/Gone`)).toBeUndefined();
  });

  it('answers undefined, not the caller\'s same-named role, for a role of another account', async () => {
    iam.on(GetRoleCommand).resolves({ Role: { Arn: `arn:aws:iam::${ACCT}:role/x/Admin`, RoleName: 'Admin', Path: '/x/', RoleId: 'AROA', CreateDate: new Date() } });
    expect(await iamRoleResolver(new IAMClient({ region: 'eu-west-1' }))(`arn:aws:iam::${OTHER}:role/Admin`)).toBeUndefined();
  });

  it('fails naming the role and iam:GetRole when IAM refuses', async () => {
    iam.on(GetRoleCommand).rejects(Object.assign(new Error('not authorized to perform iam:GetRole'), { name: 'AccessDenied' }));
    const err = await iamRoleResolver(new IAMClient({ region: 'eu-west-1' }))(`arn:aws:iam::${ACCT}:role/Admin`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EksAuthSyncError);
    expect((err as Error).message).toMatch(/iam:GetRole for arn:aws:iam::111122223333:role\/Admin .*AccessDenied/);
  });
});
