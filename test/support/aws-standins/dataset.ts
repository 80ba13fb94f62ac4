import { mulberry32 } from './server.js';

/** An IAM tag as IAM returns it. */
export interface IamTag {
  Key: string;
  Value: string;
}

/** An IAM role or user as the IAM stand-in stores it. */
export interface IamIdentity {
  name: string;
  /** `/`, or e.g. `/aws-reserved/sso.amazonaws.com/eu-west-1/`; always starts and ends with `/`. */
  path: string;
  /** `AROA…` for roles, `AIDA…` for users. */
  id: string;
  createDate: Date;
  tags: IamTag[];
}

export interface IamRole extends IamIdentity {
  /** URL-encoded JSON, as IAM returns it. */
  assumeRolePolicyDocument: string;
}

export interface IamUser extends IamIdentity {
  /** The names of the IAM groups the user is in (GetAccountAuthorizationDetails' GroupList). */
  groups?: string[];
}

/** An IAM group; its members are the users naming it in their `groups`. */
export interface IamGroup {
  name: string;
  /** `/` or e.g. `/teams/`. */
  path: string;
  /** `AGPA…`. */
  id: string;
  createDate: Date;
}

/** The IAM side of one AWS account. */
export interface AwsAccount {
  accountId: string;
  /** `aws`, `aws-cn` or `aws-us-gov`. */
  partition: string;
  roles: IamRole[];
  users: IamUser[];
  /** Absent: the account has no IAM groups. */
  groups?: IamGroup[];
}

/** An SSM parameter the SSM stand-in serves. */
export interface SsmParameter {
  name: string;
  type: 'String' | 'SecureString' | 'StringList';
  value: string;
  version?: number;
}

/** What a generated account holds, so tests and the bench can check figures against it. */
export interface DatasetSummary {
  roles: number;
  users: number;
  /** Roles carrying at least one `eks/{account}/{cluster}/…` tag for the dataset's cluster. */
  taggedRoles: number;
  taggedUsers: number;
  /** Tagged roles by `type` tag: `node`, `fargateNode`, `user` (`user` counts roles without the tag too). */
  taggedRolesByType: { node: number; fargateNode: number; user: number };
  /** Tagged identities whose tag values are planted to be refused (system: groups, empty names). */
  invalidTagged: number;
  /** Roles under `/aws-reserved/sso.amazonaws.com/`, tagged or not. */
  ssoRoles: number;
  taggedSsoRoles: number;
  /** Identities whose path is not `/`. */
  withPath: number;
  /** Identities tagged for another cluster or account only (the tool must ignore them). */
  taggedForOthers: number;
}

/** A generated or preset account with the cluster its tags address. */
export interface Dataset {
  account: AwsAccount;
  clusterName: string;
  region: string;
  ssmParameters: SsmParameter[];
  summary: DatasetSummary;
}

/** Options for `generateDataset`. */
export interface DatasetOptions {
  roles: number;
  users: number;
  /** @default 1 */
  seed?: number;
  /** @default '123456789012' */
  accountId?: string;
  /** @default 'aws' */
  partition?: string;
  /** @default 'bench' */
  clusterName?: string;
  /** @default 'eu-west-1' */
  region?: string;
  /** Share of identities tagged for the cluster. @default 0.1 */
  taggedShare?: number;
  /** Share of tagged identities whose tags are planted to be refused. @default 0.02 */
  invalidShare?: number;
  /**
   * IAM groups `group-00`, `group-01`, …, each user in up to three of them. Drawn from a second
   * random stream, so the rest of the dataset is the same with or without them. @default 0
   */
  groups?: number;
  /**
   * Permission sets `PermissionSet00`, … with one Identity Center role each (as an account has),
   * untagged, under the region's SSO path; from the second random stream too. @default 0
   */
  permissionSets?: number;
}

const TEAMS = ['payments', 'search', 'checkout', 'platform', 'data', 'identity', 'mobile', 'billing', 'ml', 'growth'];
const PURPOSES = ['api', 'worker', 'lambda', 'batch', 'etl', 'deploy', 'reader', 'writer', 'cron', 'gateway'];
const PERMISSION_SETS = ['AdministratorAccess', 'PowerUserAccess', 'ReadOnlyAccess', 'PlatformAdmins', 'Developers', 'DataScientists', 'Billing'];
const SERVICES = ['autoscaling', 'eks', 'rds', 'elasticloadbalancing', 'ecs', 'organizations', 'support', 'trustedadvisor'];
const GROUPS = ['developers', 'viewers', 'deployers', 'sre', 'data-eng', 'auditors'];
const FIRST = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj', 'olivia', 'peggy'];
const LAST = ['smith', 'jones', 'garcia', 'müller', 'tanaka', 'okafor', 'silva', 'novak', 'kim', 'larsen'];
const INVALID_GROUPS = ['system:masters', 'developers::::viewers', 'system:authenticated'];
const SSO_PATH = (region: string) => `/aws-reserved/sso.amazonaws.com/${region}/`;

const trust = (principal: string): string =>
  encodeURIComponent(
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: principal }, Action: 'sts:AssumeRole' }] }),
  );
// Shared strings: thousands of roles reference a handful of documents, keeping the dataset small.
const TRUST = {
  ec2: trust('ec2.amazonaws.com'),
  lambda: trust('lambda.amazonaws.com'),
  fargate: trust('eks-fargate-pods.amazonaws.com'),
  sso: encodeURIComponent(
    JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Federated: 'arn:aws:iam::123456789012:saml-provider/AWSSSO' }, Action: ['sts:AssumeRoleWithSAML', 'sts:TagSession'] }] }),
  ),
};

/** The ARN IAM reports for a role (with its path). */
export function roleArn(account: AwsAccount, role: IamIdentity): string {
  return `arn:${account.partition}:iam::${account.accountId}:role${role.path}${role.name}`;
}

/** The ARN IAM reports for a user (with its path). */
export function userArn(account: AwsAccount, user: IamIdentity): string {
  return `arn:${account.partition}:iam::${account.accountId}:user${user.path}${user.name}`;
}

/**
 * A deterministic account: the same options always give the same roles, users and tags.
 * About `taggedShare` of the identities carry `eks/{account}/{cluster}/username|groups|type`
 * tags (some roles as `node` or `fargateNode`, some Identity Center roles), a few carry values
 * that must be refused, and some are tagged only for another cluster.
 *
 * @example
 * const { account, summary } = generateDataset({ roles: 5000, users: 2000, seed: 7 });
 */
export function generateDataset(opts: DatasetOptions): Dataset {
  const rand = mulberry32(opts.seed ?? 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const chance = (p: number): boolean => rand() < p;
  const accountId = opts.accountId ?? '123456789012';
  const clusterName = opts.clusterName ?? 'bench';
  const region = opts.region ?? 'eu-west-1';
  const taggedShare = opts.taggedShare ?? 0.1;
  const invalidShare = opts.invalidShare ?? 0.02;
  const prefix = `eks/${accountId}/${clusterName}/`;
  const uniqueId = (kind: 'AROA' | 'AIDA'): string => {
    let s = kind;
    for (let i = 0; i < 17; i++) s += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[Math.floor(rand() * 32)];
    return s;
  };
  const created = (): Date => new Date(Date.UTC(2018, 0, 1) + Math.floor(rand() * 7 * 365 * 86400) * 1000);
  const noise = (tags: IamTag[], team: string): void => {
    if (chance(0.6)) tags.push({ Key: 'Team', Value: team }, { Key: 'CostCenter', Value: `cc-${100 + Math.floor(rand() * 900)}` });
    if (chance(0.3)) tags.push({ Key: 'Environment', Value: pick(['prod', 'staging', 'dev']) });
  };
  const groups = (): string => {
    const n = 1 + Math.floor(rand() * 3);
    return [...new Set(Array.from({ length: n }, () => pick(GROUPS)))].join('::');
  };
  /** Tags the identity for the cluster, or now and then for someone else. */
  const clusterTags = (tags: IamTag[], username: string, roleType?: 'node' | 'fargateNode' | 'user' | undefined): void => {
    if (!chance(taggedShare)) {
      if (chance(0.03)) {
        const other = chance(0.5) ? `eks/${accountId}/other-cluster/` : `eks/210987654321/${clusterName}/`;
        tags.push({ Key: `${other}username`, Value: username }, { Key: `${other}groups`, Value: groups() });
      }
    } else if (roleType === 'node' || roleType === 'fargateNode') {
      tags.push({ Key: `${prefix}type`, Value: roleType });
    } else if (chance(invalidShare)) {
      if (chance(0.3)) tags.push({ Key: `${prefix}username`, Value: '' });
      else tags.push({ Key: `${prefix}username`, Value: username }, { Key: `${prefix}groups`, Value: pick(INVALID_GROUPS) });
    } else {
      if (roleType === 'user' && chance(0.5)) tags.push({ Key: `${prefix}type`, Value: 'user' });
      tags.push({ Key: `${prefix}username`, Value: username }, { Key: `${prefix}groups`, Value: groups() });
    }
  };

  const roles: IamRole[] = [];
  for (let i = 0; i < opts.roles; i++) {
    const n = String(i).padStart(5, '0');
    const team = pick(TEAMS);
    const tags: IamTag[] = [];
    const r = rand();
    let role: IamRole;
    if (r < 0.06) {
      const ps = pick(PERMISSION_SETS);
      const hex = Array.from({ length: 16 }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
      role = { name: `AWSReservedSSO_${ps}_${hex}`, path: SSO_PATH(region), id: uniqueId('AROA'), createDate: created(), tags, assumeRolePolicyDocument: TRUST.sso };
      clusterTags(tags, `sso-${ps.toLowerCase()}:{{SessionName}}`, 'user');
    } else if (r < 0.09) {
      const svc = pick(SERVICES);
      role = { name: `AWSServiceRoleFor${svc[0]?.toUpperCase()}${svc.slice(1)}_${n}`, path: `/aws-service-role/${svc}.amazonaws.com/`, id: uniqueId('AROA'), createDate: created(), tags, assumeRolePolicyDocument: trust(`${svc}.amazonaws.com`) };
    } else {
      const kind = rand();
      const roleType = kind < 0.15 ? 'node' : kind < 0.2 ? 'fargateNode' : 'user';
      const name = roleType === 'node' ? `${team}-nodegroup-${n}` : roleType === 'fargateNode' ? `${team}-fargate-pods-${n}` : `${team}-${pick(PURPOSES)}-${n}`;
      const path = chance(0.1) ? '/service-role/' : chance(0.1) ? `/teams/${team}/` : '/';
      const doc = roleType === 'node' ? TRUST.ec2 : roleType === 'fargateNode' ? TRUST.fargate : TRUST.lambda;
      role = { name, path, id: uniqueId('AROA'), createDate: created(), tags, assumeRolePolicyDocument: doc };
      noise(tags, team);
      clusterTags(tags, `${team}-${name.split('-')[1] ?? 'role'}`, roleType);
    }
    roles.push(role);
  }

  const users: IamUser[] = [];
  for (let i = 0; i < opts.users; i++) {
    const team = pick(TEAMS);
    const name = `${pick(FIRST)}.${pick(LAST)}-${String(i).padStart(5, '0')}`;
    const path = chance(0.15) ? `/teams/${team}/` : chance(0.05) ? '/contractors/' : '/';
    const tags: IamTag[] = [];
    noise(tags, team);
    clusterTags(tags, name.normalize('NFD').replace(/[^\x20-\x7e]/g, ''));
    users.push({ name, path, id: uniqueId('AIDA'), createDate: created(), tags });
  }
  const account: AwsAccount = { accountId, partition: opts.partition ?? 'aws', roles, users };
  addGroupsAndPermissionSets(account, opts, region);
  return { account, clusterName, region, ssmParameters: [], summary: summarize(account, clusterName) };
}

/** The dataset's IAM groups (with members) and permission-set roles: see `DatasetOptions.groups`. */
function addGroupsAndPermissionSets(account: AwsAccount, opts: DatasetOptions, region: string): void {
  const groupCount = opts.groups ?? 0;
  const setCount = opts.permissionSets ?? 0;
  if (groupCount === 0 && setCount === 0) return;
  const rand = mulberry32(((opts.seed ?? 1) ^ 0x5bd1e995) >>> 0);
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join('');
  const groupName = (i: number): string => `group-${String(i).padStart(2, '0')}`;
  const epoch = Date.UTC(2020, 0, 1);
  account.groups = Array.from({ length: groupCount }, (_, i) => ({
    name: groupName(i), path: i % 5 === 0 ? '/teams/' : '/', id: `AGPA${hex(17).toUpperCase()}`, createDate: new Date(epoch + i * 86_400_000),
  }));
  if (groupCount > 0) {
    for (const user of account.users) {
      const names = new Set(Array.from({ length: Math.floor(rand() * 4) }, () => groupName(Math.floor(rand() * groupCount))));
      if (names.size > 0) user.groups = [...names];
    }
  }
  for (let i = 0; i < setCount; i++) {
    account.roles.push({
      name: `AWSReservedSSO_PermissionSet${String(i).padStart(2, '0')}_${hex(16)}`, path: SSO_PATH(region), id: `AROA${hex(17).toUpperCase()}`,
      createDate: new Date(epoch + i * 3_600_000), tags: [], assumeRolePolicyDocument: TRUST.sso,
    });
  }
}

/** Counts what an account holds for a cluster; see `DatasetSummary`. */
export function summarize(account: AwsAccount, clusterName: string): DatasetSummary {
  const prefix = `eks/${account.accountId}/${clusterName}/`;
  const ours = (i: IamIdentity): boolean => i.tags.some((t) => t.Key.startsWith(prefix));
  const tagValue = (i: IamIdentity, key: string): string | undefined => i.tags.find((t) => t.Key === prefix + key)?.Value;
  const invalid = (i: IamIdentity): boolean => {
    const groups = tagValue(i, 'groups') ?? '';
    return tagValue(i, 'username') === '' || /(^|::)system:/.test(groups) || groups.includes('::::');
  };
  const taggedRoles = account.roles.filter(ours);
  const taggedUsers = account.users.filter(ours);
  const isSso = (r: IamIdentity): boolean => r.path.startsWith('/aws-reserved/sso.amazonaws.com/');
  const byType = (t: string): number => taggedRoles.filter((r) => (tagValue(r, 'type') ?? 'user') === t).length;
  const all = [...account.roles, ...account.users];
  return {
    roles: account.roles.length,
    users: account.users.length,
    taggedRoles: taggedRoles.length,
    taggedUsers: taggedUsers.length,
    taggedRolesByType: { node: byType('node'), fargateNode: byType('fargateNode'), user: byType('user') },
    invalidTagged: [...taggedRoles, ...taggedUsers].filter(invalid).length,
    ssoRoles: account.roles.filter(isSso).length,
    taggedSsoRoles: taggedRoles.filter(isSso).length,
    withPath: all.filter((i) => i.path !== '/').length,
    taggedForOthers: all.filter((i) => !ours(i) && i.tags.some((t) => t.Key.startsWith('eks/'))).length,
  };
}

/** Base64 of the aws-auth style YAML the demo's SSM parameter holds (the original tool's format). */
const DEMO_SSM_MAPPINGS = `roles:
- rolearn: arn:aws:iam::111122223333:role/breakglass
  username: breakglass
  groups:
  - ops-oncall
users:
- userarn: arn:aws:iam::111122223333:user/contractors/mallory
  username: mallory
  groups:
  - viewers
`;

/**
 * A small, hand-written account for the demo (account 111122223333, cluster `demo`,
 * eu-west-1): tagged users, a tagged CI role with a path, a node role, a Fargate role, an
 * Identity Center role, a role whose tag asks for `system:masters` (to be refused), a role
 * tagged for another cluster, untagged noise, the IAM groups `developers` (alice, bob) and
 * `oncall` (bob, carol), and the SSM parameter `/eks/demo/auth`.
 */
export function demoDataset(): Dataset {
  const accountId = '111122223333';
  const p = `eks/${accountId}/demo/`;
  const at = (iso: string): Date => new Date(iso);
  const t = (entries: Record<string, string>): IamTag[] => Object.entries(entries).map(([Key, Value]) => ({ Key, Value }));
  const role = (name: string, path: string, id: string, created: string, tags: IamTag[], doc: string): IamRole => ({ name, path, id, createDate: at(created), tags, assumeRolePolicyDocument: doc });
  const user = (name: string, path: string, id: string, created: string, tags: IamTag[]): IamUser => ({ name, path, id, createDate: at(created), tags });
  const roles = [
    role('demo-nodegroup-NodeInstanceRole', '/', 'AROAQDEMO0000000NODE1', '2024-02-01T09:00:00Z', t({ [`${p}type`]: 'node', Team: 'platform' }), TRUST.ec2),
    role('demo-fargate-pod-execution', '/', 'AROAQDEMO00000FARGATE', '2024-02-01T09:05:00Z', t({ [`${p}type`]: 'fargateNode' }), TRUST.fargate),
    role('github-actions-deploy', '/ci/', 'AROAQDEMO0000000CICD1', '2024-03-10T12:00:00Z', t({ [`${p}username`]: 'ci-deployer', [`${p}groups`]: 'deployers', Team: 'platform' }), TRUST.lambda),
    role('AWSReservedSSO_PlatformAdmins_8d3f0c2a91b7e645', SSO_PATH('eu-west-1'), 'AROAQDEMO0000000SSOPA', '2023-11-20T08:30:00Z', t({ [`${p}username`]: 'platform-admin:{{SessionName}}', [`${p}groups`]: 'platform-admins' }), TRUST.sso),
    role('AWSReservedSSO_ReadOnlyAccess_1f2e3d4c5b6a7988', SSO_PATH('eu-west-1'), 'AROAQDEMO0000000SSORO', '2023-11-20T08:30:00Z', [], TRUST.sso),
    role('intern-wants-admin', '/', 'AROAQDEMO00000INTERN1', '2025-01-15T16:45:00Z', t({ [`${p}username`]: 'intern', [`${p}groups`]: 'system:masters' }), TRUST.lambda),
    role('staging-cluster-viewer', '/', 'AROAQDEMO00000STAGING', '2024-06-01T10:00:00Z', t({ [`eks/${accountId}/staging/username`]: 'viewer', [`eks/${accountId}/staging/groups`]: 'viewers' }), TRUST.lambda),
    role('payments-api-lambda', '/service-role/', 'AROAQDEMO00PAYMENTS01', '2022-05-05T05:05:05Z', t({ Team: 'payments' }), TRUST.lambda),
  ];
  const users: IamUser[] = [
    { ...user('alice', '/', 'AIDAQDEMO000000ALICE1', '2021-04-01T09:00:00Z', t({ [`${p}username`]: 'alice', [`${p}groups`]: 'developers::viewers' })), groups: ['developers'] },
    { ...user('bob', '/engineering/', 'AIDAQDEMO00000000BOB1', '2022-09-12T14:20:00Z', t({ [`${p}username`]: 'bob', [`${p}groups`]: 'developers' })), groups: ['developers', 'oncall'] },
    { ...user('carol', '/', 'AIDAQDEMO0000000CAROL', '2020-01-07T11:11:11Z', t({ Team: 'finance' })), groups: ['oncall'] },
  ];
  const groups = [
    { name: 'developers', path: '/', id: 'AGPAQDEMO00000000DEVS', createDate: at('2021-01-01T00:00:00Z') },
    { name: 'oncall', path: '/ops/', id: 'AGPAQDEMO0000000ONCAL', createDate: at('2021-01-01T00:00:00Z') },
  ];
  const account: AwsAccount = { accountId, partition: 'aws', roles, users, groups };
  return {
    account,
    clusterName: 'demo',
    region: 'eu-west-1',
    ssmParameters: [{ name: '/eks/demo/auth', type: 'SecureString', value: Buffer.from(DEMO_SSM_MAPPINGS).toString('base64') }],
    summary: summarize(account, 'demo'),
  };
}
