/**
 * EKS access entries as EKS keeps them: one entry per principal and cluster, immutable type and
 * principal, EKS's refusals (system: groups, reserved usernames, path-less ARNs of pathed
 * roles), access policies with cluster or namespace scope, tags and pagination. Facts and
 * their sources: shared/reference/aws-auth-and-token-rules.md, "Access entries".
 */
import { randomUUID } from 'node:crypto';
import type { AccessEntryView, AccessGrant, AccessScope, AuthenticationMode } from './access-view.js';
import { ServiceError } from './server.js';

export const ACCESS_ENTRY_TYPES = ['STANDARD', 'EC2_LINUX', 'EC2_WINDOWS', 'FARGATE_LINUX', 'EC2', 'HYBRID_LINUX', 'HYPERPOD_LINUX'] as const;
export type AccessEntryType = (typeof ACCESS_ENTRY_TYPES)[number];

/** The access policies ListAccessPolicies returns; associating any other ARN is refused. */
export const ACCESS_POLICY_NAMES = [
  'AmazonEKSAdminPolicy',
  'AmazonEKSAdminViewPolicy',
  'AmazonEKSAutoNodePolicy',
  'AmazonEKSBlockStoragePolicy',
  'AmazonEKSClusterAdminPolicy',
  'AmazonEKSComputePolicy',
  'AmazonEKSEditPolicy',
  'AmazonEKSHybridPolicy',
  'AmazonEKSLoadBalancingPolicy',
  'AmazonEKSNetworkingPolicy',
  'AmazonEKSViewPolicy',
] as const;

/** Access entries per cluster: "not adjustable" (EKS service quotas). */
export const MAX_ACCESS_ENTRIES = 3000;
const MAX_PAGE = 100;
const MAX_TAGS = 50;
const RESERVED_USERNAME_PREFIXES = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'];
const PRINCIPAL = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):(role|user)(\/|\/.*\/)([\w+=,.@-]+)$/;
const ASSUMED_ROLE = /^arn:([\w-]+):sts::(\d{12}):assumed-role\/([\w+=,.@-]+)\/.+$/;

/** An association of an access policy with an entry. */
export interface AssociatedPolicy {
  policyArn: string;
  accessScope: AccessScope;
  associatedAt: Date;
  modifiedAt: Date;
}

/** An access entry as EKS stores it. */
export interface AccessEntry {
  clusterName: string;
  principalArn: string;
  kubernetesGroups: string[];
  accessEntryArn: string;
  createdAt: Date;
  modifiedAt: Date;
  tags: Record<string, string>;
  username: string;
  type: AccessEntryType;
  /** By policy ARN. */
  policies: Map<string, AssociatedPolicy>;
}

/** An entry EKS creates by itself (cluster creator, node group, Fargate profile); no validation applies. */
export interface SeedAccessEntry {
  principalArn: string;
  /** @default 'STANDARD' */
  type?: AccessEntryType;
  /** @default EKS's default for the type */
  username?: string;
  /** @default [] for STANDARD, ['system:nodes'] for node types */
  kubernetesGroups?: string[];
  policies?: { policyArn: string; accessScope: AccessScope }[];
  tags?: Record<string, string>;
}

/** What IAM knows, so EKS can refuse principals IAM does not have. */
export interface IamDirectory {
  accountId: string;
  /** The path of the role or user of this name in `accountId`, or undefined when IAM has none. */
  pathOf(kind: 'role' | 'user', name: string): string | undefined;
}

/** The fields CreateAccessEntry takes. */
export interface CreateAccessEntryInput {
  principalArn: string;
  type?: string;
  username?: string;
  kubernetesGroups?: string[];
  tags?: Record<string, string>;
  clientRequestToken?: string;
}

/** A cluster as the access-entry API needs it. */
export interface AccessCluster {
  name: string;
  authenticationMode: AuthenticationMode;
}

/** One page of a listing and the token for the next. */
export interface Page<T> {
  items: T[];
  nextToken?: string;
}

/** The managed cluster-access policy ARN for a name, e.g. `arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy`. */
export function accessPolicyArn(name: string, partition = 'aws'): string {
  return `arn:${partition}:eks::aws:cluster-access-policy/${name}`;
}

/** The entry EKS creates for whoever created the cluster: STANDARD with AmazonEKSClusterAdminPolicy at cluster scope. */
export function clusterCreatorEntry(principalArn: string): SeedAccessEntry {
  return { principalArn, policies: [{ policyArn: accessPolicyArn('AmazonEKSClusterAdminPolicy', partitionOf(principalArn)), accessScope: { type: 'cluster', namespaces: [] } }] };
}

/** The entry EKS creates for a managed node group's node role. */
export function nodeRoleEntry(principalArn: string): SeedAccessEntry {
  return { principalArn, type: 'EC2_LINUX' };
}

/** The entry EKS creates for a Fargate profile's pod execution role. */
export function fargateProfileEntry(principalArn: string): SeedAccessEntry {
  return { principalArn, type: 'FARGATE_LINUX' };
}

const invalid = (message: string, clusterName: string): ServiceError => new ServiceError(400, 'InvalidParameterException', message, { clusterName });
const isNodeType = (type: AccessEntryType): boolean => type !== 'STANDARD';

/**
 * The access entries of every cluster of one account and region, with EKS's checks. Methods
 * throw ServiceErrors in EKS's vocabulary; `view` gives what the clusters' authorisers see.
 */
export class AccessEntryStore {
  readonly #entries = new Map<string, Map<string, AccessEntry>>();
  /** clientRequestToken → principal ARN, so a retried create answers as the first did. */
  readonly #tokens = new Map<string, string>();
  /** Past states, for the lag: what the authoriser sees trails the API by `lagMs`. */
  #history: { at: number; entries: Map<string, Map<string, AccessEntry>> }[] = [];
  #lagMs = 0;

  constructor(
    private readonly opts: {
      region: string;
      accountId: string;
      partition: string;
      now: () => Date;
      cluster: (name: string) => AccessCluster | undefined;
      iam?: IamDirectory;
    },
  ) {}

  /** Delay before a change is seen by the clusters' authorisers ("may take several seconds to be effective"). */
  setLag(ms: number): void {
    this.#lagMs = ms;
    this.#history = [];
    this.#record();
  }

  /** The live entries of a cluster (what the API answers), sorted by principal ARN. */
  list(clusterName: string): AccessEntry[] {
    return [...(this.#entries.get(clusterName)?.values() ?? [])].sort((a, b) => compare(a.principalArn, b.principalArn));
  }

  /** Adds an entry as EKS itself would, without the checks a caller's request gets. */
  seed(clusterName: string, seed: SeedAccessEntry): AccessEntry {
    const type = seed.type ?? 'STANDARD';
    const at = this.opts.now();
    const entry: AccessEntry = {
      clusterName,
      principalArn: seed.principalArn,
      type,
      username: seed.username ?? this.#defaultUsername(seed.principalArn, type),
      kubernetesGroups: seed.kubernetesGroups ?? (isNodeType(type) ? ['system:nodes'] : []),
      accessEntryArn: this.#entryArn(clusterName, seed.principalArn),
      createdAt: at,
      modifiedAt: at,
      tags: { ...seed.tags },
      policies: new Map((seed.policies ?? []).map((p) => [p.policyArn, { ...p, associatedAt: at, modifiedAt: at }])),
    };
    this.#clusterEntries(clusterName).set(seed.principalArn, entry);
    this.#record();
    return entry;
  }

  /** Drops a deleted cluster's entries. */
  dropCluster(clusterName: string): void {
    this.#entries.delete(clusterName);
    this.#record();
  }

  create(clusterName: string, input: CreateAccessEntryInput): AccessEntry {
    this.#apiCluster(clusterName);
    const existing = this.#entries.get(clusterName)?.get(input.principalArn);
    if (input.clientRequestToken !== undefined && existing !== undefined && this.#tokens.get(`${clusterName}\n${input.clientRequestToken}`) === input.principalArn) return existing;
    const type = this.#type(clusterName, input.type);
    this.#checkPrincipal(clusterName, input.principalArn, type);
    const groups = input.kubernetesGroups ?? [];
    if (isNodeType(type) && (groups.length > 0 || input.username !== undefined)) {
      throw invalid(`Access entries of type ${type} can't have kubernetesGroups or a username; EKS sets them.`, clusterName);
    }
    checkGroups(groups, clusterName);
    if (input.username !== undefined) checkUsername(input.username, clusterName);
    checkTags(input.tags ?? {}, (m) => invalid(m, clusterName));
    if (existing !== undefined) throw new ServiceError(409, 'ResourceInUseException', 'The specified access entry resource is already in use on this cluster.', { clusterName });
    if (this.#clusterEntries(clusterName).size >= MAX_ACCESS_ENTRIES) {
      throw new ServiceError(400, 'ResourceLimitExceededException', `Cluster ${clusterName} already has ${MAX_ACCESS_ENTRIES} access entries, the most it can have.`, { clusterName });
    }
    const entry = this.seed(clusterName, { principalArn: input.principalArn, type, kubernetesGroups: isNodeType(type) ? undefined : [...groups], username: input.username, tags: input.tags });
    if (input.clientRequestToken !== undefined) this.#tokens.set(`${clusterName}\n${input.clientRequestToken}`, input.principalArn);
    return entry;
  }

  describe(clusterName: string, principalArn: string): AccessEntry {
    return this.#entry(clusterName, principalArn);
  }

  /** UpdateAccessEntry: a given group list replaces the old one; type, principal and tags stay. */
  update(clusterName: string, principalArn: string, change: { kubernetesGroups?: string[]; username?: string }): AccessEntry {
    const entry = this.#entry(clusterName, principalArn);
    if (change.username !== undefined) checkUsername(change.username, clusterName);
    if (change.kubernetesGroups !== undefined) checkGroups(change.kubernetesGroups, clusterName);
    if (isNodeType(entry.type) && (change.username !== undefined || (change.kubernetesGroups?.length ?? 0) > 0)) throw standardOnly(clusterName);
    if (change.kubernetesGroups !== undefined && !isNodeType(entry.type)) entry.kubernetesGroups = [...change.kubernetesGroups];
    if (change.username !== undefined) entry.username = change.username;
    entry.modifiedAt = this.opts.now();
    this.#record();
    return entry;
  }

  delete(clusterName: string, principalArn: string): void {
    this.#entry(clusterName, principalArn);
    this.#clusterEntries(clusterName).delete(principalArn);
    this.#record();
  }

  listEntries(clusterName: string, q: { maxResults?: number; nextToken?: string; associatedPolicyArn?: string }): Page<string> {
    this.#apiCluster(clusterName);
    const arns = this.list(clusterName)
      .filter((e) => q.associatedPolicyArn === undefined || e.policies.has(q.associatedPolicyArn))
      .map((e) => e.principalArn);
    return page(arns, (a) => a, q, clusterName);
  }

  /** AssociateAccessPolicy: a policy associated again takes the new scope. */
  associate(clusterName: string, principalArn: string, policyArn: string, accessScope: AccessScope): AssociatedPolicy {
    const entry = this.#entry(clusterName, principalArn);
    if (isNodeType(entry.type)) throw standardOnly(clusterName);
    if (!this.policies().includes(policyArn)) throw invalid(`The specified policyArn is invalid: ${policyArn} is not an access policy (see list-access-policies).`, clusterName);
    if (accessScope.type === 'namespace' && accessScope.namespaces.length === 0) throw invalid('An access scope of type namespace needs at least one namespace.', clusterName);
    if (accessScope.type === 'cluster' && accessScope.namespaces.length > 0) throw invalid('An access scope of type cluster can\'t have namespaces.', clusterName);
    const at = this.opts.now();
    const associated: AssociatedPolicy = { policyArn, accessScope: { type: accessScope.type, namespaces: [...accessScope.namespaces] }, associatedAt: entry.policies.get(policyArn)?.associatedAt ?? at, modifiedAt: at };
    entry.policies.set(policyArn, associated);
    this.#record();
    return associated;
  }

  disassociate(clusterName: string, principalArn: string, policyArn: string): void {
    const entry = this.#entry(clusterName, principalArn);
    if (!entry.policies.delete(policyArn)) {
      throw new ServiceError(404, 'ResourceNotFoundException', `The specified policyArn ${policyArn} is not associated with the access entry for ${principalArn}.`, { clusterName });
    }
    this.#record();
  }

  listAssociated(clusterName: string, principalArn: string, q: { maxResults?: number; nextToken?: string }): Page<AssociatedPolicy> {
    const entry = this.#entry(clusterName, principalArn);
    return page([...entry.policies.values()].sort((a, b) => compare(a.policyArn, b.policyArn)), (p) => p.policyArn, q, clusterName);
  }

  /** Every access policy ARN, sorted. */
  policies(): string[] {
    return ACCESS_POLICY_NAMES.map((n) => accessPolicyArn(n, this.opts.partition));
  }

  listPolicies(q: { maxResults?: number; nextToken?: string }): Page<string> {
    return page(this.policies(), (a) => a, q, '');
  }

  /** The entry an access-entry ARN names, for the tagging API; BadRequest/NotFound as EKS's tagging answers. */
  byArn(resourceArn: string): AccessEntry {
    for (const entries of this.#entries.values()) {
      for (const e of entries.values()) if (e.accessEntryArn === resourceArn) return e;
    }
    if (!resourceArn.startsWith('arn:')) throw new ServiceError(400, 'BadRequestException', `${resourceArn} is not an ARN.`);
    throw new ServiceError(404, 'NotFoundException', `No resource found for ARN: ${resourceArn}.`);
  }

  tag(resourceArn: string, tags: Record<string, string>): void {
    const entry = this.byArn(resourceArn);
    const merged = { ...entry.tags, ...tags };
    checkTags(merged, (m) => new ServiceError(400, 'BadRequestException', m));
    entry.tags = merged;
  }

  untag(resourceArn: string, keys: readonly string[]): void {
    const entry = this.byArn(resourceArn);
    entry.tags = Object.fromEntries(Object.entries(entry.tags).filter(([k]) => !keys.includes(k)));
  }

  /** What a cluster's authoriser sees: the mode now, the entries as they were `lagMs` ago. */
  view(clusterName: string): AccessEntryView {
    return {
      authenticationMode: () => this.opts.cluster(clusterName)?.authenticationMode ?? 'CONFIG_MAP',
      find: (callerArn) => {
        const entries = this.#effective().get(clusterName);
        if (entries === undefined) return undefined;
        for (const e of entries.values()) if (matches(e.principalArn, callerArn)) return grant(e);
        return undefined;
      },
    };
  }

  #effective(): Map<string, Map<string, AccessEntry>> {
    if (this.#lagMs === 0) return this.#entries;
    const cutoff = this.opts.now().getTime() - this.#lagMs;
    let seen = this.#history[0]?.entries ?? new Map<string, Map<string, AccessEntry>>();
    for (const h of this.#history) if (h.at <= cutoff) seen = h.entries;
    return seen;
  }

  #record(): void {
    if (this.#lagMs === 0) return;
    const at = this.opts.now().getTime();
    // Keep the newest state older than the lag (what is seen now) and everything after it.
    const cutoff = at - this.#lagMs;
    const firstVisible = this.#history.findLastIndex((h) => h.at <= cutoff);
    if (firstVisible > 0) this.#history = this.#history.slice(firstVisible);
    this.#history.push({ at, entries: structuredClone(this.#entries) });
  }

  #clusterEntries(clusterName: string): Map<string, AccessEntry> {
    let entries = this.#entries.get(clusterName);
    if (entries === undefined) this.#entries.set(clusterName, (entries = new Map()));
    return entries;
  }

  /** The cluster, if it exists and its authentication mode allows the access-entry API. */
  #apiCluster(clusterName: string): AccessCluster {
    const cluster = this.opts.cluster(clusterName);
    if (cluster === undefined) throw new ServiceError(404, 'ResourceNotFoundException', `No cluster found for name: ${clusterName}.`, { clusterName });
    if (cluster.authenticationMode === 'CONFIG_MAP') {
      throw new ServiceError(400, 'InvalidRequestException', "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.", { clusterName });
    }
    return cluster;
  }

  #entry(clusterName: string, principalArn: string): AccessEntry {
    this.#apiCluster(clusterName);
    const entry = this.#entries.get(clusterName)?.get(principalArn);
    if (entry === undefined) {
      throw new ServiceError(404, 'ResourceNotFoundException', "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.", { clusterName });
    }
    return entry;
  }

  #type(clusterName: string, type: string | undefined): AccessEntryType {
    const t = type ?? 'STANDARD';
    if (!(ACCESS_ENTRY_TYPES as readonly string[]).includes(t)) throw invalid(`The type ${t} is invalid; it must be one of [${ACCESS_ENTRY_TYPES.join(', ')}].`, clusterName);
    return t as AccessEntryType;
  }

  /** IAM principals only, that IAM has, under the path IAM has them; node types: roles of this account. */
  #checkPrincipal(clusterName: string, principalArn: string, type: AccessEntryType): void {
    const refuse = (): ServiceError => invalid('The specified principalArn is invalid: invalid principal.', clusterName);
    const m = PRINCIPAL.exec(principalArn);
    if (m === null) throw refuse();
    const [, , account, kind, path, name] = m as unknown as [string, string, string, 'role' | 'user', string, string];
    if (kind === 'role' && path.startsWith('/aws-service-role/')) throw invalid(`The specified principalArn is invalid: ${principalArn} is a service-linked role.`, clusterName);
    if (isNodeType(type) && (kind !== 'role' || account !== this.opts.accountId)) throw refuse();
    const iam = this.opts.iam;
    if (iam !== undefined && account === iam.accountId && iam.pathOf(kind, name) !== path) throw refuse();
  }

  #defaultUsername(principalArn: string, type: AccessEntryType): string {
    if (type === 'EC2_LINUX' || type === 'EC2_WINDOWS' || type === 'EC2') return 'system:node:{{EC2PrivateDNSName}}';
    if (isNodeType(type)) return 'system:node:{{SessionName}}';
    const m = PRINCIPAL.exec(principalArn);
    if (m?.[3] === 'role') return `arn:${m[1] ?? 'aws'}:sts::${m[2] ?? ''}:assumed-role/${m[5] ?? ''}/{{SessionName}}`;
    return principalArn;
  }

  /** `arn:aws:eks:REGION:ACCT:access-entry/CLUSTER/role/ACCT/NAME/UUID`, as EKS forms it (path left out). */
  #entryArn(clusterName: string, principalArn: string): string {
    const m = PRINCIPAL.exec(principalArn);
    const kind = m?.[3] ?? 'role';
    const name = m?.[5] ?? principalArn;
    return `arn:${this.opts.partition}:eks:${this.opts.region}:${this.opts.accountId}:access-entry/${clusterName}/${kind}/${m?.[2] ?? this.opts.accountId}/${name}/${randomUUID()}`;
  }
}

function standardOnly(clusterName: string): ServiceError {
  return invalid('This operation can only be performed on Access Entries with a type of "STANDARD".', clusterName);
}

function checkGroups(groups: readonly string[], clusterName: string): void {
  const reserved = groups.find((g) => g.startsWith('system:'));
  if (reserved !== undefined) throw invalid(`The kubernetes group name ${reserved} is invalid, it cannot start with system:`, clusterName);
}

/** Reserved prefixes, and a template (`{{SessionName}}`) only after a colon, so no rendering can forge a reserved name. */
function checkUsername(username: string, clusterName: string): void {
  const prefix = RESERVED_USERNAME_PREFIXES.find((p) => username.startsWith(p));
  if (prefix !== undefined) throw invalid(`The username must not begin with ${prefix}`, clusterName);
  const template = username.indexOf('{{');
  if (template !== -1 && !username.slice(0, template).includes(':')) {
    throw invalid(`The username ${username} is invalid: a template must follow a colon (e.g. alice:{{SessionName}}).`, clusterName);
  }
}

function checkTags(tags: Record<string, string>, error: (message: string) => ServiceError): void {
  const keys = Object.keys(tags);
  if (keys.length > MAX_TAGS) throw error(`A resource can have at most ${MAX_TAGS} tags; ${keys.length} were given.`);
  const reserved = keys.find((k) => k.toLowerCase().startsWith('aws:'));
  if (reserved !== undefined) throw error(`Tag key ${reserved} is invalid: the aws: prefix is reserved for AWS use.`);
  const long = keys.find((k) => k.length > 128 || (tags[k] ?? '').length > 256);
  if (long !== undefined) throw error(`Tag ${long} is invalid: keys are at most 128 characters, values at most 256.`);
}

/** Sorted items after the token's key; the token names the last item given, so deletions between pages skip nothing. */
function page<T>(items: readonly T[], keyOf: (item: T) => string, q: { maxResults?: number; nextToken?: string }, clusterName: string): Page<T> {
  const max = q.maxResults ?? MAX_PAGE;
  if (!Number.isInteger(max) || max < 1 || max > MAX_PAGE) throw invalid(`maxResults must be between 1 and ${MAX_PAGE}; ${String(q.maxResults)} was given.`, clusterName);
  let start = 0;
  if (q.nextToken !== undefined) {
    const after = decodeToken(q.nextToken);
    if (after === undefined) throw invalid('The nextToken is invalid.', clusterName);
    start = items.findIndex((i) => compare(keyOf(i), after) > 0);
    if (start === -1) start = items.length;
  }
  const slice = items.slice(start, start + max);
  const last = slice.at(-1);
  return start + max < items.length && last !== undefined ? { items: slice, nextToken: encodeToken(keyOf(last)) } : { items: slice };
}

function encodeToken(key: string): string {
  return Buffer.from(JSON.stringify({ after: key })).toString('base64url');
}

function decodeToken(token: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    const after = (parsed as { after?: unknown } | null)?.after;
    return typeof after === 'string' ? after : undefined;
  } catch {
    return undefined;
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function partitionOf(arn: string): string {
  return /^arn:([\w-]+):/.exec(arn)?.[1] ?? 'aws';
}

/** EKS matches the principal (by its unique ID): an assumed-role session matches its role whatever the role's path. */
function matches(principalArn: string, callerArn: string): boolean {
  const p = PRINCIPAL.exec(principalArn);
  if (p === null) return false;
  const session = ASSUMED_ROLE.exec(callerArn);
  if (session !== null) return p[3] === 'role' && p[2] === session[2] && p[5] === session[3];
  const c = PRINCIPAL.exec(callerArn);
  return c !== null && c[2] === p[2] && c[3] === p[3] && c[5] === p[5];
}

function grant(e: AccessEntry): AccessGrant {
  return {
    principalArn: e.principalArn,
    type: e.type,
    username: e.username,
    kubernetesGroups: [...e.kubernetesGroups],
    policies: [...e.policies.values()].map((p) => ({ policyArn: p.policyArn, accessScope: p.accessScope })),
  };
}
