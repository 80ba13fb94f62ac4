/**
 * The model: what aws-auth maps. A role or user ARN to a Kubernetes username and groups.
 *
 * ARNs are branded strings so a role ARN cannot be passed where a user ARN is expected.
 */

import { stringify } from 'yaml';

/** `arn:<partition>:iam::<account>:role/<name>`, always without an IAM path (see `canonicalRoleArn`). */
export type RoleArn = string & { readonly __brand: 'RoleArn' };
/** `arn:<partition>:iam::<account>:user/<path/><name>`, with its path. */
export type UserArn = string & { readonly __brand: 'UserArn' };

/**
 * An EKS access policy a mapping grants: `{policy: AmazonEKSViewPolicy, namespaces: [dev, team-*]}`.
 * Only the access-entries target can express it; without `namespaces` the scope is the cluster.
 */
export interface AccessPolicySpec {
  /** The access policy's name, e.g. `AmazonEKSViewPolicy`. */
  policy: string;
  /** Namespaces (wildcards such as `team-*` allowed) the policy applies in; absent: the whole cluster. */
  namespaces?: string[];
}

/** A node mapping's kind, as the IAM scanner's `type` tag names it. */
export type NodeType = 'node' | 'fargateNode';

/** What a mapping says beyond aws-auth's three fields; only the access-entries target reads it. */
export interface AccessEntryDetails {
  /** Access policies to associate (access-entries target only). */
  accessPolicies?: AccessPolicySpec[];
  /** The ARN as the source gave it, IAM path included when known: access entries need the path, aws-auth must not have it. */
  sourceArn?: string;
  /** Set on the node presets of the IAM scanner's `type` tag. */
  nodeType?: NodeType;
}

/** Where within its source a mapping came from; the plans show it after the scanner's name. */
export interface MappingOrigin {
  /**
   * What in the source produced the entry, e.g. the IAM group `developers` or the permission set
   * `AdministratorAccess`: the plan then says `(from iamGroups[1]: developers)`. Absent: the scanner's name alone.
   */
  sourceDetail?: string;
}

/** One `mapRoles` entry as eks-auth-sync produces it. */
export interface RoleMapping extends AccessEntryDetails, MappingOrigin {
  rolearn: RoleArn;
  username: string;
  groups: string[];
}

/** One `mapUsers` entry as eks-auth-sync produces it. */
export interface UserMapping extends AccessEntryDetails, MappingOrigin {
  userarn: UserArn;
  username: string;
  groups: string[];
}

/** The desired or live content of aws-auth's `mapRoles` and `mapUsers`. */
export interface Mappings {
  users: UserMapping[];
  roles: RoleMapping[];
}

/** A problem that skipped one identity or entry but did not stop the run. */
export interface Warning {
  /** The scanner (its `name`, else `type[index]`) or component that reported it. */
  source: string;
  /** The ARN or entry it is about, when there is one. */
  subject?: string;
  message: string;
}

/**
 * How far a source is trusted, by its type. `operator`: static, file and SSM sources, written by
 * whoever runs the tool; they may change any entry. `tags`: IAM tags, which anyone allowed to tag
 * an identity writes; they may not rewrite an aws-auth entry eks-auth-sync does not own.
 */
export type SourceTrust = 'operator' | 'tags';

/** What one scanner found. */
export interface ScanResult {
  /** The scanner's display name: its `name`, else `<type>[<index>]`, e.g. `iam[2]`. */
  source: string;
  /** Set by `runScanners` from the scanner's type, never from its name. */
  trust: SourceTrust;
  mappings: Mappings;
  warnings: Warning[];
}

/**
 * The key aws-iam-authenticator matches on: it lowercases the canonical ARN, so two entries
 * whose ARNs differ only in case are the same entry.
 */
export function arnKey(arn: string): string {
  return arn.toLowerCase();
}

/** What the sources say aws-auth should hold, and where each entry came from. */
export interface DesiredState {
  mappings: Mappings;
  /**
   * `arnKey(arn)` → where the entry came from: the scanner's display name, followed by its
   * `sourceDetail` when it has one (`iamGroups[1]: developers`).
   */
  sourceOf: ReadonlyMap<string, string>;
  /** `arnKey(arn)` of every entry that came from a `tags` source (see `SourceTrust`). */
  fromTags: ReadonlySet<string>;
  warnings: Warning[];
}

const PARTITION = 'aws(?:-[a-z]+)*';
const PATH = '/(?:[\\x21-\\x2e\\x30-\\x7e]+/)*';
const NAME = '[\\w+=,.@-]{1,128}';
const ROLE_ARN = new RegExp(`^arn:(${PARTITION}):iam::(\\d{12}):role(${PATH})(${NAME})$`);
const USER_ARN = new RegExp(`^arn:(${PARTITION}):iam::(\\d{12}):user(${PATH})(${NAME})$`);

/** The parts of an IAM role or user ARN. */
export interface ParsedArn {
  partition: string;
  accountId: string;
  /** The IAM path, `/` when there is none, e.g. `/aws-reserved/sso.amazonaws.com/`. */
  path: string;
  name: string;
}

function parseWith(re: RegExp, arn: string): ParsedArn | undefined {
  const m = re.exec(arn);
  if (!m) return undefined;
  const [, partition = '', accountId = '', path = '/', name = ''] = m;
  return { partition, accountId, path, name };
}

/**
 * Parses an IAM role ARN of any partition (`aws`, `aws-cn`, `aws-us-gov`, ...), with or without a path.
 * @example parseRoleArn('arn:aws-cn:iam::123456789012:role/ops/Admin') // { partition: 'aws-cn', path: '/ops/', name: 'Admin', ... }
 */
export function parseRoleArn(arn: string): ParsedArn | undefined {
  return parseWith(ROLE_ARN, arn);
}

/** Parses an IAM user ARN of any partition, with or without a path. */
export function parseUserArn(arn: string): ParsedArn | undefined {
  return parseWith(USER_ARN, arn);
}

/**
 * The role ARN as aws-iam-authenticator matches it: without the IAM path, partition kept. The
 * authenticator turns an assumed-role ARN into `arn:<p>:iam::<acct>:role/<name>`, so a `rolearn`
 * with a path never matches anyone.
 * @example canonicalRoleArn('arn:aws:iam::111122223333:role/x/y/Name') // 'arn:aws:iam::111122223333:role/Name'
 * @throws Error when `arn` is not an IAM role ARN.
 */
export function canonicalRoleArn(arn: string): RoleArn {
  const p = parseRoleArn(arn);
  if (!p) throw new Error(`not an IAM role ARN: ${JSON.stringify(arn)}`);
  return `arn:${p.partition}:iam::${p.accountId}:role/${p.name}` as RoleArn;
}

/** Why `arn` is not a valid role ARN, or undefined when it is one. */
export function roleArnProblem(arn: string): string | undefined {
  return parseRoleArn(arn) ? undefined : `${quoteValue(arn)} is not an IAM role ARN (arn:<partition>:iam::<12-digit account>:role/[path/]<name>)`;
}

/** Why `arn` is not a valid user ARN, or undefined when it is one. */
export function userArnProblem(arn: string): string | undefined {
  return parseUserArn(arn) ? undefined : `${quoteValue(arn)} is not an IAM user ARN (arn:<partition>:iam::<12-digit account>:user/[path/]<name>)`;
}

// Characters safe in aws-auth entries however they are rendered (no YAML indicators, quotes,
// spaces, commas or brackets), so a name can never change the structure around it.
const SAFE_NAME = /^[A-Za-z0-9_.:@/+=~-]+$/;
const TEMPLATES = ['AccountID', 'SessionName', 'SessionNameRaw', 'AccessKeyID', 'EC2PrivateDNSName'];
const KNOWN_TEMPLATE = new RegExp(`\\{\\{(?:${TEMPLATES.join('|')})\\}\\}`, 'g');
const MAX_NAME = 256;
const MAX_QUOTED = 80;

/**
 * `value` as JSON, cut to its first characters when long, for error messages and warnings.
 * @example quoteValue('ldap') // '"ldap"'
 */
export function quoteValue(value: string): string {
  if (value.length <= MAX_QUOTED) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, MAX_QUOTED - 20))}… (${value.length} characters)`;
}

/**
 * Usernames no mapping from a tag may give, and EKS access entries refuse: Kubernetes' own
 * (`system:`) and EKS's and AWS's (`eks:addon-manager`, …), since RBAC binds such users.
 */
export const RESERVED_USERNAME_PREFIXES: readonly string[] = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'];

/**
 * What a name can start with once the authenticator renders its templates, which it does in the
 * username and in every group before using them. A template never renders a colon, but whoever
 * assumes a role picks its session name (`[\w+=,.@-]*`), and for an IAM user `{{SessionName}}`
 * renders empty; so the text up to the first colon is fixed only if no template stands before it.
 * - `fixed`: every rendering starts with `prefix`: the whole name when it has no template, else
 *   the literal text before its first template, which holds a colon. EKS access entries accept
 *   a template only in this form.
 * - `colonFree`: a template, and no colon after it: no rendering holds a colon, so none can start
 *   with a reserved `word:` prefix.
 * - `chosen`: a template stands before the first colon and so decides what precedes it;
 *   `example` is one rendering, a reserved one where the session name can make one.
 */
export type RenderedPrefix =
  | { kind: 'fixed'; prefix: string }
  | { kind: 'colonFree' }
  | { kind: 'chosen'; example: string };

// What the templates nobody chooses render in an example (the account, the key, the node's name).
const TEMPLATE_SAMPLES = new Map([
  ['{{AccountID}}', '111122223333'], ['{{AccessKeyID}}', 'ASIAIOSFODNN7EXAMPLE'], ['{{EC2PrivateDNSName}}', 'ip-10-0-0-1.ec2.internal'],
]);

/** `name` with its templates rendered, `session` as the session name (it holds no `@`, so both forms agree). */
function renderWith(name: string, session: string): string {
  return name.replace(KNOWN_TEMPLATE, (t) => TEMPLATE_SAMPLES.get(t) ?? session);
}

/**
 * What every rendering of `name` starts with, as far as reserved prefixes go (see {@link RenderedPrefix}).
 * @example renderedPrefix('dev:{{SessionName}}') // { kind: 'fixed', prefix: 'dev:' }
 * @example renderedPrefix('{{SessionName}}') // { kind: 'colonFree' }
 * @example renderedPrefix('{{SessionName}}:kube-scheduler') // { kind: 'chosen', example: 'system:kube-scheduler' }
 */
export function renderedPrefix(name: string): RenderedPrefix {
  const first = name.search(new RegExp(KNOWN_TEMPLATE.source));
  if (first < 0) return { kind: 'fixed', prefix: name };
  if (name.slice(0, first).includes(':')) return { kind: 'fixed', prefix: name.slice(0, first) };
  const colon = name.indexOf(':', first);
  if (colon < 0) return { kind: 'colonFree' };
  const head = name.slice(0, colon);
  // A session name that makes the head a reserved word is a substring of that word.
  for (const reserved of RESERVED_USERNAME_PREFIXES) {
    const word = reserved.slice(0, -1);
    for (let from = 0; from <= word.length; from++) {
      for (let to = from; to <= word.length; to++) {
        const session = word.slice(from, to);
        if (renderWith(head, session) === word) return { kind: 'chosen', example: renderWith(name, session) };
      }
    }
  }
  return { kind: 'chosen', example: renderWith(name, 'alice') };
}

/**
 * The first of `prefixes` (each a word and a colon, e.g. `system:`) that some rendering of `name`
 * can start with, or undefined when none can.
 * @example reservedPrefix('sys{{SessionName}}:x') // 'system:'
 */
export function reservedPrefix(name: string, prefixes: readonly string[] = RESERVED_USERNAME_PREFIXES): string | undefined {
  const rendered = renderedPrefix(name);
  if (rendered.kind === 'colonFree') return undefined;
  const start = rendered.kind === 'fixed' ? rendered.prefix : rendered.example;
  return prefixes.find((p) => start.startsWith(p));
}

function nameProblem(kind: string, value: string, safe: string): string | undefined {
  if (value === '') return `empty ${kind}`;
  if (value.length > MAX_NAME) return `${kind} ${quoteValue(value)} is longer than ${MAX_NAME} characters`;
  if (value.trim() !== value) return `${kind} ${quoteValue(value)} has leading or trailing whitespace`;
  if (/[\x00-\x1f\x7f]/.test(value)) return `${kind} ${quoteValue(value)} contains a control character`;
  if (!SAFE_NAME.test(safe)) {
    return `${kind} ${quoteValue(value)} may only contain letters, digits and _ . : @ / + = ~ -`;
  }
  return undefined;
}

/**
 * Why `username` cannot be a Kubernetes username in aws-auth, or undefined when it can. The
 * authenticator's templates (`{{SessionName}}`, `{{EC2PrivateDNSName}}`, ...) are allowed, but
 * not before the first colon when one follows: there the session name would pick the prefix, and
 * `{{SessionName}}:kube-scheduler` renders `system:kube-scheduler` for the session `system`.
 * A literal reserved prefix (`system:node:{{EC2PrivateDNSName}}`) is allowed here; the iam
 * scanner refuses those separately.
 * @example validateUsername('admin:{{SessionName}}') // undefined
 */
export function validateUsername(username: string): string | undefined {
  if (username.replace(KNOWN_TEMPLATE, '').includes('{{')) {
    const known = TEMPLATES.map((t) => `{{${t}}}`).join(', ');
    return `username ${quoteValue(username)} uses an unknown template (known: ${known})`;
  }
  const problem = nameProblem('username', username, username.replace(KNOWN_TEMPLATE, 'x'));
  if (problem) return problem;
  const rendered = renderedPrefix(username);
  if (rendered.kind === 'chosen') {
    return `username ${quoteValue(username)} has a template before its first ":", so the session name picks its prefix ` +
      `(it can render ${quoteValue(rendered.example)}); start it with a literal prefix and a colon, e.g. "dev:{{SessionName}}"`;
  }
  return undefined;
}

/**
 * Why `groups` cannot be an entry's groups, or undefined when every name is valid. Groups take no
 * templates: the authenticator renders them in groups too, so a session name could pick a group.
 */
export function validateGroups(groups: readonly string[]): string | undefined {
  for (const g of groups) {
    if (g.includes('{{')) return `group name ${quoteValue(g)} contains a template; groups cannot use templates`;
    const problem = nameProblem('group name', g, g);
    if (problem) return problem;
  }
  return undefined;
}

function uniq(values: readonly string[]): string[] {
  return [...new Set(values)];
}

function byArn<T>(arnOf: (e: T) => string): (a: T, b: T) => number {
  // Code-unit order, not localeCompare: output must not depend on the machine's locale.
  return (a, b) => {
    const x = arnKey(arnOf(a));
    const y = arnKey(arnOf(b));
    return x < y ? -1 : x > y ? 1 : 0;
  };
}

type Entry = AccessEntryDetails & { username: string; groups: string[] };

/** `specs` as one line, e.g. `AmazonEKSViewPolicy (dev, team-*), AmazonEKSEditPolicy (cluster)`; empty when there are none. */
export function describeAccessPolicies(specs: readonly AccessPolicySpec[] | undefined): string {
  return (specs ?? []).map((p) => `${p.policy} (${p.namespaces === undefined ? 'cluster' : p.namespaces.join(', ')})`).join(', ');
}

/** Whether two entries grant the same: aws-auth's fields, and what only access entries read. No policies and `[]` are the same. */
function sameEntry(a: Entry, b: Entry): boolean {
  return a.username === b.username && a.groups.join('\n') === b.groups.join('\n') && a.nodeType === b.nodeType &&
    describeAccessPolicies(a.accessPolicies) === describeAccessPolicies(b.accessPolicies);
}

/** A deep copy of `specs`, so whoever receives it cannot change the original's lists. */
export function copyAccessPolicies(specs: readonly AccessPolicySpec[]): AccessPolicySpec[] {
  return specs.map((p) => (p.namespaces === undefined ? { policy: p.policy } : { policy: p.policy, namespaces: [...p.namespaces] }));
}

/** The access-entry fields of `entry`, copied; `sourceArn` defaults to the ARN as the source wrote it. */
function details(entry: AccessEntryDetails, writtenArn: string): AccessEntryDetails {
  const out: AccessEntryDetails = { sourceArn: entry.sourceArn ?? writtenArn };
  if (entry.nodeType !== undefined) out.nodeType = entry.nodeType;
  if (entry.accessPolicies !== undefined) out.accessPolicies = copyAccessPolicies(entry.accessPolicies);
  return out;
}

/**
 * Joins what the scanners found into one desired state.
 *
 * Precedence is deterministic: the scanner listed EARLIER in the config wins, and within one
 * scanner the first entry wins. Every other entry for the same ARN (compared as the authenticator
 * does, case-insensitively) is dropped with a warning naming both sources, identical or not.
 * Entries are identical when username, groups, node type and access policies all are.
 * Role ARNs with an IAM path are written without it, with a warning; `sourceArn` keeps the ARN
 * as the source gave it (path included), since access entries need the path. Groups keep their
 * order, duplicates removed. Users and roles are sorted by `arnKey`, so equal inputs give equal output.
 */
export function mergeScanResults(results: readonly ScanResult[]): DesiredState {
  const warnings: Warning[] = results.flatMap((r) => r.warnings);
  const sourceOf = new Map<string, string>();
  // The scanner alone, without the detail: "earlier in the same source" is about scanners.
  const scannerOf = new Map<string, string>();
  const fromTags = new Set<string>();
  const users = new Map<string, UserMapping>();
  const roles = new Map<string, RoleMapping>();

  const add = <T extends Entry>(
    into: Map<string, T>, arn: string, entry: T, { source, trust }: ScanResult, detail: string | undefined,
  ): void => {
    const key = arnKey(arn);
    const kept = into.get(key);
    const keptSource = sourceOf.get(key);
    const label = detail === undefined ? source : `${source}: ${detail}`;
    if (kept && keptSource !== undefined) {
      const keptPolicies = describeAccessPolicies(kept.accessPolicies);
      const how = sameEntry(kept, entry)
        ? 'an identical entry'
        : `a different entry (kept username ${JSON.stringify(kept.username)}, groups [${kept.groups.join(', ')}]${keptPolicies === '' ? '' : `, access policies ${keptPolicies}`})`;
      const where = scannerOf.get(key) === source
        ? `earlier in the same source${keptSource === source ? '' : ` ("${keptSource}")`}`
        : `by "${keptSource}", which is listed earlier`;
      warnings.push({ source: label, subject: arn, message: `${how} is already mapped ${where}; this entry is ignored` });
      return;
    }
    into.set(key, entry);
    sourceOf.set(key, label);
    scannerOf.set(key, source);
    if (trust === 'tags') fromTags.add(key);
  };

  for (const r of results) {
    for (const u of r.mappings.users) {
      add(users, u.userarn, { userarn: u.userarn, username: u.username, groups: uniq(u.groups), ...details(u, u.userarn) }, r, u.sourceDetail);
    }
    for (const role of r.mappings.roles) {
      const canonical = canonicalRoleArn(role.rolearn);
      if (canonical !== role.rolearn) {
        warnings.push({
          source: r.source,
          subject: role.rolearn,
          message: `role ARN has an IAM path, which the authenticator never matches; written as ${canonical}`,
        });
      }
      add(roles, canonical, { rolearn: canonical, username: role.username, groups: uniq(role.groups), ...details(role, role.rolearn) }, r, role.sourceDetail);
    }
  }
  return {
    mappings: {
      users: [...users.values()].sort(byArn((u) => u.userarn)),
      roles: [...roles.values()].sort(byArn((r) => r.rolearn)),
    },
    sourceOf,
    fromTags,
    warnings,
  };
}

/** An entry's `accessPolicies` as the mappings document writes them, when it has any. */
function renderedPolicies(e: AccessEntryDetails): { accessPolicies?: AccessPolicySpec[] } {
  if (e.accessPolicies === undefined || e.accessPolicies.length === 0) return {};
  return { accessPolicies: copyAccessPolicies(e.accessPolicies) };
}

/**
 * Renders mappings as the YAML document the original eks-auth-sync printed: top-level `users`
 * then `roles`, each sorted by ARN, plus `accessPolicies` on the entries that have any (the
 * document's own syntax, so the output reads back as a static, file or SSM source).
 * Byte-identical for equal input.
 */
export function renderMappingsYaml(m: Mappings): string {
  const doc = {
    users: [...m.users].sort(byArn((u) => u.userarn))
      .map((u) => ({ userarn: u.userarn, username: u.username, groups: [...u.groups], ...renderedPolicies(u) })),
    roles: [...m.roles].sort(byArn((r) => r.rolearn))
      .map((r) => ({ rolearn: r.rolearn, username: r.username, groups: [...r.groups], ...renderedPolicies(r) })),
  };
  return stringify(doc, { lineWidth: 0 });
}
