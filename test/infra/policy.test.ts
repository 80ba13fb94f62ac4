import { describe, expect, test } from 'vitest';
import { leastPrivilegeStatements, type StatementSpec } from '../../infra/policy.js';
import { parseAnyConfig, parseConfig } from '../../lambda/config.js';
import { OWNED_TAG } from '../../lambda/targets/access-entries/plan.js';
import { buildWithoutBundling } from '../support/cdk.js';

const scope = { partition: 'aws', account: '111122223333', region: 'eu-west-1', urlSuffix: 'amazonaws.com' };
const describeCluster: StatementSpec = {
  sid: 'DescribeTheCluster',
  actions: ['eks:DescribeCluster'],
  resources: ['arn:aws:eks:eu-west-1:111122223333:cluster/prod'],
};

/**
 * The statements for these scanners. The scanners' own permissions are compared with the
 * configMap target, so the access-entry statements (tested below) stay out of those tables.
 */
function statementsFor(scannersYaml: string, extra = '', target = 'configMap'): StatementSpec[] {
  const config = parseConfig(`cluster: {name: prod}\nsync: {target: ${target}}\n${extra}\nscanners:\n${scannersYaml}`, 'test.yaml');
  return leastPrivilegeStatements(config, scope);
}

/** Drops the explanation so tables compare only what IAM sees. */
function withoutReasons(statements: StatementSpec[]): StatementSpec[] {
  return statements.map(({ wildcardReason: _reason, ...rest }) => rest);
}

const cases: { name: string; scanners: string; extra?: string; expected: StatementSpec[] }[] = [
  {
    name: 'static and file scanners need nothing beyond describing the cluster',
    scanners: '- {type: static, static: {roles: []}}\n- {type: file, file: {path: m.yaml}}',
    expected: [describeCluster],
  },
  {
    name: 'a bulk IAM scan needs only GetAccountAuthorizationDetails',
    scanners: '- {type: iam, iam: {mode: bulk}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:GetAccountAuthorizationDetails'], resources: ['*'] },
    ],
  },
  {
    name: 'a per-identity IAM scan lists roles and users and reads their tags under the path prefix',
    scanners: '- {type: iam, iam: {mode: perIdentity}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:ListRoles', 'iam:ListUsers'], resources: ['*'] },
      { sid: 'ReadRoleTags', actions: ['iam:ListRoleTags'], resources: ['arn:aws:iam::111122223333:role/*'] },
      { sid: 'ReadUserTags', actions: ['iam:ListUserTags'], resources: ['arn:aws:iam::111122223333:user/*'] },
    ],
  },
  {
    name: 'a per-identity scan without users reads only role tags, only under /teams/',
    scanners: '- {type: iam, iam: {mode: perIdentity, disableUserScan: true, pathPrefix: /teams/}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:ListRoles'], resources: ['*'] },
      { sid: 'ReadRoleTags', actions: ['iam:ListRoleTags'], resources: ['arn:aws:iam::111122223333:role/teams/*'] },
    ],
  },
  {
    name: 'a per-identity scan without roles reads only user tags',
    scanners: '- {type: iam, iam: {mode: perIdentity, disableRoleScan: true}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:ListUsers'], resources: ['*'] },
      { sid: 'ReadUserTags', actions: ['iam:ListUserTags'], resources: ['arn:aws:iam::111122223333:user/*'] },
    ],
  },
  {
    name: 'IAM groups in bulk read the account like a bulk IAM scan; a permission set alone lists roles',
    scanners: '- {type: iamGroups, iamGroups: {groups: [{name: developers}]}}\n- {type: identityCenter, identityCenter: {permissionSets: [{name: Admin}]}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:GetAccountAuthorizationDetails', 'iam:ListRoles'], resources: ['*'] },
    ],
  },
  {
    name: 'a permission set in bulk mode needs no ListRoles when an iam scanner with the same settings reads the roles',
    scanners: '- {type: iam, iam: {}}\n- {type: identityCenter, identityCenter: {permissionSets: [{name: Admin}]}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:GetAccountAuthorizationDetails'], resources: ['*'] },
    ],
  },
  {
    name: 'IAM groups per identity read exactly the named groups, under any path',
    scanners: '- {type: iamGroups, iamGroups: {mode: perIdentity, groups: [{name: ops}, {name: developers}]}}\n' +
      '- {type: iam, iam: {disableRoleScan: true}}\n- {type: identityCenter, identityCenter: {permissionSets: [{name: Admin}]}}',
    expected: [
      describeCluster,
      { sid: 'ReadIamIdentities', actions: ['iam:GetAccountAuthorizationDetails', 'iam:ListRoles'], resources: ['*'] },
      {
        sid: 'ReadGroupMembers',
        actions: ['iam:GetGroup'],
        resources: [
          'arn:aws:iam::111122223333:group/*/developers', 'arn:aws:iam::111122223333:group/*/ops',
          'arn:aws:iam::111122223333:group/developers', 'arn:aws:iam::111122223333:group/ops',
        ],
      },
    ],
  },
  {
    name: 'an SSM scanner reads exactly its parameter, with no KMS permission when no key is named',
    scanners: '- {type: ssm, ssm: {path: /eks/prod/auth}}\n- {type: ssm, aws: {region: us-east-1}, ssm: {path: plain}}',
    expected: [
      describeCluster,
      {
        sid: 'ReadParameters',
        actions: ['ssm:GetParameter'],
        resources: [
          'arn:aws:ssm:eu-west-1:111122223333:parameter/eks/prod/auth',
          'arn:aws:ssm:us-east-1:111122223333:parameter/plain',
        ],
      },
    ],
  },
  {
    name: 'a named KMS key may decrypt only through SSM in the parameter\'s region',
    scanners:
      '- {type: ssm, ssm: {path: /eks/prod/auth, kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"}}',
    expected: [
      describeCluster,
      {
        sid: 'ReadParameters',
        actions: ['ssm:GetParameter'],
        resources: ['arn:aws:ssm:eu-west-1:111122223333:parameter/eks/prod/auth'],
      },
      {
        sid: 'DecryptParametersIneuwest1',
        actions: ['kms:Decrypt'],
        resources: ['arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab'],
        conditions: { StringEquals: { 'kms:ViaService': 'ssm.eu-west-1.amazonaws.com' } },
      },
    ],
  },
  {
    name: 'a scanner that assumes a role gets only sts:AssumeRole on that role; the role does its reads',
    scanners:
      '- {type: iam, aws: {roleARN: "arn:aws:iam::444455556666:role/iam-reader"}, iam: {mode: bulk}}\n' +
      '- {type: ssm, aws: {roleARN: "arn:aws:iam::444455556666:role/ssm-reader"}, ssm: {path: /x}}\n' +
      '- {type: ssm, ssm: {path: /local}}',
    expected: [
      describeCluster,
      {
        sid: 'ReadParameters',
        actions: ['ssm:GetParameter'],
        resources: ['arn:aws:ssm:eu-west-1:111122223333:parameter/local'],
      },
      {
        sid: 'AssumeConfiguredRoles',
        actions: ['sts:AssumeRole'],
        resources: ['arn:aws:iam::444455556666:role/iam-reader', 'arn:aws:iam::444455556666:role/ssm-reader'],
      },
    ],
  },
  {
    name: 'a top-level role applies to every scanner and to the cluster, so only it may be assumed',
    scanners: '- {type: iam, iam: {mode: perIdentity}}',
    extra: 'aws: {roleARN: "arn:aws:iam::444455556666:role/reader"}',
    expected: [
      { sid: 'AssumeConfiguredRoles', actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::444455556666:role/reader'] },
    ],
  },
];

describe('leastPrivilegeStatements', () => {
  test.each(cases)('$name', ({ scanners, extra, expected }) => {
    expect(withoutReasons(statementsFor(scanners, extra))).toEqual(expected);
  });

  test('the cluster ARN uses the region and account named in the config', () => {
    const config = parseConfig(
      'cluster: {name: c1, region: ap-south-1, accountID: "999988887777"}\nscanners: [{type: static, static: {}}]',
      'test.yaml',
    );
    expect(leastPrivilegeStatements(config, scope)[0]?.resources).toEqual([
      'arn:aws:eks:ap-south-1:999988887777:cluster/c1',
    ]);
  });

  test('a parameter is looked up in the cluster\'s region unless an aws section names another', () => {
    const config = parseConfig(
      'cluster: {name: c1, region: ap-south-1}\nscanners: [{type: ssm, ssm: {path: /a}}, {type: ssm, aws: {region: us-east-2}, ssm: {path: /b}}]',
      'test.yaml',
    );
    expect(leastPrivilegeStatements(config, scope).find((s) => s.sid === 'ReadParameters')?.resources).toEqual([
      'arn:aws:ssm:ap-south-1:111122223333:parameter/a',
      'arn:aws:ssm:us-east-2:111122223333:parameter/b',
    ]);
  });

  test('the partition is kept in every ARN', () => {
    const config = parseConfig(
      'cluster: {name: c1}\nscanners: [{type: iam, iam: {mode: perIdentity}}, {type: ssm, ssm: {path: /p}}]',
      'test.yaml',
    );
    const resources = leastPrivilegeStatements(config, { ...scope, partition: 'aws-cn' }).flatMap((s) => s.resources);
    expect(resources.filter((r) => r !== '*').every((r) => r.startsWith('arn:aws-cn:'))).toBe(true);
  });

  test.each(['configMap', 'accessEntries'])('no statement grants a wildcard action, and every wildcard resource says why (%s)', (target) => {
    const all = [...cases, { scanners: '- {type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/Admin", username: a}]}}', extra: '' }];
    for (const { scanners, extra } of all) {
      for (const statement of statementsFor(scanners, extra, target)) {
        expect(statement.actions.filter((action) => action.includes('*'))).toEqual([]);
        if (statement.resources.includes('*')) {
          expect(statement.actions.every((a) => /^iam:(GetAccountAuthorizationDetails|ListRoles|ListUsers)$/.test(a))).toBe(true);
          expect(statement.wildcardReason).toMatch(/no resource type/);
        } else if (statement.resources.some((r) => r.includes('*'))) {
          expect(statement.wildcardReason).toMatch(/path prefix|UUID EKS assigns|IAM path of role ARNs|a mapped group's path/);
        } else {
          expect(statement.wildcardReason).toBeUndefined();
        }
      }
    }
  });

  test('kms:ViaService names SSM with the DNS suffix of the parameter region\'s partition (aws-cn: amazonaws.com.cn)', () => {
    const config = parseConfig(
      'cluster: {name: c1, region: cn-north-1}\nscanners: [{type: ssm, ssm: {path: /p, kmsKeyArn: "arn:aws-cn:kms:cn-north-1:111122223333:key/k"}}]',
      'test.yaml',
    );
    const cn = { partition: 'aws-cn', account: '111122223333', region: 'cn-north-1', urlSuffix: 'amazonaws.com.cn' };
    expect(leastPrivilegeStatements(config, cn).find((s) => s.sid === 'DecryptParametersIncnnorth1')?.conditions).toEqual({
      StringEquals: { 'kms:ViaService': 'ssm.cn-north-1.amazonaws.com.cn' },
    });
  });

  test('describes the cluster in cluster.region, not in the region aws.region gives the scanners', () => {
    const config = parseConfig('cluster: {name: c1, region: eu-north-1}\naws: {region: us-east-1}\nscanners: [{type: static, static: {}}]', 'test.yaml');
    expect(leastPrivilegeStatements(config, scope)[0]?.resources).toEqual(['arn:aws:eks:eu-north-1:111122223333:cluster/c1']);
    const withoutClusterRegion = parseConfig('cluster: {name: c1}\naws: {region: us-east-1}\nscanners: [{type: static, static: {}}]', 'test.yaml');
    expect(leastPrivilegeStatements(withoutClusterRegion, scope)[0]?.resources).toEqual(['arn:aws:eks:us-east-1:111122223333:cluster/c1']);
  });
});

const ENTRIES = 'arn:aws:eks:eu-west-1:111122223333:access-entry/prod/*';
const CLUSTER = 'arn:aws:eks:eu-west-1:111122223333:cluster/prod';
const ownedRequestTag = {
  StringEquals: { 'aws:RequestTag/eks-auth-sync.io/managed': 'true' },
  'ForAllValues:StringEquals': { 'aws:TagKeys': ['eks-auth-sync.io/managed'] },
};
/** Every access-entry call lambda/targets/access-entries makes, and nothing more. */
const accessEntryStatements: StatementSpec[] = [
  { sid: 'ListAccessEntries', actions: ['eks:ListAccessEntries'], resources: [CLUSTER] },
  { sid: 'DescribeAccessEntries', actions: ['eks:DescribeAccessEntry'], resources: [ENTRIES] },
  { sid: 'CreateOwnedAccessEntries', actions: ['eks:CreateAccessEntry'], resources: [CLUSTER], conditions: ownedRequestTag },
  { sid: 'TagOwnedAccessEntriesOnCreate', actions: ['eks:TagResource'], resources: [ENTRIES], conditions: ownedRequestTag },
  {
    sid: 'ChangeOwnedAccessEntries',
    actions: [
      'eks:AssociateAccessPolicy', 'eks:DeleteAccessEntry', 'eks:DisassociateAccessPolicy',
      'eks:ListAssociatedAccessPolicies', 'eks:UpdateAccessEntry',
    ],
    resources: [ENTRIES],
    conditions: { StringEquals: { 'aws:ResourceTag/eks-auth-sync.io/managed': 'true' } },
  },
];

describe('access entries', () => {
  const tagged = '- {type: iam, iam: {mode: bulk}}';
  const iamRead = { sid: 'ReadIamIdentities', actions: ['iam:GetAccountAuthorizationDetails'], resources: ['*'] };

  test('the configMap target gets no access-entry action', () => {
    expect(withoutReasons(statementsFor(tagged, '', 'configMap'))).toEqual([describeCluster, iamRead]);
  });

  test.each(['accessEntries', 'both', 'auto'])(
    'the %s target gets exactly the access-entry calls, writes pinned to the ownership tag',
    (target) => {
      expect(withoutReasons(statementsFor(tagged, '', target))).toEqual([describeCluster, ...accessEntryStatements, iamRead]);
    },
  );

  test('no sync.target means auto, which may pick access entries at run time', () => {
    const config = parseConfig(`cluster: {name: prod}\nscanners:\n${tagged}`, 'test.yaml');
    expect(withoutReasons(leastPrivilegeStatements(config, scope))).toEqual([describeCluster, ...accessEntryStatements, iamRead]);
  });

  test('the tag in the conditions is the one the target writes and checks', () => {
    const create = statementsFor(tagged, '', 'accessEntries').find((s) => s.sid === 'CreateOwnedAccessEntries');
    expect(create?.conditions?.['StringEquals']).toEqual({ [`aws:RequestTag/${OWNED_TAG.key}`]: OWNED_TAG.value });
  });

  test("the access entries are the cluster's, in the cluster's account and region", () => {
    const config = parseConfig(
      'cluster: {name: c1, region: ap-south-1, accountID: "999988887777"}\nsync: {target: accessEntries}\nscanners: [{type: static, static: {}}]',
      'test.yaml',
    );
    const resources = leastPrivilegeStatements(config, scope).filter((s) => s.sid !== 'DescribeTheCluster').flatMap((s) => s.resources);
    expect([...new Set(resources)].sort()).toEqual([
      'arn:aws:eks:ap-south-1:999988887777:access-entry/c1/*',
      'arn:aws:eks:ap-south-1:999988887777:cluster/c1',
    ]);
  });

  test('with a top-level role, that role makes the access-entry calls: the function only assumes it', () => {
    const statements = statementsFor('- {type: ssm, ssm: {path: /p}}', 'aws: {roleARN: "arn:aws:iam::444455556666:role/writer"}', 'accessEntries');
    expect(withoutReasons(statements)).toEqual([
      { sid: 'AssumeConfiguredRoles', actions: ['sts:AssumeRole'], resources: ['arn:aws:iam::444455556666:role/writer'] },
    ]);
  });
});

describe('iam:GetRole, to resolve role paths', () => {
  const getRole = (scanners: string, target = 'accessEntries'): string[] | undefined =>
    statementsFor(scanners, '', target).find((s) => s.actions.includes('iam:GetRole'))?.resources;
  const staticRoles = (...arns: string[]): string =>
    `- {type: static, static: {roles: [${arns.map((a, i) => `{rolearn: "${a}", username: u${i}}`).join(', ')}]}}`;

  test('is not granted when every static role ARN has its path, nor for IAM tags, whose ARNs carry it', () => {
    expect(getRole(`${staticRoles('arn:aws:iam::111122223333:role/teams/Admin')}\n- {type: iam, iam: {mode: bulk}}`)).toBeUndefined();
  });

  test('reaches a path-less static role by name, with no path or any path, in the account the function asks', () => {
    expect(getRole(staticRoles('arn:aws:iam::111122223333:role/Admin', 'arn:aws:iam::444455556666:role/Dev', 'arn:aws:iam::111122223333:role/x/Pathed'))).toEqual([
      'arn:aws:iam::111122223333:role/Admin',
      'arn:aws:iam::111122223333:role/*/Admin',
      'arn:aws:iam::111122223333:role/Dev',
      'arn:aws:iam::111122223333:role/*/Dev',
    ]);
  });

  test.each([
    ['an SSM scanner', '- {type: ssm, ssm: {path: /p}}'],
    ['an SSM scanner that reads as another role', '- {type: ssm, aws: {roleARN: "arn:aws:iam::444455556666:role/r"}, ssm: {path: /p}}'],
    ['a file scanner whose content is not known', '- {type: file, file: {path: m.yaml}}'],
  ])('reaches every role of the account for %s, whose role ARNs are known only at run time', (_name, scanners) => {
    expect(getRole(`${staticRoles('arn:aws:iam::111122223333:role/Admin')}\n${scanners}`)).toEqual(['arn:aws:iam::111122223333:role/*']);
  });

  test("reaches only the path-less role names of a file whose content is known (shipped in the asset)", () => {
    const config = parseConfig(
      `cluster: {name: prod}\nsync: {target: accessEntries}\nscanners:\n${staticRoles('arn:aws:iam::111122223333:role/Admin')}\n- {type: file, file: {path: m.yaml}}`,
      'test.yaml',
    );
    const fileRoleArns = new Map([['m.yaml', ['arn:aws:iam::111122223333:role/Deployer', 'arn:aws:iam::111122223333:role/teams/Dev']]]);
    expect(leastPrivilegeStatements(config, scope, { fileRoleArns }).find((s) => s.sid === 'ResolveRolePaths')?.resources).toEqual([
      'arn:aws:iam::111122223333:role/Admin',
      'arn:aws:iam::111122223333:role/*/Admin',
      'arn:aws:iam::111122223333:role/Deployer',
      'arn:aws:iam::111122223333:role/*/Deployer',
    ]);
  });

  test('is not granted for the configMap target, which needs no path', () => {
    expect(getRole(`${staticRoles('arn:aws:iam::111122223333:role/Admin')}\n- {type: ssm, ssm: {path: /p}}`, 'configMap')).toBeUndefined();
  });
});

describe('many clusters (clusters:)', () => {
  const fleetStatements = (yaml: string) => leastPrivilegeStatements(parseAnyConfig(yaml, 'fleet.yaml'), scope);
  const sid = (statements: StatementSpec[], id: string) => statements.find((s) => s.sid === id);

  test('describes each cluster in its own account and region, and its access entries only where its target may write them', () => {
    const statements = fleetStatements(`clusters:
- {name: prod}
- {name: eu-api, region: eu-central-1, accountID: "444455556666"}
- {name: legacy, sync: {target: configMap}}
scanners: [{type: iam, iam: {}}]
`);
    expect(sid(statements, 'DescribeTheCluster')?.resources).toEqual([
      'arn:aws:eks:eu-west-1:111122223333:cluster/prod',
      'arn:aws:eks:eu-central-1:444455556666:cluster/eu-api',
      'arn:aws:eks:eu-west-1:111122223333:cluster/legacy',
    ]);
    expect(sid(statements, 'ListAccessEntries')?.resources).toEqual([
      'arn:aws:eks:eu-west-1:111122223333:cluster/prod',
      'arn:aws:eks:eu-central-1:444455556666:cluster/eu-api',
    ]);
    expect(sid(statements, 'ChangeOwnedAccessEntries')).toMatchObject({
      resources: ['arn:aws:eks:eu-west-1:111122223333:access-entry/prod/*', 'arn:aws:eks:eu-central-1:444455556666:access-entry/eu-api/*'],
      conditions: { StringEquals: { [`aws:ResourceTag/${OWNED_TAG.key}`]: OWNED_TAG.value } },
    });
    // The shared IAM read is one statement, whatever the number of clusters.
    expect(statements.filter((s) => s.sid === 'ReadIamIdentities')).toEqual([
      expect.objectContaining({ actions: ['iam:GetAccountAuthorizationDetails'], resources: ['*'] }),
    ]);
  });

  test('a cluster reached through its roleARN gets only sts:AssumeRole on that role, no EKS action on it', () => {
    const role = 'arn:aws:iam::444455556666:role/eks-auth-sync-workload';
    const statements = fleetStatements(`clusters:
- {name: prod}
- {name: workload, accountID: "444455556666", roleARN: "${role}"}
scanners: [{type: iam, iam: {}}]
`);
    expect(sid(statements, 'AssumeConfiguredRoles')?.resources).toEqual([role]);
    expect(sid(statements, 'DescribeTheCluster')?.resources).toEqual(['arn:aws:eks:eu-west-1:111122223333:cluster/prod']);
    expect(statements.flatMap((s) => s.resources).filter((r) => r.includes('workload') && r !== role)).toEqual([]);
  });

  test("a cluster's own scanners add their reads; every cluster's parameters are in one statement", () => {
    const statements = fleetStatements(`clusters:
- {name: prod, scanners: [{type: ssm, ssm: {path: /eks/prod/auth}}]}
- {name: staging, region: us-east-1, scanners: [{type: ssm, ssm: {path: /eks/staging/auth}}]}
sync: {target: configMap}
`);
    expect(sid(statements, 'ReadParameters')?.resources).toEqual([
      'arn:aws:ssm:eu-west-1:111122223333:parameter/eks/prod/auth',
      'arn:aws:ssm:us-east-1:111122223333:parameter/eks/staging/auth',
    ]);
    expect(sid(statements, 'ReadIamIdentities')).toBeUndefined();
  });

  test('a cluster: config with a cluster roleARN assumes it and describes nothing itself', () => {
    const role = 'arn:aws:iam::444455556666:role/eks-auth-sync';
    const statements = leastPrivilegeStatements(parseConfig(`cluster: {name: prod, roleARN: "${role}"}\nscanners: [{type: iam, iam: {}}]`, 't.yaml'), scope);
    expect(statements.map((s) => s.sid)).toEqual(['ReadIamIdentities', 'AssumeConfiguredRoles']);
    expect(sid(statements, 'AssumeConfiguredRoles')?.resources).toEqual([role]);
  });
});

describe('the synthesized policy', () => {
  test('lets the function assume exactly the roles its config names, and nothing else: no sts:* or * action, no * resource', () => {
    const config = parseConfig(
      'cluster: {name: c1}\nscanners:\n' +
      '- {type: iam, name: identity, aws: {roleARN: "arn:aws:iam::444455556666:role/eks-auth-sync-reader"}, iam: {}}\n' +
      '- {type: ssm, aws: {roleARN: "arn:aws:iam::444455556666:role/eks-auth-sync-reader"}, ssm: {path: /p}}\n' +
      '- {type: ssm, aws: {roleARN: "arn:aws:iam::777788889999:role/ssm-reader"}, ssm: {path: /q}}\n' +
      '- {type: iam, iam: {}}',
      'test.yaml',
    );
    const { template } = buildWithoutBundling({ config, configDir: '.' });
    type Statement = { Action: string | string[]; Resource: unknown };
    const policies = Object.values(template().findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: Statement[] } } }[];
    const list = (a: string | string[]): string[] => (Array.isArray(a) ? a : [a]);
    // Any action IAM would match against sts:AssumeRole: the action itself or a wildcard covering it.
    const assuming = policies
      .flatMap((p) => p.Properties.PolicyDocument.Statement)
      .filter((st) => list(st.Action).some((a) => /^(\*|sts:\*|sts:Assume\*|sts:AssumeRole)$/i.test(a)));
    expect(assuming.map((st) => st.Action)).toEqual(['sts:AssumeRole']);
    expect(assuming.flatMap((st) => st.Resource)).toEqual(['arn:aws:iam::444455556666:role/eks-auth-sync-reader', 'arn:aws:iam::777788889999:role/ssm-reader']);
  });

  /** The kms:ViaService value of the stack's template for an SSM scanner in `ssmRegion` (or the stack's region). */
  function viaService(ssmRegion?: string): unknown {
    const aws = ssmRegion === undefined ? '' : `aws: {region: ${ssmRegion}}, `;
    const config = `cluster: {name: c1}\nscanners: [{type: ssm, ${aws}ssm: {path: /p, kmsKeyArn: "arn:aws-cn:kms:cn-north-1:111122223333:key/k"}}]`;
    const { template } = buildWithoutBundling({ config: parseConfig(config, 'test.yaml'), configDir: '.' });
    const policies = Object.values(template().findResources('AWS::IAM::Policy')) as { Properties: { PolicyDocument: { Statement: { Action: unknown; Condition?: { StringEquals: Record<string, unknown> } }[] } } }[];
    const decrypt = policies.flatMap((p) => p.Properties.PolicyDocument.Statement).find((s) => s.Action === 'kms:Decrypt');
    return decrypt?.Condition?.StringEquals['kms:ViaService'];
  }

  test("in the stack's own region, joins the region and URL suffix pseudo parameters, so aws-cn gets ssm.<region>.amazonaws.com.cn", () => {
    expect(viaService()).toEqual({ 'Fn::Join': ['', ['ssm.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] });
  });

  test('for a China region named in the config, is the China endpoint', () => {
    expect(viaService('cn-northwest-1')).toBe('ssm.cn-northwest-1.amazonaws.com.cn');
  });
});
