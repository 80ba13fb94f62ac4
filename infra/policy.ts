/**
 * The function role's permissions, derived from the config: a pure function, so every rule is
 * unit-tested without synthesizing a stack.
 *
 * A scanner whose `aws` section (or the top-level one) names a `roleARN` does its reads as that
 * role, so the function role only gets `sts:AssumeRole` on it; the read permissions belong to
 * the assumed role, which lives outside this stack. A top-level role also reaches the cluster.
 *
 * Access entries (`sync.target` other than `configMap`). Resource types and condition keys as the
 * Service Authorization Reference for Amazon EKS lists them
 * (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelastickubernetesservice.html):
 * - ListAccessEntries and CreateAccessEntry take the `cluster` resource; CreateAccessEntry
 *   supports `aws:RequestTag/${TagKey}` and `aws:TagKeys`.
 * - DescribeAccessEntry, UpdateAccessEntry, DeleteAccessEntry, ListAssociatedAccessPolicies,
 *   AssociateAccessPolicy, DisassociateAccessPolicy and TagResource take the `access-entry`
 *   resource, `arn:${Partition}:eks:${Region}:${Account}:access-entry/${ClusterName}/${IamIdentityType}/…/${UUID}`,
 *   and support `aws:ResourceTag/${TagKey}`.
 * So IAM, not only the code, holds the ownership rule: the function may create an entry only
 * with the ownership tag, and change, delete or read the policies of an entry only while it
 * carries that tag. Describe stays unconditioned: the plan must see foreign entries to leave
 * them alone.
 */
import { regionPartition } from '../lambda/cluster/token.js';
import { isFleetConfig, type AnyConfig, type AwsSettings, type Config } from '../lambda/config.js';
import { clusterConfig } from '../lambda/fleet.js';
import { parseRoleArn } from '../lambda/mappings.js';
import { OWNED_TAG } from '../lambda/targets/access-entries/plan.js';

/** Where the function runs. Values may be CDK tokens (`Aws.ACCOUNT_ID`, …). */
export interface PolicyScope {
  partition: string;
  account: string;
  region: string;
  /** The DNS suffix of the stack's partition (`Aws.URL_SUFFIX`): `amazonaws.com`, `amazonaws.com.cn`, … */
  urlSuffix: string;
}

/** What is known at synth of the sources read at run time. */
export interface KnownContent {
  /**
   * The role ARNs of each `file` scanner's document, by the path the config gives it: the file
   * ships in the code asset, so its content is fixed at synth. A file scanner not listed may
   * name any role.
   */
  fileRoleArns?: ReadonlyMap<string, readonly string[]>;
}

/** One IAM policy statement, as plain data. */
export interface StatementSpec {
  sid: string;
  actions: string[];
  resources: string[];
  conditions?: Record<string, Record<string, string | string[]>>;
  /**
   * Why nothing narrower will do, on the statements that hold a `*` by design. Not on every
   * statement with a `*`: a config value (a `kmsKeyArn` such as `key/*`, the cluster name or region) may hold one.
   */
  wildcardReason?: string;
}

const IAM_WILDCARD_REASON =
  'iam:GetAccountAuthorizationDetails, iam:ListRoles and iam:ListUsers have no resource type in the ' +
  'IAM service authorization reference: they accept only the "*" resource. They are read-only.';

const ACCESS_ENTRY_REASON =
  'Access entry ARNs end in the principal and a UUID EKS assigns at creation, unknown at synth; the pattern ' +
  'covers exactly the access entries of this one cluster. Writes are allowed only on entries carrying the ' +
  'eks-auth-sync ownership tag (aws:ResourceTag), and tagging only with that tag.';

const GET_ROLE_REASON =
  'iam:GetRole resolves the IAM path of role ARNs written without one, which access entries need. IAM matches ' +
  'a role by its ARN, path included: role/*/NAME is that one name under any path, and role/* covers the roles ' +
  'of sources read at run time (SSM). Read-only.';

const TAG_PATTERN_REASON =
  'The identities whose tags are read are found at run time; the pattern covers exactly the path prefix the ' +
  'iam scanner filters on (role or user ARNs include the path). Read-only.';

const GROUP_PATH_REASON =
  'iam:GetGroup matches a group by its ARN, path included, and a mapped group\'s path is not in the config: ' +
  'group/*/NAME is that one name under any path. Read-only.';

// --- iamGroups and identityCenter scanners (issue 12) ---

type GroupOrSsoScanner = Extract<Config['scanners'][number], { type: 'iamGroups' | 'identityCenter' }>;

/**
 * The reads of an iamGroups or identityCenter scanner without a role of its own: bulk membership
 * is GetAccountAuthorizationDetails, per-group membership GetGroup on the named groups. A
 * permission set's roles come from ListRoles, unless (bulk mode) an iam scanner with the same
 * `aws` settings already reads the account's roles in bulk, as the scanner then uses that read.
 */
function groupAndSsoReads(
  config: Config, scanner: GroupOrSsoScanner, wildcard: Set<string>, groups: Set<string>, groupArns: (name: string) => string[],
): void {
  if (scanner.type === 'iamGroups') {
    if (scanner.iamGroups.mode === 'bulk') wildcard.add('iam:GetAccountAuthorizationDetails');
    else for (const g of scanner.iamGroups.groups) for (const arn of groupArns(g.name)) groups.add(arn);
    return;
  }
  const sameSettings = JSON.stringify(scanner.aws ?? {});
  const rolesReadInBulk = config.scanners.some((s) => s.type === 'iam' && s.iam.mode === 'bulk' && !s.iam.disableRoleScan &&
    JSON.stringify(s.aws ?? {}) === sameSettings);
  if (scanner.identityCenter.mode === 'perIdentity' || !rolesReadInBulk) wildcard.add('iam:ListRoles');
}

// --- end of the iamGroups and identityCenter scanners ---

/**
 * The least-privilege statements for `config`: only the IAM reads the configured `iam` scanners
 * use, `ssm:GetParameter` on the exact parameters, `kms:Decrypt` only on named keys (and only via
 * SSM), `eks:DescribeCluster` (and the access-entry calls) on each cluster in its own account and
 * region, `sts:AssumeRole` on exactly the named roles (a cluster's `roleARN` included).
 * A `clusters:` config gets each cluster's statements, merged: a statement's resources are the
 * union over the clusters that need it.
 *
 * @example
 * leastPrivilegeStatements(config, { partition: 'aws', account: '111122223333', region: 'eu-west-1', urlSuffix: 'amazonaws.com' })
 */
export function leastPrivilegeStatements(config: AnyConfig, scope: PolicyScope, known: KnownContent = {}): StatementSpec[] {
  if (!isFleetConfig(config)) return clusterStatements(config, scope, known);
  const merged = new Map<string, StatementSpec>();
  for (const entry of config.clusters) {
    for (const statement of clusterStatements(clusterConfig(config, entry), scope, known)) {
      const seen = merged.get(statement.sid);
      // A sid names one rule with fixed actions and conditions (a region's KMS statement is its own sid).
      if (seen === undefined) merged.set(statement.sid, { ...statement, resources: [...statement.resources] });
      else seen.resources = [...new Set([...seen.resources, ...statement.resources])];
    }
  }
  return [...merged.values()];
}

/** The statements one cluster's config needs. */
function clusterStatements(config: Config, scope: PolicyScope, known: KnownContent): StatementSpec[] {
  const wildcardIamActions = new Set<string>();
  const roleTagResources = new Set<string>();
  const userTagResources = new Set<string>();
  const groupResources = new Set<string>();
  const parameterResources = new Set<string>();
  const kmsKeysByRegion = new Map<string, Set<string>>();
  const assumedRoles = new Set<string>();
  const iamArn = (kind: 'role' | 'user', pathPrefix: string): string =>
    `arn:${scope.partition}:iam::${scope.account}:${kind}${withLeadingSlash(pathPrefix)}*`;
  // The same default chain as lambda/aws.ts: the scanner's, top-level, the cluster's, the function's.
  const regionOf = (scannerAws?: AwsSettings): string =>
    scannerAws?.region ?? config.aws?.region ?? config.cluster.region ?? scope.region;

  // The cluster's calls are made as cluster.roleARN, else as the top-level role (lambda/aws.ts).
  const clusterRole = config.cluster.roleARN ?? config.aws?.roleARN;
  if (clusterRole) assumedRoles.add(clusterRole);
  for (const scanner of config.scanners) {
    const roleARN = scanner.aws?.roleARN ?? config.aws?.roleARN;
    if (roleARN) {
      assumedRoles.add(roleARN);
      continue;
    }
    if (scanner.type === 'iam') {
      const iam = scanner.iam;
      if (iam.mode === 'bulk') {
        if (!iam.disableRoleScan || !iam.disableUserScan) wildcardIamActions.add('iam:GetAccountAuthorizationDetails');
        continue;
      }
      if (!iam.disableRoleScan) {
        wildcardIamActions.add('iam:ListRoles');
        roleTagResources.add(iamArn('role', iam.pathPrefix));
      }
      if (!iam.disableUserScan) {
        wildcardIamActions.add('iam:ListUsers');
        userTagResources.add(iamArn('user', iam.pathPrefix));
      }
    } else if (scanner.type === 'iamGroups' || scanner.type === 'identityCenter') {
      // iamGroups and identityCenter (issue 12): what lambda/scanners/iam-groups.ts and identity-center.ts read.
      groupAndSsoReads(config, scanner, wildcardIamActions, groupResources, (name) => [
        `arn:${scope.partition}:iam::${scope.account}:group/${name}`, `arn:${scope.partition}:iam::${scope.account}:group/*/${name}`,
      ]);
    } else if (scanner.type === 'ssm') {
      const region = regionOf(scanner.aws);
      const name = scanner.ssm.path.replace(/^\/+/, '');
      parameterResources.add(`arn:${scope.partition}:ssm:${region}:${scope.account}:parameter/${name}`);
      if (scanner.ssm.kmsKeyArn) {
        const keys = kmsKeysByRegion.get(region) ?? new Set<string>();
        keys.add(scanner.ssm.kmsKeyArn);
        kmsKeysByRegion.set(region, keys);
      }
    }
  }

  const statements: StatementSpec[] = [];
  // lambda/sync.ts reaches the cluster as cluster.roleARN or the top-level role when one is set:
  // that role describes the cluster (and is the identity aws-auth must map), not the function's;
  // it also makes the access-entry calls and resolves role paths, so none of those are granted here.
  if (!clusterRole) {
    // As in lambda/aws.ts, the cluster is described in the cluster's region before aws.region.
    const region = config.cluster.region ?? config.aws?.region ?? scope.region;
    const clusterBase = `arn:${scope.partition}:eks:${region}:${config.cluster.accountID ?? scope.account}`;
    const clusterArn = `${clusterBase}:cluster/${config.cluster.name}`;
    statements.push({ sid: 'DescribeTheCluster', actions: ['eks:DescribeCluster'], resources: [clusterArn] });
    if (mayWriteAccessEntries(config)) {
      statements.push(...accessEntryStatements(clusterArn, `${clusterBase}:access-entry/${config.cluster.name}/*`));
      const roles = rolesToResolve(config, scope, known);
      if (roles.length > 0) {
        statements.push({ sid: 'ResolveRolePaths', actions: ['iam:GetRole'], resources: roles, wildcardReason: GET_ROLE_REASON });
      }
    }
  }
  if (wildcardIamActions.size > 0) {
    statements.push({
      sid: 'ReadIamIdentities',
      actions: sorted(wildcardIamActions),
      resources: ['*'],
      wildcardReason: IAM_WILDCARD_REASON,
    });
  }
  if (roleTagResources.size > 0) {
    statements.push({
      sid: 'ReadRoleTags',
      actions: ['iam:ListRoleTags'],
      resources: sorted(roleTagResources),
      wildcardReason: TAG_PATTERN_REASON,
    });
  }
  if (userTagResources.size > 0) {
    statements.push({
      sid: 'ReadUserTags',
      actions: ['iam:ListUserTags'],
      resources: sorted(userTagResources),
      wildcardReason: TAG_PATTERN_REASON,
    });
  }
  if (groupResources.size > 0) {
    statements.push({ sid: 'ReadGroupMembers', actions: ['iam:GetGroup'], resources: sorted(groupResources), wildcardReason: GROUP_PATH_REASON });
  }
  if (parameterResources.size > 0) {
    statements.push({ sid: 'ReadParameters', actions: ['ssm:GetParameter'], resources: sorted(parameterResources) });
  }
  for (const region of sorted(kmsKeysByRegion.keys())) {
    statements.push({
      sid: `DecryptParametersIn${sidSafe(region)}`,
      actions: ['kms:Decrypt'],
      resources: sorted(kmsKeysByRegion.get(region) ?? []),
      // The key may decrypt only on behalf of SSM's GetParameter, never for a direct kms:Decrypt.
      conditions: { StringEquals: { 'kms:ViaService': `ssm.${region}.${dnsSuffix(region, scope)}` } },
    });
  }
  if (assumedRoles.size > 0) {
    statements.push({ sid: 'AssumeConfiguredRoles', actions: ['sts:AssumeRole'], resources: sorted(assumedRoles) });
  }
  return statements;
}

/**
 * Whether a run may pick the access-entries target: `accessEntries` and `both` do, and so may
 * `auto` (the default), which follows the cluster's authentication mode at run time.
 */
function mayWriteAccessEntries(config: Config): boolean {
  return (config.sync.target ?? 'auto') !== 'configMap';
}

const TAG_CONDITION_KEY = `aws:ResourceTag/${OWNED_TAG.key}`;

/** The access-entry calls of lambda/targets/access-entries (read.ts, apply.ts), pinned to the ownership tag. */
function accessEntryStatements(clusterArn: string, entriesArn: string): StatementSpec[] {
  // Only the ownership tag, with its value, and no other tag key, may be set.
  const ownedRequestTag = {
    StringEquals: { [`aws:RequestTag/${OWNED_TAG.key}`]: OWNED_TAG.value },
    'ForAllValues:StringEquals': { 'aws:TagKeys': [OWNED_TAG.key] },
  };
  return [
    { sid: 'ListAccessEntries', actions: ['eks:ListAccessEntries'], resources: [clusterArn] },
    {
      sid: 'DescribeAccessEntries',
      actions: ['eks:DescribeAccessEntry'],
      resources: [entriesArn],
      wildcardReason: ACCESS_ENTRY_REASON,
    },
    { sid: 'CreateOwnedAccessEntries', actions: ['eks:CreateAccessEntry'], resources: [clusterArn], conditions: ownedRequestTag },
    {
      // The tag travels in CreateAccessEntry; tagging on create is authorized as eks:TagResource.
      sid: 'TagOwnedAccessEntriesOnCreate',
      actions: ['eks:TagResource'],
      resources: [entriesArn],
      conditions: ownedRequestTag,
      wildcardReason: ACCESS_ENTRY_REASON,
    },
    {
      sid: 'ChangeOwnedAccessEntries',
      actions: [
        'eks:AssociateAccessPolicy', 'eks:DeleteAccessEntry', 'eks:DisassociateAccessPolicy',
        'eks:ListAssociatedAccessPolicies', 'eks:UpdateAccessEntry',
      ],
      resources: [entriesArn],
      conditions: { StringEquals: { [TAG_CONDITION_KEY]: OWNED_TAG.value } },
      wildcardReason: ACCESS_ENTRY_REASON,
    },
  ];
}

/**
 * The roles iam:GetRole must reach, in the function's own account (GetRole looks a name up in the
 * caller's account, whatever account the ARN names): for a static or known file role ARN without a
 * path, that name with no path and under any path (IAM matches the role's ARN, path included); for
 * an SSM source or a file whose content is not known, whose role ARNs are read at run time, every
 * role. IAM-tag sources give ARNs with their path, so need none. None when no role ARN lacks a path.
 */
function rolesToResolve(config: Config, scope: PolicyScope, known: KnownContent): string[] {
  const roles = `arn:${scope.partition}:iam::${scope.account}:role/`;
  const arns: string[] = [];
  for (const scanner of config.scanners) {
    if (scanner.type === 'ssm') return [`${roles}*`];
    if (scanner.type === 'static') arns.push(...scanner.static.roles.map((r) => r.rolearn));
    if (scanner.type === 'file') {
      const inFile = known.fileRoleArns?.get(scanner.file.path);
      if (inFile === undefined) return [`${roles}*`];
      arns.push(...inFile);
    }
  }
  const names = new Set<string>();
  for (const arn of arns) {
    const parsed = parseRoleArn(arn);
    if (parsed?.path === '/') names.add(parsed.name);
  }
  return sorted(names).flatMap((name) => [`${roles}${name}`, `${roles}*/${name}`]);
}

/** The scanner filters on a plain string prefix of the path, and so does this resource pattern. */
function withLeadingSlash(pathPrefix: string): string {
  return pathPrefix.startsWith('/') ? pathPrefix : `/${pathPrefix}`;
}

function sorted(values: Iterable<string>): string[] {
  return [...values].sort();
}

/** A region the config names has its partition's suffix (from the SDK's data); the stack's own region, a token, has the stack's. */
function dnsSuffix(region: string, scope: PolicyScope): string {
  return isLiteralRegion(region) ? regionPartition(region).dnsSuffix : scope.urlSuffix;
}

function isLiteralRegion(region: string): boolean {
  return /^[a-z0-9-]+$/.test(region);
}

/** A statement id allows only [A-Za-z0-9]; a token region becomes a fixed word. */
function sidSafe(region: string): string {
  return isLiteralRegion(region) ? region.replace(/-/g, '') : 'StackRegion';
}
