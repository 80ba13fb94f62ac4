import {
  GetAccountAuthorizationDetailsCommand, IAMClient, ListRolesCommand, ListRoleTagsCommand, ListUsersCommand, ListUserTagsCommand,
  type RoleDetail, type Tag, type UserDetail,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/config.js';
import { ScannerError } from '../../lambda/errors.js';
import { runScanners, sharedReads } from '../../lambda/scanners/index.js';
import { CALLER_ACCOUNT, configWith, deps, scanWith } from './helpers.js';

const iam = mockClient(IAMClient);
afterEach(() => iam.reset());

const ACCOUNT = '111122223333';
const tag = (key: string, Value: string, account = ACCOUNT, cluster = 'prod'): Tag => ({ Key: `eks/${account}/${cluster}/${key}`, Value });

function role(name: string, tags: Tag[], { path = '/', partition = 'aws', trust = undefined as string | undefined } = {}): RoleDetail {
  return { RoleName: name, Path: path, Arn: `arn:${partition}:iam::${ACCOUNT}:role${path}${name}`, Tags: tags, AssumeRolePolicyDocument: trust };
}

type Statement = Record<string, unknown>;
/** A trust policy as IAM returns it: URL-encoded JSON. */
const policy = (...Statement: Statement[]): string => encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement }));
const allow = (Principal: unknown, Action: unknown = 'sts:AssumeRole'): Statement => ({ Effect: 'Allow', Principal, Action });
const EC2 = allow({ Service: 'ec2.amazonaws.com' });
const FARGATE = allow({ Service: 'eks-fargate-pods.amazonaws.com' });
const OTHER_ACCOUNT = 'arn:aws:iam::444455556666:root';

/** Trust policies that let only the node type's service assume the role. */
const SERVICE_ONLY_TRUST: [string, string, string][] = [
  ['node', 'lets only EC2 assume it', policy(EC2)],
  ['node', 'names EC2 in a one-element array', policy(allow({ Service: ['ec2.amazonaws.com'] }))],
  ['node', 'names EC2 in China', policy(allow({ Service: ['ec2.amazonaws.com.cn', 'ec2.amazonaws.com'] }))],
  ['node', 'is one statement, not a list', encodeURIComponent(JSON.stringify({ Statement: EC2 }))],
  ['node', 'is form-encoded with + for spaces', new URLSearchParams({ d: JSON.stringify({ Statement: [{ Sid: 'EKS nodes', ...EC2 }] }) }).toString().slice(2)],
  ['node', 'is plain JSON', JSON.stringify({ Statement: [EC2] })],
  ['node', 'also denies everyone else', policy(EC2, { Effect: 'Deny', Principal: '*', Action: 'sts:AssumeRole' })],
  ['node', 'narrows EC2 with a condition', policy({ ...EC2, Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } })],
  ['node', 'lets another account only tag sessions', policy(EC2, allow({ AWS: OTHER_ACCOUNT }, 'sts:TagSession'))],
  ['fargateNode', 'lets only EKS Fargate assume it', policy(FARGATE)],
  ['fargateNode', 'lets EKS Fargate assume it and tag sessions', policy(allow({ Service: 'eks-fargate-pods.amazonaws.com' }, ['sts:AssumeRole', 'sts:TagSession']))],
];

/** Trust policies that let someone else assume the role, or cannot be read; and what the warning says. */
const OTHER_TRUST: [string, string, string | undefined, RegExp][] = [
  ['node', 'also trusts an account in the same statement', policy(allow({ Service: 'ec2.amazonaws.com', AWS: OTHER_ACCOUNT })), /trusts AWS principal "arn:aws:iam::444455556666:root"/],
  ['node', 'also trusts a role in another statement', policy(EC2, allow({ AWS: [`arn:aws:iam::${ACCOUNT}:role/dev`] })), /trusts AWS principal "arn:aws:iam::111122223333:role\/dev"/],
  ['node', 'trusts everyone', policy(allow('*')), /trusts principal "\*"/],
  ['node', 'trusts every AWS principal', policy(allow({ AWS: '*' })), /trusts AWS principal "\*"/],
  ['node', 'lets only EKS Fargate assume it', policy(FARGATE), /trusts Service principal "eks-fargate-pods.amazonaws.com"/],
  ['fargateNode', 'lets only EC2 assume it', policy(EC2), /lets only eks-fargate-pods.amazonaws.com assume the role, but it trusts Service principal "ec2.amazonaws.com"/],
  ['node', 'names another service in the array', policy(allow({ Service: ['ec2.amazonaws.com', 'lambda.amazonaws.com'] })), /trusts Service principal "lambda.amazonaws.com"/],
  ['node', 'trusts a SAML provider', policy(allow({ Federated: `arn:aws:iam::${ACCOUNT}:saml-provider/AWSSSO` }, ['sts:AssumeRoleWithSAML', 'sts:TagSession'])), /trusts Federated principal/],
  ['node', 'trusts an OIDC provider', policy(EC2, allow({ Federated: 'token.actions.githubusercontent.com' }, 'sts:AssumeRoleWithWebIdentity')), /trusts Federated principal "token.actions.githubusercontent.com"/],
  ['node', 'lets an account do sts:*', policy(EC2, allow({ AWS: OTHER_ACCOUNT }, 'sts:*')), /trusts AWS principal/],
  ['node', 'lets an account do *', policy(EC2, allow({ AWS: OTHER_ACCOUNT }, '*')), /trusts AWS principal/],
  ['node', 'lets an account do sts:AssumeRole*', policy(EC2, allow({ AWS: OTHER_ACCOUNT }, ['sts:TagSession', 'sts:AssumeRole*'])), /trusts AWS principal/],
  ['node', 'lets an account do STS:assumerole', policy(EC2, allow({ AWS: OTHER_ACCOUNT }, 'STS:assumerole')), /trusts AWS principal/],
  ['node', 'lets an account do all but sts:TagSession', policy(EC2, { Effect: 'Allow', Principal: { AWS: OTHER_ACCOUNT }, NotAction: 'sts:TagSession' }), /trusts AWS principal/],
  ['node', 'trusts everyone but a NotPrincipal', policy({ Effect: 'Allow', NotPrincipal: { AWS: OTHER_ACCOUNT }, Action: 'sts:AssumeRole' }), /trusts everyone but a NotPrincipal/],
  ['node', 'only denies', policy({ ...EC2, Effect: 'Deny' }), /lets no service assume the role/],
  ['node', 'is missing', undefined, /IAM returned no trust policy/],
  ['node', 'is empty', '', /IAM returned no trust policy/],
  ['node', 'is not JSON', 'not%20a%20policy', /not a policy document/],
  ['node', 'is broken URL encoding', '%7B%22Statement%22%3A%E0%A4%A', /not a policy document/],
  ['node', 'has no Statement', encodeURIComponent(JSON.stringify({ Version: '2012-10-17' })), /not a policy document/],
];
function user(name: string, tags: Tag[], { path = '/', partition = 'aws' } = {}): UserDetail {
  return { UserName: name, Path: path, Arn: `arn:${partition}:iam::${ACCOUNT}:user${path}${name}`, Tags: tags };
}

/** Serves the identities through GetAccountAuthorizationDetails, `perPage` at a time, as IAM does with Marker. */
function serveBulk(roles: RoleDetail[], users: UserDetail[] = [], perPage = 1000): { filters: string[][]; maxItems: (number | undefined)[] } {
  const seen = { filters: [] as string[][], maxItems: [] as (number | undefined)[] };
  iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input: { Filter?: string[]; Marker?: string; MaxItems?: number }) => {
    seen.filters.push([...(input.Filter ?? [])]);
    seen.maxItems.push(input.MaxItems);
    const all = [
      ...(input.Filter?.includes('User') ? users.map((u) => ({ u })) : []),
      ...(input.Filter?.includes('Role') ? roles.map((r) => ({ r })) : []),
    ];
    const start = Number(input.Marker ?? 0);
    const page = all.slice(start, start + perPage);
    const next = start + perPage < all.length ? String(start + perPage) : undefined;
    return {
      UserDetailList: page.flatMap((x) => ('u' in x ? [x.u] : [])),
      RoleDetailList: page.flatMap((x) => ('r' in x ? [x.r] : [])),
      IsTruncated: next !== undefined,
      Marker: next,
    };
  });
  return seen;
}

/** Serves the same identities through ListRoles/ListUsers + ListRoleTags/ListUserTags, paginated. */
function servePerIdentity(roles: RoleDetail[], users: UserDetail[] = [], perPage = 2): { tagCalls: string[]; prefixes: (string | undefined)[] } {
  const seen = { tagCalls: [] as string[], prefixes: [] as (string | undefined)[] };
  const page = <T>(items: T[], marker: string | undefined) => {
    const start = Number(marker ?? 0);
    const next = start + perPage < items.length ? String(start + perPage) : undefined;
    return { items: items.slice(start, start + perPage), IsTruncated: next !== undefined, Marker: next };
  };
  iam.on(ListRolesCommand).callsFake((input: { Marker?: string; PathPrefix?: string }) => {
    seen.prefixes.push(input.PathPrefix);
    const inPrefix = roles.filter((r) => r.Path?.startsWith(input.PathPrefix ?? '/'));
    const p = page(inPrefix, input.Marker);
    return { Roles: p.items.map(({ Tags: _t, ...r }) => r), IsTruncated: p.IsTruncated, Marker: p.Marker };
  });
  iam.on(ListUsersCommand).callsFake((input: { Marker?: string; PathPrefix?: string }) => {
    const inPrefix = users.filter((u) => u.Path?.startsWith(input.PathPrefix ?? '/'));
    const p = page(inPrefix, input.Marker);
    return { Users: p.items.map(({ Tags: _t, ...u }) => u), IsTruncated: p.IsTruncated, Marker: p.Marker };
  });
  iam.on(ListRoleTagsCommand).callsFake((input: { RoleName: string; Marker?: string }) => {
    seen.tagCalls.push(`role:${input.RoleName}`);
    const p = page(roles.find((r) => r.RoleName === input.RoleName)?.Tags ?? [], input.Marker);
    return { Tags: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
  });
  iam.on(ListUserTagsCommand).callsFake((input: { UserName: string; Marker?: string }) => {
    seen.tagCalls.push(`user:${input.UserName}`);
    const p = page(users.find((u) => u.UserName === input.UserName)?.Tags ?? [], input.Marker);
    return { Tags: p.items, IsTruncated: p.IsTruncated, Marker: p.Marker };
  });
  return seen;
}

const NODE_USERNAMES: Record<string, string> = { node: 'system:node:{{EC2PrivateDNSName}}', fargateNode: 'system:node:{{SessionName}}' };

const scan = (iamSection = '{}', extra = '') => scanWith(configWith(`- type: iam\n  iam: ${iamSection}\n`, extra));

describe.each([
  ['bulk', (roles: RoleDetail[], users: UserDetail[] = []) => serveBulk(roles, users, 2), '{mode: bulk}'],
  ['perIdentity', (roles: RoleDetail[], users: UserDetail[] = []) => servePerIdentity(roles, users, 2), '{mode: perIdentity, concurrency: 3}'],
])('iam scanner (%s mode)', (_mode, serve, section) => {
  it('maps tagged users and roles across several pages, ignoring untagged ones and other clusters', async () => {
    serve(
      [
        role('Admin', [tag('username', 'admin'), tag('groups', 'system:masters::ops')]),
        role('Untagged', []),
        role('OtherCluster', [tag('username', 'x', ACCOUNT, 'staging')]),
        role('OtherAccount', [tag('username', 'x', '444455556666')]),
        role('Dev', [tag('username', 'dev'), { Key: 'team', Value: 'a' }]),
      ],
      [user('alice', [tag('username', 'alice'), tag('groups', 'devs')]), user('bob', [])],
    );
    const d = await scan(section.replace('}', ', allowSystemGroups: [system:masters]}'));
    expect(d.mappings.roles).toEqual([
      { rolearn: 'arn:aws:iam::111122223333:role/Admin', username: 'admin', groups: ['system:masters', 'ops'], sourceArn: 'arn:aws:iam::111122223333:role/Admin' },
      { rolearn: 'arn:aws:iam::111122223333:role/Dev', username: 'dev', groups: [], sourceArn: 'arn:aws:iam::111122223333:role/Dev' },
    ]);
    expect(d.mappings.users).toEqual([
      { userarn: 'arn:aws:iam::111122223333:user/alice', username: 'alice', groups: ['devs'], sourceArn: 'arn:aws:iam::111122223333:user/alice' },
    ]);
    expect(d.warnings).toEqual([]);
    // Every entry is known to come from IAM tags, the least-trusted source.
    expect([...d.fromTags].sort()).toEqual(['arn:aws:iam::111122223333:role/admin', 'arn:aws:iam::111122223333:role/dev', 'arn:aws:iam::111122223333:user/alice']);
  });

  it.each([
    ['node', 'system:node:{{EC2PrivateDNSName}}', ['system:bootstrappers', 'system:nodes']],
    ['fargateNode', 'system:node:{{SessionName}}', ['system:bootstrappers', 'system:nodes', 'system:node-proxier']],
  ])('maps a role of type %s to the node entry whatever its other tags say, with its node type and ARN with path', async (type, username, groups) => {
    const trust = policy(type === 'node' ? EC2 : FARGATE);
    const tags = [tag('type', type), tag('username', 'ignored'), tag('groups', 'system:masters'), tag('accessPolicies', 'AmazonEKSClusterAdminPolicy')];
    serve([role('Nodes', tags, { trust, path: '/eks/' })]);
    const d = await scan(section);
    expect(d.mappings.roles).toEqual([
      { rolearn: 'arn:aws:iam::111122223333:role/Nodes', username, groups, sourceArn: 'arn:aws:iam::111122223333:role/eks/Nodes', nodeType: type },
    ]);
    expect(d.warnings).toEqual([]);
  });

  it.each(SERVICE_ONLY_TRUST)('maps a role of type %s whose trust policy %s', async (type, _what, trust) => {
    serve([role('Nodes', [tag('type', type)], { trust })]);
    const d = await scan(section);
    expect(d.mappings.roles.map((r) => [r.rolearn, r.username])).toEqual([['arn:aws:iam::111122223333:role/Nodes', NODE_USERNAMES[type]]]);
    expect(d.warnings).toEqual([]);
  });

  it.each(OTHER_TRUST)('skips a role of type %s whose trust policy %s, saying why', async (type, _what, trust, message) => {
    serve([role('Nodes', [tag('type', type)], { path: '/p/', trust }), role('Good', [tag('username', 'good')], { trust })]);
    const d = await scan(section);
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['good']);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatchObject({ source: 'iam[0]', subject: 'arn:aws:iam::111122223333:role/p/Nodes' });
    expect(d.warnings[0]?.message).toMatch(new RegExp(`^skipped: type "${type}" needs a trust policy that lets only `));
    expect(d.warnings[0]?.message).toMatch(message);
  });

  it('keeps the partition IAM returns, strips role paths silently and keeps user paths', async () => {
    serve(
      [
        role('AWSReservedSSO_Admin_0123456789abcdef', [tag('username', 'sso-admin')], { path: '/aws-reserved/sso.amazonaws.com/eu-west-1/', partition: 'aws-cn' }),
        role('Gov', [tag('username', 'gov')], { path: '/team/', partition: 'aws-us-gov' }),
      ],
      [user('carol', [tag('username', 'carol')], { path: '/people/eng/', partition: 'aws-cn' })],
    );
    const d = await scan(section);
    expect(d.mappings.roles.map((r) => r.rolearn)).toEqual([
      'arn:aws-cn:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef',
      'arn:aws-us-gov:iam::111122223333:role/Gov',
    ]);
    expect(d.mappings.users.map((u) => u.userarn)).toEqual(['arn:aws-cn:iam::111122223333:user/people/eng/carol']);
    // Access entries need the path the authenticator must not see: the mapping keeps the ARN IAM returned.
    expect(d.mappings.roles.map((r) => r.sourceArn)).toEqual([
      'arn:aws-cn:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef',
      'arn:aws-us-gov:iam::111122223333:role/team/Gov',
    ]);
    expect(d.mappings.users.map((u) => u.sourceArn)).toEqual(['arn:aws-cn:iam::111122223333:user/people/eng/carol']);
    // Paths on IAM roles are normal; only hand-written role ARNs with a path get a warning.
    expect(d.warnings).toEqual([]);
  });

  it('reads only identities under the path prefix', async () => {
    serve(
      [role('InTeams', [tag('username', 'a')], { path: '/teams/a/' }), role('Root', [tag('username', 'b')])],
      [user('u', [tag('username', 'u')], { path: '/teams/' }), user('v', [tag('username', 'v')])],
    );
    const d = await scan(section.replace('}', ', pathPrefix: /teams/}'));
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['a']);
    expect(d.mappings.users.map((u) => u.username)).toEqual(['u']);
  });

  it.each([
    ['disableUserScan', { users: [], roles: ['r'] }],
    ['disableRoleScan', { users: ['u'], roles: [] }],
  ])('skips a kind of identity when %s is set', async (flag, expected) => {
    serve([role('R', [tag('username', 'r')])], [user('U', [tag('username', 'u')])]);
    const d = await scan(section.replace('}', `, ${flag}: true}`));
    expect({ users: d.mappings.users.map((u) => u.username), roles: d.mappings.roles.map((r) => r.username) }).toEqual(expected);
  });

  it.each([
    ['empty group names', [tag('username', 'a'), tag('groups', 'a::::b')], /tag eks\/111122223333\/prod\/groups: empty group name/],
    ['an empty username', [tag('username', '')], /username: empty username/],
    ['a missing username', [tag('groups', 'devs')], /no eks\/111122223333\/prod\/username tag/],
    ['a control character', [tag('username', 'a\u0000b')], /control character/],
    ['YAML-breaking characters', [tag('username', 'a'), tag('groups', 'devs, system:masters')], /may only contain/],
    ['a flow mapping in the username', [tag('username', '{admin: x}')], /may only contain/],
    ['system:masters', [tag('username', 'a'), tag('groups', 'devs::system:masters')], /grants "system:masters", which IAM tags may not grant unless .*allowSystemGroups/],
    ['another system group', [tag('username', 'a'), tag('groups', 'system:nodes')], /grants "system:nodes"/],
    ['a system username', [tag('username', 'system:kube-controller-manager')], /"system:" usernames are reserved/],
    ['an EKS-internal username', [tag('username', 'eks:addon-manager')], /"eks:" usernames are reserved/],
    ['an AWS-reserved username', [tag('username', 'aws:anything')], /"aws:" usernames are reserved/],
    ['an Amazon-reserved username', [tag('username', 'amazon:anything')], /"amazon:" usernames are reserved/],
    ['an IAM-reserved username', [tag('username', 'iam:anything')], /"iam:" usernames are reserved/],
    ['an unknown type', [tag('type', 'admin'), tag('username', 'a')], /unknown type "admin"/],
    // The authenticator renders templates before using the name: the assumer (or, for a user, nobody) picks the session name.
    ['a username a template turns into system:', [tag('username', '{{SessionName}}system:kube-controller-manager')],
      /template before its first ":".*can render "system:kube-controller-manager"/],
    ['a username whose prefix the session name picks', [tag('username', '{{SessionName}}:kube-scheduler')], /can render "system:kube-scheduler"/],
    ['a username a template completes into system:', [tag('username', 'sys{{SessionName}}:x')], /can render "system:x"/],
    ['a template that decides the prefix however harmless', [tag('username', 'x{{AccountID}}y:z')], /template before its first ":"/],
    ['a templated system username', [tag('username', 'system:node:{{EC2PrivateDNSName}}')], /"system:" usernames are reserved/],
    ['a templated EKS username', [tag('username', 'eks:{{SessionName}}')], /"eks:" usernames are reserved/],
    ['a template in a group', [tag('username', 'a'), tag('groups', '{{SessionName}}:masters')], /groups: group name .* contains a template/],
    ...['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf'].map((type): [string, Tag[], RegExp] =>
      [`the type ${type}, a JavaScript prototype member`, [tag('type', type), tag('username', 'a')], new RegExp(`unknown type "${type}"`)]),
    ['the cluster admin access policy', [tag('username', 'a'), tag('accessPolicies', 'AmazonEKSViewPolicy::AmazonEKSClusterAdminPolicy')],
      /tag eks\/111122223333\/prod\/accessPolicies: grants AmazonEKSClusterAdminPolicy, which IAM tags may not grant unless the iam scanner's allowAccessPolicies lists it/],
    ['the admin access policy in a namespace', [tag('username', 'a'), tag('accessPolicies', 'AmazonEKSAdminPolicy/dev')], /grants AmazonEKSAdminPolicy, which IAM tags may not/],
    ['an access policy name with other characters', [tag('username', 'a'), tag('accessPolicies', 'Amazon.EKS_ViewPolicy')],
      /accessPolicies: access policy "Amazon.EKS_ViewPolicy" is not an access policy name/],
    ['a namespace that is not a DNS label', [tag('username', 'a'), tag('accessPolicies', 'AmazonEKSViewPolicy/Dev')], /"Dev" is not a namespace name/],
    ['an empty access policy item', [tag('username', 'a'), tag('accessPolicies', 'AmazonEKSViewPolicy::')], /accessPolicies: .* has an empty item/],
  ])('skips only the identity whose tags carry %s, with a warning naming it', async (_what, badTags, message) => {
    serve([role('Bad', badTags, { path: '/p/' }), role('Good', [tag('username', 'good')])]);
    const d = await scan(section);
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['good']);
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatchObject({ source: 'iam[0]', subject: 'arn:aws:iam::111122223333:role/p/Bad' });
    expect(d.warnings[0]?.message).toMatch(message);
  });

  it('maps a username of templates only, or with a template after a literal colon', async () => {
    serve(
      [role('Sso', [tag('username', '{{SessionName}}')]), role('Dev', [tag('username', 'dev:{{SessionName}}')])],
      [user('u', [tag('username', 'user-{{AccountID}}')])],
    );
    const d = await scan(section);
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['dev:{{SessionName}}', '{{SessionName}}']);
    expect(d.mappings.users.map((u) => u.username)).toEqual(['user-{{AccountID}}']);
    expect(d.warnings).toEqual([]);
  });

  it('refuses a node type on a user', async () => {
    serve([], [user('u', [tag('type', 'node')])]);
    const d = await scan(section);
    expect(d.mappings.users).toEqual([]);
    expect(d.warnings[0]?.message).toMatch(/type "node" applies only to roles/);
  });

  it('lets a system group through when allowSystemGroups lists it, and no other', async () => {
    serve([
      role('Admin', [tag('username', 'admin'), tag('groups', 'system:masters')]),
      role('Nodes', [tag('username', 'n'), tag('groups', 'system:nodes')]),
    ]);
    const d = await scan(section.replace('}', ', allowSystemGroups: [system:masters]}'));
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['admin']);
    expect(d.warnings.map((w) => w.subject)).toEqual(['arn:aws:iam::111122223333:role/Nodes']);
  });

  it('maps the accessPolicies tag: policies joined by the group separator, each at cluster scope or in the namespaces after it', async () => {
    serve(
      [role('Dev', [tag('username', 'dev'), tag('accessPolicies', 'AmazonEKSViewPolicy::AmazonEKSEditPolicy/dev/staging')], { path: '/teams/' })],
      [user('alice', [tag('username', 'alice'), tag('accessPolicies', '')])],
    );
    const d = await scan(section);
    expect(d.mappings.roles).toEqual([{
      rolearn: 'arn:aws:iam::111122223333:role/Dev', username: 'dev', groups: [], sourceArn: 'arn:aws:iam::111122223333:role/teams/Dev',
      accessPolicies: [{ policy: 'AmazonEKSViewPolicy' }, { policy: 'AmazonEKSEditPolicy', namespaces: ['dev', 'staging'] }],
    }]);
    expect(d.mappings.users.map((u) => u.accessPolicies)).toEqual([[]]);
    expect(d.warnings).toEqual([]);
  });

  it('lets the accessPolicies tag grant an admin policy when allowAccessPolicies lists it, and no other', async () => {
    serve([
      role('Admin', [tag('username', 'admin'), tag('accessPolicies', 'AmazonEKSAdminPolicy/dev')]),
      role('Root', [tag('username', 'root'), tag('accessPolicies', 'AmazonEKSClusterAdminPolicy')]),
    ]);
    const d = await scan(section.replace('}', ', allowAccessPolicies: [AmazonEKSAdminPolicy]}'));
    expect(d.mappings.roles.map((r) => [r.username, r.accessPolicies])).toEqual([['admin', [{ policy: 'AmazonEKSAdminPolicy', namespaces: ['dev'] }]]]);
    expect(d.warnings.map((w) => w.subject)).toEqual(['arn:aws:iam::111122223333:role/Root']);
  });

  it('reads the accessPolicies tag with a custom group separator, and refuses it when the separator holds a slash', async () => {
    serve([role('R', [tag('username', 'r'), tag('accessPolicies', 'AmazonEKSViewPolicy,AmazonEKSEditPolicy/dev')])]);
    const d = await scan(section.replace('}', ', groupSeparator: ","}'));
    expect(d.mappings.roles[0]?.accessPolicies).toEqual([{ policy: 'AmazonEKSViewPolicy' }, { policy: 'AmazonEKSEditPolicy', namespaces: ['dev'] }]);
    iam.reset();
    serve([role('R', [tag('username', 'r'), tag('accessPolicies', 'AmazonEKSViewPolicy//dev')])]);
    const slashed = await scan(section.replace('}', ', groupSeparator: "//"}'));
    expect(slashed.mappings.roles).toEqual([]);
    expect(slashed.warnings[0]?.message).toMatch(/accessPolicies: cannot be read: the iam scanner's groupSeparator "\/\/" contains "\/"/);
  });

  it('honours a custom group separator', async () => {
    serve([role('R', [tag('username', 'r'), tag('groups', 'a,b')])]);
    const d = await scan(section.replace('}', ', groupSeparator: ","}'));
    expect(d.mappings.roles[0]?.groups).toEqual(['a', 'b']);
  });

  it('uses clusterName and clusterAccountID from the scanner over the cluster section', async () => {
    serve([role('R', [tag('username', 'r', '444455556666', 'other')])]);
    const d = await scan(section.replace('}', ', clusterName: other, clusterAccountID: "444455556666"}'));
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['r']);
  });

  it('falls back to the caller account when no account ID is configured', async () => {
    serve([role('R', [tag('username', 'r', CALLER_ACCOUNT)])]);
    const config = parseConfig(`cluster: {name: prod}\nscanners: [{type: iam, iam: ${section}}]`, 'test.yaml');
    const d = await scanWith(config);
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['r']);
  });

  it('fails the run naming the scanner when IAM refuses', async () => {
    iam.onAnyCommand().rejects(Object.assign(new Error('User is not authorized to perform: iam:GetAccountAuthorizationDetails'), { name: 'AccessDenied' }));
    await expect(scan(section)).rejects.toThrow(ScannerError);
    await expect(scan(section)).rejects.toThrow(/^scanner "iam\[0\]": AccessDenied: User is not authorized/);
  });
});

describe('iam scanner calls', () => {
  it('asks GetAccountAuthorizationDetails for only the requested kinds, 1,000 per page', async () => {
    const seen = serveBulk([role('R', [])], [], 1);
    await scan('{disableUserScan: true}');
    expect(seen.filters).toEqual([['Role']]);
    expect(seen.maxItems).toEqual([1000]);
  });

  it('reads the account once for every scanner that reads it the same way, and again for another endpoint', async () => {
    serveBulk([role('A', [tag('username', 'a', ACCOUNT, 'blue')]), role('B', [tag('username', 'b', ACCOUNT, 'green')])], [], 1);
    const config = configWith([
      '  - {type: iam, iam: {clusterName: blue}}',
      '  - {type: iam, iam: {clusterName: green}}',
      '  - {type: iam, aws: {endpoints: {iam: "https://iam.example.test"}}, iam: {clusterName: green}}',
    ].join('\n'));
    const d = await runScanners(config, { ...deps(config), shared: sharedReads() });
    expect(d.mappings.roles.map((r) => r.username).sort()).toEqual(['a', 'b']);
    // Two pages (one role each) per distinct read: the two default-endpoint scanners share theirs.
    expect(iam.commandCalls(GetAccountAuthorizationDetailsCommand)).toHaveLength(4);
  });

  it('makes no IAM call when both scans are disabled', async () => {
    serveBulk([]);
    await scan('{disableUserScan: true, disableRoleScan: true}');
    expect(iam.calls()).toHaveLength(0);
  });

  it('fetches every page of tags per identity and passes the path prefix to the list calls', async () => {
    const manyTags = [tag('username', 'r'), { Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }, tag('groups', 'x::y')];
    const roles = Array.from({ length: 7 }, (_, i) => role(`R${i}`, i === 3 ? manyTags : [], { path: '/teams/' }));
    const seen = servePerIdentity(roles, [], 2);
    const d = await scan('{mode: perIdentity, concurrency: 2, pathPrefix: /teams/, disableUserScan: true}');
    expect(d.mappings.roles).toEqual([
      { rolearn: 'arn:aws:iam::111122223333:role/R3', username: 'r', groups: ['x', 'y'], sourceArn: 'arn:aws:iam::111122223333:role/teams/R3' },
    ]);
    expect(seen.prefixes.every((p) => p === '/teams/')).toBe(true);
    expect(seen.tagCalls.filter((c) => c === 'role:R3')).toHaveLength(2);
    expect(new Set(seen.tagCalls).size).toBe(7);
  });

  it('keeps at most `concurrency` tag requests in flight, and does run them in parallel', async () => {
    servePerIdentity(Array.from({ length: 12 }, (_, i) => role(`R${i}`, [])), [], 5);
    let inFlight = 0;
    let most = 0;
    iam.on(ListRoleTagsCommand).callsFake(async () => {
      most = Math.max(most, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return { Tags: [] };
    });
    await scan('{mode: perIdentity, concurrency: 3, disableUserScan: true}');
    expect(most).toBe(3);
    expect(iam.commandCalls(ListRoleTagsCommand)).toHaveLength(12);
  });
});
