/**
 * Mappings from IAM tags, in the scheme of polarsquad/eks-auth-sync:
 * `eks/{accountId}/{clusterName}/username`, `.../groups` (joined by the separator) and, on
 * roles, `.../type` (`node`, `fargateNode`, `user`). A node type counts only on a role whose trust
 * policy lets nobody but that node's AWS service assume it, so tagging alone never makes a node.
 * `.../accessPolicies` lists EKS access policies for the access-entries target (syntax in
 * `iam-policies.ts`); a node's entry takes none, so nodes ignore it as they ignore the other tags.
 * Each mapping carries the ARN IAM returned, path included, as `sourceArn`.
 *
 * Two ways to read the tags. `bulk` (default): GetAccountAuthorizationDetails returns users and
 * roles with their tags, up to 1,000 per call. `perIdentity`, for deployments that cannot grant
 * that: ListRoles/ListUsers, then ListRoleTags/ListUserTags per identity with bounded concurrency.
 * Throttling is left to the SDK's adaptive retry.
 */
import {
  paginateGetAccountAuthorizationDetails, paginateListRoles, paginateListRoleTags, paginateListUsers, paginateListUserTags,
  type IAMClient, type Tag,
} from '@aws-sdk/client-iam';
import type { AwsSettings, Config, IamScannerConfig } from '../config.js';
import {
  canonicalRoleArn, parseRoleArn, parseUserArn, quoteValue, reservedPrefix, validateGroups, validateUsername,
  type AccessEntryDetails, type NodeType, type RoleArn, type RoleMapping, type UserArn, type UserMapping, type Warning,
} from '../mappings.js';
import { parseAccessPoliciesTag } from './iam-policies.js';
import type { ScanDeps, ScannerOfType, Scanner } from './index.js';

/** Whether an identity is an IAM user or role. */
export type Kind = 'user' | 'role';

/** A user or role as IAM returns it, whichever call returned it. */
export interface Identity {
  kind: Kind;
  arn: string;
  name: string;
  path: string;
  tags: Tag[];
  /** A role's trust policy, URL-encoded JSON as IAM returns it; users have none. */
  trustPolicy?: string | undefined;
  /** A user's IAM groups, from a bulk read (GetAccountAuthorizationDetails' GroupList). */
  groupNames?: string[] | undefined;
}

const NODE_GROUPS = ['system:bootstrappers', 'system:nodes'];
/**
 * What the `type` tag of a role may say, the entry a node type gets regardless of other tags, and
 * the only service principals its trust policy may name: the tag alone must not make a node. A
 * Map, not an object: a tag value such as `constructor` must find nothing, not Object's members.
 */
const NODE_TYPES: ReadonlyMap<string, { nodeType: NodeType; username: string; groups: string[]; services: readonly string[] }> = new Map([
  ['node', { nodeType: 'node', username: 'system:node:{{EC2PrivateDNSName}}', groups: NODE_GROUPS, services: ['ec2.amazonaws.com', 'ec2.amazonaws.com.cn'] }],
  ['fargateNode', {
    nodeType: 'fargateNode', username: 'system:node:{{SessionName}}', groups: [...NODE_GROUPS, 'system:node-proxier'], services: ['eks-fargate-pods.amazonaws.com'],
  }],
]);

/**
 * Mappings from the tags of the account's users and roles. Identities whose tags cannot make a
 * valid entry are skipped with a warning naming them; an IAM error fails the scanner.
 */
export const iamScanner: Scanner<ScannerOfType<'iam'>> = async ({ name, scanner, config, deps }) => {
  const settings = scanner.iam;
  const accountId = settings.clusterAccountID ?? config.cluster.accountID ?? await deps.callerAccountId();
  const clusterName = settings.clusterName ?? config.cluster.name;
  const kinds: Kind[] = [];
  if (!settings.disableUserScan) kinds.push('user');
  if (!settings.disableRoleScan) kinds.push('role');

  let identities: readonly Identity[];
  if (settings.mode === 'bulk') {
    identities = kinds.length === 0 ? [] : await bulkIdentities(config, deps, scanner.aws);
  } else {
    const client = deps.clients.iam(scanner.aws);
    const read = () => listPerIdentity(client, kinds, settings.pathPrefix, settings.concurrency);
    // Scanners (and clusters) reading the same account the same way share one read; its identities are never modified.
    const key = JSON.stringify(['iam', deps.clients.iamReadKey(scanner.aws), settings.mode, kinds, settings.pathPrefix]);
    identities = await (deps.shared ? deps.shared.once(key, read) : read());
  }

  const users: UserMapping[] = [];
  const roles: RoleMapping[] = [];
  const warnings: Warning[] = [];
  const prefix = `eks/${accountId}/${clusterName}/`;
  for (const identity of identities) {
    // A shared bulk read may hold the kinds other scanners asked for.
    if (!kinds.includes(identity.kind) || !identity.path.startsWith(settings.pathPrefix)) continue;
    const outcome = mappingFor(identity, prefix, settings);
    if (outcome === undefined) continue;
    if ('problem' in outcome) {
      warnings.push({ source: name, subject: identity.arn, message: `skipped: ${outcome.problem}` });
    } else if (identity.kind === 'user') {
      const { arn, ...entry } = outcome;
      users.push({ userarn: arn as UserArn, ...entry });
    } else {
      const { arn, ...entry } = outcome;
      roles.push({ rolearn: arn as RoleArn, ...entry });
    }
  }
  return { source: name, mappings: { users, roles }, warnings };
};

type Outcome = AccessEntryDetails & { arn: string; username: string; groups: string[] } | { problem: string };

/**
 * The entry an identity's tags ask for; undefined when it carries no tag for this cluster. Any
 * invalid value refuses the whole identity: a partial grant would be a surprise.
 */
function mappingFor(identity: Identity, prefix: string, settings: IamScannerConfig): Outcome | undefined {
  const tags = new Map<string, string>();
  for (const t of identity.tags) {
    if (t.Key?.startsWith(prefix)) tags.set(t.Key.slice(prefix.length), t.Value ?? '');
  }
  if (tags.size === 0) return undefined;

  const parsed = identity.kind === 'role' ? parseRoleArn(identity.arn) : parseUserArn(identity.arn);
  if (!parsed) return { problem: `IAM returned an ARN this tool cannot parse` };
  // Roles without their path: the authenticator never matches a rolearn with one.
  const arn = identity.kind === 'role' ? canonicalRoleArn(identity.arn) : identity.arn;

  const type = tags.get('type') ?? 'user';
  const node = NODE_TYPES.get(type);
  if (node !== undefined) {
    if (identity.kind === 'user') return { problem: `type "${type}" applies only to roles` };
    const trustProblem = serviceOnlyTrustProblem(identity.trustPolicy, node.services);
    if (trustProblem !== undefined) {
      return { problem: `type "${type}" needs a trust policy that lets only ${node.services.join(' or ')} assume the role, but ${trustProblem}` };
    }
    return { arn, username: node.username, groups: [...node.groups], sourceArn: identity.arn, nodeType: node.nodeType };
  }
  if (type !== 'user') return { problem: `unknown type ${quoteValue(type)} in tag ${prefix}type (expected node, fargateNode or user)` };

  const username = tags.get('username');
  if (username === undefined) return { problem: `no ${prefix}username tag` };
  const usernameProblem = validateUsername(username);
  if (usernameProblem) return { problem: `tag ${prefix}username: ${usernameProblem}` };
  // Judged on what the username can render, not its text; a template before the first colon was refused above.
  const reserved = reservedPrefix(username);
  if (reserved !== undefined) {
    return { problem: `tag ${prefix}username: "${reserved}" usernames are reserved for Kubernetes, EKS and AWS (use type node or fargateNode for nodes)` };
  }

  const groupsTag = tags.get('groups') ?? '';
  const groups = groupsTag === '' ? [] : groupsTag.split(settings.groupSeparator);
  const groupsProblem = validateGroups(groups);
  if (groupsProblem) return { problem: `tag ${prefix}groups: ${groupsProblem}` };
  const refused = groups.find((g) => g.startsWith('system:') && !settings.allowSystemGroups.includes(g));
  if (refused !== undefined) {
    return { problem: `tag ${prefix}groups grants "${refused}", which IAM tags may not grant unless the iam scanner's allowSystemGroups lists it` };
  }
  const policiesTag = tags.get('accessPolicies');
  if (policiesTag === undefined) return { arn, username, groups, sourceArn: identity.arn };
  const policies = parseAccessPoliciesTag(policiesTag, settings.groupSeparator, settings.allowAccessPolicies);
  if ('problem' in policies) return { problem: `tag ${prefix}accessPolicies: ${policies.problem}` };
  return { arn, username, groups, sourceArn: identity.arn, accessPolicies: policies.policies };
}

/** The calls that assume a role; a trust statement allowing none of them does not matter here. */
const ASSUME_ACTIONS = ['sts:AssumeRole', 'sts:AssumeRoleWithSAML', 'sts:AssumeRoleWithWebIdentity'];

/**
 * Why a role's trust policy lets someone other than `services` assume it, or undefined when only
 * those services can (and at least one of them can). `document` is the AssumeRolePolicyDocument
 * as IAM returns it: URL-encoded JSON (plain JSON is read too). Deny statements and conditions
 * only narrow trust, so they are ignored; so are statements whose actions include no AssumeRole
 * call (e.g. only `sts:TagSession`). Anything this cannot read counts as a problem.
 *
 * @example serviceOnlyTrustProblem(encodeURIComponent('{"Statement":{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}}'), ['ec2.amazonaws.com'])
 *   // 'it trusts AWS principal "*"'
 */
function serviceOnlyTrustProblem(document: string | undefined, services: readonly string[]): string | undefined {
  if (document === undefined || document.trim() === '') return 'IAM returned no trust policy';
  const policy = parseTrustPolicy(document);
  if (!isRecord(policy) || !(isRecord(policy.Statement) || Array.isArray(policy.Statement))) {
    return 'its trust policy is not a policy document (URL-encoded JSON with a Statement)';
  }
  let trusted = false;
  for (const statement of asList(policy.Statement)) {
    if (!isRecord(statement)) return 'its trust policy has a statement that is not an object';
    if (statement.Effect === 'Deny' || !allowsAssume(statement)) continue;
    if (statement.NotPrincipal !== undefined) return 'it trusts everyone but a NotPrincipal';
    if (!isRecord(statement.Principal)) return `it trusts principal ${JSON.stringify(statement.Principal ?? null)}`;
    for (const [kind, values] of Object.entries(statement.Principal)) {
      for (const value of asList(values)) {
        if (kind !== 'Service' || typeof value !== 'string' || !services.includes(value)) {
          return `it trusts ${kind} principal ${JSON.stringify(value)}`;
        }
        trusted = true;
      }
    }
  }
  return trusted ? undefined : 'its trust policy lets no service assume the role';
}

function parseTrustPolicy(document: string): unknown {
  try {
    // IAM form-encodes the JSON (a space may come as `+`); emulators sometimes return it plain.
    const text = document.trimStart().startsWith('{') ? document : decodeURIComponent(document.replace(/\+/g, ' '));
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Whether an Allow statement's Action (or NotAction) covers an AssumeRole call; unreadable counts as yes. */
function allowsAssume(statement: Record<string, unknown>): boolean {
  const matches = (patterns: unknown, action: string): boolean =>
    asList(patterns).some((p) => typeof p !== 'string' || actionPattern(p).test(action));
  if (statement.NotAction !== undefined) return ASSUME_ACTIONS.some((a) => !matches(statement.NotAction, a));
  if (statement.Action === undefined) return true;
  return ASSUME_ACTIONS.some((a) => matches(statement.Action, a));
}

/** IAM action patterns: case-insensitive, `*` and `?` wildcards. */
function actionPattern(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 'i');
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asList(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [value];
}

/**
 * The kinds of identity the config's bulk readers of one account need from its one shared bulk
 * read: every scanner whose IAM client settings give `readKey` (`ClientFactory.iamReadKey`).
 * iam scanners in bulk mode need the kinds they scan, iamGroups scanners in bulk mode users (with
 * their groups); identityCenter scanners take the roles when they are read anyway and add none.
 * Every scanner of a config computes the same set, so they all share one read.
 */
export function bulkKinds(config: Config, deps: ScanDeps, readKey: string): Kind[] {
  const wanted = new Set<Kind>();
  for (const s of config.scanners) {
    if (deps.clients.iamReadKey(s.aws) !== readKey) continue;
    if (s.type === 'iam' && s.iam.mode === 'bulk') {
      if (!s.iam.disableUserScan) wanted.add('user');
      if (!s.iam.disableRoleScan) wanted.add('role');
    } else if (s.type === 'iamGroups' && s.iamGroups.mode === 'bulk') {
      wanted.add('user');
    }
  }
  return (['user', 'role'] as const).filter((k) => wanted.has(k));
}

/**
 * The account's identities from its bulk read (GetAccountAuthorizationDetails): one read per
 * run for every scanner with the same IAM client settings, of the kinds {@link bulkKinds} names.
 * The identities are shared, never to be modified.
 */
export function bulkIdentities(config: Config, deps: ScanDeps, aws: AwsSettings | undefined): Promise<readonly Identity[]> {
  const readKey = deps.clients.iamReadKey(aws);
  const kinds = bulkKinds(config, deps, readKey);
  const read = () => listBulk(deps.clients.iam(aws), kinds);
  const key = JSON.stringify(['iam-bulk', readKey, kinds]);
  return deps.shared ? deps.shared.once(key, read) : read();
}

/** Users (with their groups) and roles with their tags from GetAccountAuthorizationDetails, 1,000 per page. */
async function listBulk(client: IAMClient, kinds: Kind[]): Promise<Identity[]> {
  if (kinds.length === 0) return [];
  const out: Identity[] = [];
  const Filter = kinds.map((k) => (k === 'user' ? 'User' : 'Role'));
  for await (const page of paginateGetAccountAuthorizationDetails({ client, pageSize: 1000 }, { Filter })) {
    for (const u of page.UserDetailList ?? []) out.push({ ...identity('user', u.Arn, u.UserName, u.Path, u.Tags), groupNames: u.GroupList ?? [] });
    for (const r of page.RoleDetailList ?? []) out.push(identity('role', r.Arn, r.RoleName, r.Path, r.Tags, r.AssumeRolePolicyDocument));
  }
  return out;
}

interface PerIdentityCalls {
  list(client: IAMClient, pathPrefix: string): AsyncIterable<Identity[]>;
  tags(client: IAMClient, name: string): AsyncIterable<Tag[]>;
}

const perIdentityCalls: Record<Kind, PerIdentityCalls> = {
  user: {
    async *list(client, PathPrefix) {
      for await (const p of paginateListUsers({ client, pageSize: 1000 }, { PathPrefix })) {
        yield (p.Users ?? []).map((u) => identity('user', u.Arn, u.UserName, u.Path, []));
      }
    },
    async *tags(client, UserName) {
      for await (const p of paginateListUserTags({ client }, { UserName })) yield p.Tags ?? [];
    },
  },
  role: {
    async *list(client, PathPrefix) {
      for await (const p of paginateListRoles({ client, pageSize: 1000 }, { PathPrefix })) {
        yield (p.Roles ?? []).map((r) => identity('role', r.Arn, r.RoleName, r.Path, [], r.AssumeRolePolicyDocument));
      }
    },
    async *tags(client, RoleName) {
      for await (const p of paginateListRoleTags({ client }, { RoleName })) yield p.Tags ?? [];
    },
  },
};

/** Lists the identities, then fetches each one's tags, at most `concurrency` at a time. */
async function listPerIdentity(client: IAMClient, kinds: Kind[], pathPrefix: string, concurrency: number): Promise<Identity[]> {
  const identities: Identity[] = [];
  for (const kind of kinds) {
    for await (const page of perIdentityCalls[kind].list(client, pathPrefix)) identities.push(...page);
  }
  await forEachLimited(identities, concurrency, async (id) => {
    for await (const tags of perIdentityCalls[id.kind].tags(client, id.name)) id.tags.push(...tags);
  });
  return identities;
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

function identity(kind: Kind, arn = '', name = '', path = '/', tags: Tag[] = [], trustPolicy?: string): Identity {
  return { kind, arn, name, path, tags: [...tags], trustPolicy };
}
