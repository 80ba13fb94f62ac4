/**
 * Mappings for the members of IAM groups. IAM groups cannot carry tags, so what a group grants
 * comes from the config: its Kubernetes groups, access policies and a username template that
 * eks-auth-sync renders for each member (`{{UserName}}`, `{{AccountID}}`), since the
 * authenticator has no per-user template for IAM users.
 *
 * Membership, two ways. `bulk` (default): each user's GroupList from the account's one bulk read
 * (GetAccountAuthorizationDetails), shared with the iam scanners reading the same account, so the
 * groups cost no call of their own. `perIdentity`: one GetGroup (paginated) per mapped group.
 *
 * A user in several mapped groups gets one entry: the union of their groups and access policies,
 * and the username of the first of those groups in config order (a warning says so when another
 * group would render a different one). A member whose rendered username is invalid or reserved
 * is skipped with a warning naming the user and the group.
 */
import { NoSuchEntityException, paginateGetGroup, type IAMClient } from '@aws-sdk/client-iam';
import type { IamGroupsScannerConfig } from '../config.js';
import {
  copyAccessPolicies, describeAccessPolicies, parseUserArn, quoteValue, reservedPrefix, validateUsername,
  type AccessPolicySpec, type UserArn, type UserMapping, type Warning,
} from '../mappings.js';
import { EksAuthSyncError } from '../errors.js';
import { bulkIdentities, type Identity } from './iam.js';
import { describeError, type ScannerOfType, type Scanner } from './index.js';

type GroupConfig = IamGroupsScannerConfig['groups'][number];

/** A member of a mapped group, as either way of reading membership returns it. */
interface Member {
  arn: string;
  name: string;
}

/** What one user collects from the mapped groups they are in, in config order. */
interface Collected {
  member: Member;
  groups: GroupConfig[];
}

/**
 * One mapping per member user of the configured IAM groups. An IAM error fails the scanner; a
 * mapped group IAM does not know (perIdentity) or that has no members is a warning.
 */
export const iamGroupsScanner: Scanner<ScannerOfType<'iamGroups'>> = async ({ name, scanner, config, deps }) => {
  const settings = scanner.iamGroups;
  const warnings: Warning[] = [];
  const byUser = new Map<string, Collected>();
  const collect = (member: Member, group: GroupConfig): void => {
    const key = member.arn.toLowerCase();
    const seen = byUser.get(key) ?? { member, groups: [] };
    if (!seen.groups.includes(group)) seen.groups.push(group);
    byUser.set(key, seen);
  };

  const membersOf = settings.mode === 'bulk'
    ? bulkMembership(await bulkIdentities(config, deps, scanner.aws))
    : await perGroupMembership(settings.groups, async (groupName) => {
      const read = () => getGroupMembers(deps.clients.iam(scanner.aws), groupName);
      const key = JSON.stringify(['iam-group', deps.clients.iamReadKey(scanner.aws), groupName.toLowerCase()]);
      return deps.shared ? deps.shared.once(key, read) : read();
    });
  for (const group of settings.groups) {
    const members = membersOf.get(group.name.toLowerCase());
    if (members === undefined) {
      warnings.push({ source: name, subject: `IAM group ${group.name}`, message: 'no such IAM group in the account, or it has no members; it maps no one' });
      continue;
    }
    for (const member of members) collect(member, group);
  }

  const users: UserMapping[] = [];
  for (const { member, groups } of byUser.values()) {
    const outcome = mappingFor(member, groups);
    warnings.push(...outcome.notes.map((message) => ({ source: name, subject: member.arn, message })));
    if (outcome.mapping !== undefined) users.push(outcome.mapping);
  }
  return { source: name, mappings: { users, roles: [] }, warnings };
};

/**
 * The entry a user gets from the mapped groups they are in (config order), or only the reasons
 * none: the first group whose username renders validly names the user; every usable group adds
 * its Kubernetes groups and policies.
 */
function mappingFor(member: Member, groups: readonly GroupConfig[]): { mapping?: UserMapping; notes: string[] } {
  const notes: string[] = [];
  const parsed = parseUserArn(member.arn);
  if (parsed === undefined) return { notes: [`skipped: IAM returned a user ARN this tool cannot parse`] };
  const usable: { group: GroupConfig; username: string }[] = [];
  for (const group of groups) {
    const username = renderMemberUsername(group.username, member.name, parsed.accountId);
    const problem = validateUsername(username) ?? reservedProblem(username);
    if (problem !== undefined) notes.push(`skipped for IAM group ${group.name}: its username renders ${quoteValue(username)} for user ${member.name}: ${problem}`);
    else usable.push({ group, username });
  }
  const first = usable[0];
  if (first === undefined) return { notes };
  const others = usable.filter((u) => u.username !== first.username);
  if (others.length > 0) {
    notes.push(`in IAM groups ${usable.map((u) => u.group.name).join(', ')}, which name the user differently; ` +
      `username ${quoteValue(first.username)} of ${first.group.name}, listed first, is used (not ${others.map((o) => `${quoteValue(o.username)} of ${o.group.name}`).join(', ')})`);
  }
  const policies = unionPolicies(usable.flatMap((u) => u.group.accessPolicies ?? []));
  return {
    notes,
    mapping: {
      userarn: member.arn as UserArn,
      username: first.username,
      groups: [...new Set(usable.flatMap((u) => u.group.groups))],
      ...(policies.length > 0 && { accessPolicies: policies }),
      sourceArn: member.arn,
      sourceDetail: usable.map((u) => u.group.name).join(' + '),
    },
  };
}

/**
 * A username template rendered for one member: `{{UserName}}` is the IAM user's name,
 * `{{AccountID}}` its account. The config allows no other template.
 * @example renderMemberUsername('dev:{{UserName}}', 'alice', '111122223333') // 'dev:alice'
 */
export function renderMemberUsername(template: string, userName: string, accountId: string): string {
  return template.replace(/\{\{UserName\}\}/g, userName).replace(/\{\{AccountID\}\}/g, accountId);
}

function reservedProblem(username: string): string | undefined {
  const reserved = reservedPrefix(username);
  return reserved === undefined ? undefined : `"${reserved}" usernames are reserved for Kubernetes, EKS and AWS`;
}

/** The policies of several groups, identical ones once; the access-entries target joins the scopes of one policy. */
function unionPolicies(specs: readonly AccessPolicySpec[]): AccessPolicySpec[] {
  const seen = new Set<string>();
  return copyAccessPolicies(specs.filter((p) => {
    const key = describeAccessPolicies([p]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  }));
}

/** Lowercased group name → its members, from the users' GroupList of a bulk read. */
function bulkMembership(identities: readonly Identity[]): Map<string, Member[]> {
  const out = new Map<string, Member[]>();
  for (const id of identities) {
    if (id.kind !== 'user') continue;
    for (const g of id.groupNames ?? []) {
      const key = g.toLowerCase();
      const members = out.get(key) ?? [];
      members.push({ arn: id.arn, name: id.name });
      out.set(key, members);
    }
  }
  return out;
}

/** Lowercased group name → its members, one read per configured group (undefined: IAM has no such group). */
async function perGroupMembership(
  groups: readonly GroupConfig[], read: (groupName: string) => Promise<Member[] | undefined>,
): Promise<Map<string, Member[]>> {
  const names = [...new Set(groups.map((g) => g.name.toLowerCase()))];
  const answers = await Promise.all(names.map(async (n) => [n, await read(groups.find((g) => g.name.toLowerCase() === n)?.name ?? n)] as const));
  const out = new Map<string, Member[]>();
  for (const [n, members] of answers) if (members !== undefined && members.length > 0) out.set(n, members);
  return out;
}

/** A group's members through GetGroup, every page; undefined when IAM has no such group. */
async function getGroupMembers(client: IAMClient, GroupName: string): Promise<Member[] | undefined> {
  const out: Member[] = [];
  try {
    for await (const page of paginateGetGroup({ client, pageSize: 1000 }, { GroupName })) {
      for (const u of page.Users ?? []) out.push({ arn: u.Arn ?? '', name: u.UserName ?? '' });
    }
  } catch (err) {
    if (err instanceof NoSuchEntityException) return undefined;
    throw new EksAuthSyncError(`iam:GetGroup for IAM group ${GroupName}: ${describeError(err)}`, { cause: err });
  }
  return out;
}
