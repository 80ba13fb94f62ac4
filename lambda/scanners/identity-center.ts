/**
 * Mappings for IAM Identity Center permission sets. Identity Center provisions, in each account a
 * permission set is assigned in, the role `AWSReservedSSO_<PermissionSetName>_<suffix>` under
 * `/aws-reserved/sso.amazonaws.com/` (a region segment may follow). The suffix is 16 hex digits
 * and changes when the role is provisioned again, so the config names the permission set and
 * every run finds its role afresh.
 *
 * Matching is exact: the name is everything between `AWSReservedSSO_` and the last `_`, which
 * must be followed by exactly 16 hex digits. Permission set names may hold `_` themselves, but
 * never end the role name, so `Admin` matches `AWSReservedSSO_Admin_0123456789abcdef` and not
 * `AWSReservedSSO_Admin_Extra_0123456789abcdef` (the set `Admin_Extra`). Case counts.
 *
 * The roles come from the account's bulk read when the config already has one that reads roles
 * (mode `bulk`, the default; no call of its own), else from one ListRoles with the path prefix,
 * shared by every identityCenter scanner of the account in the run.
 */
import { paginateListRoles, type IAMClient } from '@aws-sdk/client-iam';
import { defaultPermissionSetUsername, type IdentityCenterScannerConfig } from '../config.js';
import { EksAuthSyncError } from '../errors.js';
import { canonicalRoleArn, parseRoleArn, type RoleMapping, type Warning } from '../mappings.js';
import { bulkIdentities, bulkKinds } from './iam.js';
import { describeError, type ScannerOfType, type Scanner } from './index.js';

/** The path Identity Center's roles live under. */
export const SSO_ROLE_PATH = '/aws-reserved/sso.amazonaws.com/';
// The path itself, or it and one region segment (e.g. eu-west-1/); nothing deeper.
const SSO_PATH = /^\/aws-reserved\/sso\.amazonaws\.com\/(?:[a-z0-9-]+\/)?$/;
const SSO_ROLE_NAME = /^AWSReservedSSO_(.+)_[0-9a-fA-F]{16}$/;

/** A role as the resolution needs it: its ARN as IAM returned it (path included). */
interface RoleSeen {
  arn: string;
  name: string;
  path: string;
}

type PermissionSet = IdentityCenterScannerConfig['permissionSets'][number];

/**
 * The permission set a role was provisioned for, or undefined when the role is not an Identity
 * Center role (wrong path, or a name not of the form `AWSReservedSSO_<name>_<16 hex digits>`).
 * @example permissionSetOf({ name: 'AWSReservedSSO_Admin_Extra_0123456789abcdef', path: '/aws-reserved/sso.amazonaws.com/' }) // 'Admin_Extra'
 */
export function permissionSetOf(role: { name: string; path: string }): string | undefined {
  if (!SSO_PATH.test(role.path)) return undefined;
  return SSO_ROLE_NAME.exec(role.name)?.[1];
}

/**
 * One role mapping per configured permission set whose role exists in the account. No role is a
 * warning (Identity Center deletes it with the set's last assignment in the account); more than
 * one is an error naming them, since which one people use cannot be told.
 */
export const identityCenterScanner: Scanner<ScannerOfType<'identityCenter'>> = async ({ name, scanner, config, deps }) => {
  const settings = scanner.identityCenter;
  const readKey = deps.clients.iamReadKey(scanner.aws);
  let roles: readonly RoleSeen[];
  if (settings.mode === 'bulk' && bulkKinds(config, deps, readKey).includes('role')) {
    roles = (await bulkIdentities(config, deps, scanner.aws)).filter((i) => i.kind === 'role');
  } else {
    const read = () => listSsoRoles(deps.clients.iam(scanner.aws));
    const key = JSON.stringify(['iam-sso-roles', readKey]);
    roles = await (deps.shared ? deps.shared.once(key, read) : read());
  }

  const bySet = new Map<string, RoleSeen[]>();
  for (const role of roles) {
    const set = permissionSetOf(role);
    if (set !== undefined) bySet.set(set, [...(bySet.get(set) ?? []), role]);
  }
  const mappings: RoleMapping[] = [];
  const warnings: Warning[] = [];
  for (const ps of settings.permissionSets) {
    const found = bySet.get(ps.name) ?? [];
    const [only] = found;
    if (only === undefined) {
      warnings.push({
        source: name, subject: `permission set ${ps.name}`,
        message: `no role AWSReservedSSO_${ps.name}_<suffix> under ${SSO_ROLE_PATH} in the account (the permission set is not assigned there); it maps no one`,
      });
    } else if (found.length > 1) {
      throw new EksAuthSyncError(`permission set ${ps.name}: ${found.length} roles match, so which one people use cannot be told: ${found.map((r) => r.arn).join(', ')}`);
    } else {
      mappings.push(mappingFor(only, ps));
    }
  }
  return { source: name, mappings: { users: [], roles: mappings }, warnings };
};

function mappingFor(role: RoleSeen, ps: PermissionSet): RoleMapping {
  if (parseRoleArn(role.arn) === undefined) throw new EksAuthSyncError(`permission set ${ps.name}: IAM returned a role ARN this tool cannot parse: ${JSON.stringify(role.arn)}`);
  return {
    // aws-auth: without the path (the authenticator never matches one); access entries: with it.
    rolearn: canonicalRoleArn(role.arn),
    sourceArn: role.arn,
    username: ps.username ?? defaultPermissionSetUsername(ps.name),
    groups: [...ps.groups],
    ...(ps.accessPolicies !== undefined && { accessPolicies: ps.accessPolicies }),
    sourceDetail: ps.name,
  };
}

/** The roles under Identity Center's path through ListRoles (PathPrefix), every page. */
async function listSsoRoles(client: IAMClient): Promise<RoleSeen[]> {
  const out: RoleSeen[] = [];
  try {
    for await (const page of paginateListRoles({ client, pageSize: 1000 }, { PathPrefix: SSO_ROLE_PATH })) {
      for (const r of page.Roles ?? []) out.push({ arn: r.Arn ?? '', name: r.RoleName ?? '', path: r.Path ?? '/' });
    }
  } catch (err) {
    throw new EksAuthSyncError(`iam:ListRoles under ${SSO_ROLE_PATH}: ${describeError(err)}`, { cause: err });
  }
  return out;
}
