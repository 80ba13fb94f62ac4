/**
 * Translation: the desired mappings (the model aws-auth speaks) → the EKS access entries that
 * grant the same access. Pure but for one injected lookup (a role's IAM path), so every rule is
 * tested with a table and no AWS.
 *
 * The translation table. Every row that changes what a mapping says adds a "why" note to the
 * entry, so the plan (and a dry run) shows each choice.
 *
 * | Mapping                                   | Access entry                                                      |
 * |-------------------------------------------|-------------------------------------------------------------------|
 * | role or user ARN with its IAM path        | `principalArn` as written                                         |
 * | role ARN without a path                   | resolved with iam:GetRole (once per role); not found → skipped    |
 * | STS session ARN, service-linked role      | skipped: EKS refuses them                                         |
 * | no username                               | no username: EKS's default applies                                |
 * | username `system:`/`eks:`/`aws:`/`amazon:`/`iam:`… | skipped: EKS refuses reserved prefixes                   |
 * | username with a template                  | only `{{SessionName}}`/`{{SessionNameRaw}}`, after a colon; else skipped |
 * | group `system:masters`                    | no group; `AmazonEKSClusterAdminPolicy` at cluster scope          |
 * | `system:masters` from IAM tags            | as above only with `tagsMayGrantClusterAdmin`; else skipped       |
 * | any other `system:` group                 | skipped: EKS refuses `system:` groups                             |
 * | other groups                              | `kubernetesGroups`, order kept, duplicates removed                |
 * | node type `node`                          | `EC2_LINUX`, no username, no groups (role in the cluster's account) |
 * | node type `fargateNode`                   | `FARGATE_LINUX`, no username, no groups (role in the cluster's account) |
 * | node type with access policies            | skipped: node entries take no policies                            |
 * | `accessPolicies: [{policy: P}]`           | `arn:<partition>:eks::aws:cluster-access-policy/P` at cluster scope |
 * | `accessPolicies: [{policy: P, namespaces}]` | P at namespace scope (wildcards like `team-*` allowed)          |
 * | the same policy twice                     | one association: cluster scope if either is, else the namespaces joined |
 * | `AmazonEKSClusterAdminPolicy` from IAM tags | only with `tagsMayGrantClusterAdmin`; else skipped             |
 * | two mappings for one principal            | the first kept, the other skipped with a warning                  |
 *
 * A skipped mapping costs only itself: it is reported as a warning naming the source and ARN,
 * and the rest of the mappings are translated.
 */
import {
  parseRoleArn, parseUserArn, quoteValue, validateGroups, validateUsername, type AccessPolicySpec, type NodeType, type Warning,
} from '../../mappings.js';

/** An IAM role or user ARN WITH its IAM path, as access entries need it (the opposite of aws-auth). */
export type PrincipalArn = string & { readonly __brand: 'PrincipalArn' };

/** The entry types eks-auth-sync creates. EKS has more (EC2_WINDOWS, EC2, HYBRID_LINUX, …); those are read, never made. */
export type AccessEntryType = 'STANDARD' | 'EC2_LINUX' | 'FARGATE_LINUX';

/** Where an associated access policy applies. Namespaces are sorted, so equal scopes compare equal. */
export type AccessScope = { type: 'cluster' } | { type: 'namespace'; namespaces: string[] };

/** An access policy to associate with an entry. */
export interface DesiredPolicy {
  policyArn: string;
  scope: AccessScope;
}

/** One mapping as the sources give it, before translation. */
export interface MappingForAccessEntry {
  kind: 'role' | 'user';
  /** As the source wrote it; a role ARN may lack its IAM path. */
  arn: string;
  /** Absent: EKS's default username for the principal. */
  username?: string;
  groups: readonly string[];
  /** Set when the mapping is a node's (from the `type` tag); username and groups are then ignored. */
  nodeType?: NodeType;
  accessPolicies?: readonly AccessPolicySpec[];
  /** The scanner's display name, e.g. `iam[2]`. */
  source: string;
  /** Whether the mapping came from IAM tags, the least-trusted source. */
  fromTags: boolean;
}

/** The access entry a mapping becomes. */
export interface DesiredAccessEntry {
  principalArn: PrincipalArn;
  type: AccessEntryType;
  /** Absent: EKS's default applies. */
  username?: string;
  kubernetesGroups: string[];
  /** Sorted by policy ARN. */
  policies: DesiredPolicy[];
  source: string;
  /** Each choice the translation made for this entry, e.g. "system:masters → AmazonEKSClusterAdminPolicy". */
  why: string[];
}

/**
 * Looks up a path-less role ARN's IAM path: the ARN with its path, or undefined when no such role
 * exists. Called at most once per role per translation.
 */
export type RoleResolver = (pathlessRoleArn: string) => Promise<string | undefined>;

/** What the translation needs to know about the cluster and the sources. */
export interface TranslateOptions {
  /** The cluster's partition (`aws`, `aws-cn`, …): access policy ARNs live in it. */
  partition: string;
  /** The cluster's account: node entries must be roles of this account. */
  clusterAccountId: string;
  /**
   * May an IAM tag grant cluster admin (`system:masters` or `AmazonEKSClusterAdminPolicy`)?
   * Set when the iam scanner's `allowSystemGroups` lists `system:masters`.
   * @default false
   */
  tagsMayGrantClusterAdmin?: boolean;
  resolveRole: RoleResolver;
}

export interface Translation {
  /** Sorted by lowercased principal ARN, so equal input gives equal output. */
  entries: DesiredAccessEntry[];
  warnings: Warning[];
}

/** The name of the policy `system:masters` becomes. */
export const CLUSTER_ADMIN_POLICY = 'AmazonEKSClusterAdminPolicy';
const MASTERS = 'system:masters';
/** EKS refuses usernames with these prefixes (grant-k8s-access.adoc). */
const RESERVED_USERNAME_PREFIXES = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'];
/** The only templates an access entry's username may use, and only after a colon. */
const ACCESS_ENTRY_TEMPLATES = ['{{SessionName}}', '{{SessionNameRaw}}'];
const NODE_ENTRY_TYPES: Record<NodeType, AccessEntryType> = { node: 'EC2_LINUX', fargateNode: 'FARGATE_LINUX' };
// A policy name becomes part of an ARN: letters and digits only, so it cannot change the ARN's structure.
const POLICY_NAME = /^[A-Za-z][A-Za-z0-9]{0,127}$/;
// A Kubernetes namespace (DNS label), where EKS also allows `*` wildcards.
const NAMESPACE = /^(?=.{1,63}$)[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/;

/** The ARN of an EKS access policy in a partition. */
export function accessPolicyArn(partition: string, name: string): string {
  return `arn:${partition}:eks::aws:cluster-access-policy/${name}`;
}

/**
 * The access entries the mappings ask for, with a warning for each mapping that cannot be one.
 * @example
 * const { entries } = await translateMappings(mappings, { partition: 'aws', clusterAccountId, resolveRole: iamRoleResolver(iam) });
 * @throws whatever `resolveRole` throws (an IAM error other than "no such role").
 */
export async function translateMappings(
  mappings: readonly MappingForAccessEntry[],
  options: TranslateOptions,
): Promise<Translation> {
  const warnings: Warning[] = [];
  const resolved = await resolvePaths(mappings, options.resolveRole);
  const byPrincipal = new Map<string, DesiredAccessEntry>();
  for (const m of mappings) {
    const outcome = translateOne(m, resolved, options);
    if ('problem' in outcome) {
      warnings.push({ source: m.source, subject: m.arn, message: `no access entry: ${outcome.problem}` });
      continue;
    }
    const key = outcome.principalArn.toLowerCase();
    const kept = byPrincipal.get(key);
    if (kept) {
      warnings.push({
        source: m.source,
        subject: m.arn,
        message: `no access entry: ${outcome.principalArn} is already mapped by "${kept.source}", which comes first; this mapping is ignored`,
      });
      continue;
    }
    byPrincipal.set(key, outcome);
  }
  const entries = [...byPrincipal.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, e]) => e);
  return { entries, warnings };
}

/** Every path-less role ARN → its ARN with path (or undefined), each looked up once. */
async function resolvePaths(
  mappings: readonly MappingForAccessEntry[],
  resolveRole: RoleResolver,
): Promise<Map<string, string | undefined>> {
  const pending = new Map<string, Promise<string | undefined>>();
  for (const m of mappings) {
    const parsed = m.kind === 'role' ? parseRoleArn(m.arn) : undefined;
    const key = m.arn.toLowerCase();
    if (parsed?.path === '/' && !pending.has(key)) pending.set(key, resolveRole(m.arn));
  }
  const resolved = new Map<string, string | undefined>();
  for (const [key, lookup] of pending) resolved.set(key, await lookup);
  return resolved;
}

type Outcome = DesiredAccessEntry | { problem: string };

function translateOne(m: MappingForAccessEntry, resolved: ReadonlyMap<string, string | undefined>, options: TranslateOptions): Outcome {
  const why: string[] = [];
  const principal = principalFor(m, resolved, why);
  if ('problem' in principal) return principal;
  const { arn: principalArn, accountId } = principal;

  if (m.nodeType !== undefined) {
    const type = NODE_ENTRY_TYPES[m.nodeType];
    if (m.kind !== 'role') return { problem: `node type "${m.nodeType}" applies only to roles` };
    if (accountId !== options.clusterAccountId) {
      return { problem: `a ${type} entry must be a role of the cluster's account ${options.clusterAccountId}, not ${accountId}` };
    }
    if (m.accessPolicies !== undefined && m.accessPolicies.length > 0) {
      return { problem: `a ${type} entry takes no access policies` };
    }
    why.push(`node type "${m.nodeType}" → ${type}, with EKS's node username and no groups`);
    return { principalArn, type, kubernetesGroups: [], policies: [], source: m.source, why };
  }

  if (m.username !== undefined) {
    const problem = usernameProblem(m.username);
    if (problem) return { problem };
  } else {
    why.push('no username: EKS\'s default applies');
  }

  const groupsProblem = validateGroups(m.groups);
  if (groupsProblem) return { problem: groupsProblem };
  const policies = new Map<string, AccessScope>();
  const kubernetesGroups: string[] = [];
  for (const g of new Set(m.groups)) {
    if (g === MASTERS) {
      if (m.fromTags && !options.tagsMayGrantClusterAdmin) {
        return { problem: `IAM tags may not grant ${MASTERS} (allow it in the iam scanner's allowSystemGroups)` };
      }
      addPolicy(policies, accessPolicyArn(options.partition, CLUSTER_ADMIN_POLICY), { type: 'cluster' });
      why.push(`${MASTERS} → ${CLUSTER_ADMIN_POLICY} at cluster scope, no group`);
    } else if (g.startsWith('system:')) {
      return { problem: `group "${g}": EKS refuses groups starting with system:` };
    } else {
      kubernetesGroups.push(g);
    }
  }

  for (const spec of m.accessPolicies ?? []) {
    const problem = policySpecProblem(spec);
    if (problem) return { problem };
    if (spec.policy === CLUSTER_ADMIN_POLICY && m.fromTags && !options.tagsMayGrantClusterAdmin) {
      return { problem: `IAM tags may not grant ${CLUSTER_ADMIN_POLICY} (allow ${MASTERS} in the iam scanner's allowSystemGroups)` };
    }
    const scope: AccessScope = spec.namespaces === undefined ? { type: 'cluster' } : { type: 'namespace', namespaces: [...spec.namespaces] };
    const arn = accessPolicyArn(options.partition, spec.policy);
    const widened = addPolicy(policies, arn, scope);
    if (widened) why.push(`${spec.policy} is listed more than once: ${widened}`);
  }

  const entry: DesiredAccessEntry = {
    principalArn,
    type: 'STANDARD',
    kubernetesGroups,
    policies: [...policies.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([policyArn, scope]) => ({ policyArn, scope })),
    source: m.source,
    why,
  };
  if (m.username !== undefined) entry.username = m.username;
  return entry;
}

/** The principal ARN with its path, and its account; or why the mapping has none. */
function principalFor(
  m: MappingForAccessEntry,
  resolved: ReadonlyMap<string, string | undefined>,
  why: string[],
): { arn: PrincipalArn; accountId: string } | { problem: string } {
  if (m.kind === 'user') {
    const parsed = parseUserArn(m.arn);
    if (!parsed) return { problem: 'not an IAM user ARN' };
    return { arn: m.arn as PrincipalArn, accountId: parsed.accountId };
  }
  const parsed = parseRoleArn(m.arn);
  if (!parsed) {
    return { problem: m.arn.includes(':assumed-role/') ? 'EKS refuses STS session ARNs; map the role' : 'not an IAM role ARN' };
  }
  if (parsed.path.startsWith('/aws-service-role/')) return { problem: 'EKS refuses service-linked roles' };
  if (parsed.path !== '/') return { arn: m.arn as PrincipalArn, accountId: parsed.accountId };

  const withPath = resolved.get(m.arn.toLowerCase());
  if (withPath === undefined) {
    return { problem: 'iam:GetRole found no such role (deleted, or in an account eks-auth-sync cannot read: write the ARN with its path)' };
  }
  const found = parseRoleArn(withPath);
  if (!found) return { problem: `iam:GetRole returned ${JSON.stringify(withPath)}, which is not an IAM role ARN` };
  if (found.path.startsWith('/aws-service-role/')) return { problem: 'EKS refuses service-linked roles' };
  if (found.path !== '/') why.push(`role path ${found.path} added (iam:GetRole): access entries need the ARN with its path`);
  return { arn: withPath as PrincipalArn, accountId: found.accountId };
}

/**
 * Why EKS would refuse `username` for an access entry: the project's name rules, a reserved
 * prefix, or a template that is not one of EKS's or not after a colon. The text before the first
 * colon is literal, so checking the prefix also judges every rendering.
 */
function usernameProblem(username: string): string | undefined {
  const basic = validateUsername(username);
  if (basic) return basic;
  const reserved = RESERVED_USERNAME_PREFIXES.find((p) => username.startsWith(p));
  if (reserved) return `username ${JSON.stringify(username)}: EKS refuses usernames starting with ${reserved}`;
  const firstTemplate = username.indexOf('{{');
  if (firstTemplate === -1) return undefined;
  const other = username.match(/\{\{[^}]*\}\}/g)?.find((t) => !ACCESS_ENTRY_TEMPLATES.includes(t));
  if (other) return `username ${JSON.stringify(username)}: access entries support only ${ACCESS_ENTRY_TEMPLATES.join(' and ')}, not ${other}`;
  if (!username.slice(0, firstTemplate).includes(':')) {
    return `username ${JSON.stringify(username)}: EKS allows a template only after a colon (e.g. "admin:{{SessionName}}")`;
  }
  return undefined;
}

/**
 * Why `spec` is not an access policy EKS can associate, or undefined when it is: the name must be
 * letters and digits (it becomes part of an ARN), namespaces a non-empty list of DNS labels with
 * `*` wildcards. The sources check their entries with it too.
 * @example policySpecProblem({ policy: 'AmazonEKSViewPolicy', namespaces: ['Dev'] }) // 'access policy AmazonEKSViewPolicy: "Dev" is not a namespace name …'
 */
export function policySpecProblem(spec: AccessPolicySpec): string | undefined {
  if (!POLICY_NAME.test(spec.policy)) return `access policy ${quoteValue(spec.policy)} is not an access policy name (e.g. AmazonEKSViewPolicy)`;
  if (spec.namespaces === undefined) return undefined;
  if (spec.namespaces.length === 0) {
    return `access policy ${spec.policy}: an empty namespaces list (leave namespaces out for cluster scope)`;
  }
  const bad = spec.namespaces.find((n) => !NAMESPACE.test(n));
  if (bad !== undefined) return `access policy ${spec.policy}: ${quoteValue(bad)} is not a namespace name (wildcards like team-* allowed)`;
  return undefined;
}

/**
 * Adds a policy's scope, joining it with a scope already there: cluster scope covers every
 * namespace. Returns what the join did when the policy was already present.
 */
function addPolicy(policies: Map<string, AccessScope>, arn: string, scope: AccessScope): string | undefined {
  const had = policies.get(arn);
  if (!had) {
    policies.set(arn, scope.type === 'cluster' ? scope : { type: 'namespace', namespaces: [...new Set(scope.namespaces)].sort() });
    return undefined;
  }
  if (had.type === 'cluster' || scope.type === 'cluster') {
    policies.set(arn, { type: 'cluster' });
    return 'cluster scope, which covers every namespace';
  }
  const joined = [...new Set([...had.namespaces, ...scope.namespaces])].sort();
  policies.set(arn, { type: 'namespace', namespaces: joined });
  return `namespaces joined: ${joined.join(', ')}`;
}
