/**
 * aws-auth as data: read it the way aws-iam-authenticator does, plan the change from the desired
 * mappings (ownership, merge or replace), render it, and refuse unsafe writes. Pure: no I/O, no clock.
 *
 * Reading follows the authenticator: `mapRoles`/`mapUsers` are YAML strings holding lists
 * (YAML 1.1, as Go's yaml.v2 reads it, so `yes` is a boolean); entry field names match
 * case-insensitively; an item without an ARN is skipped by the authenticator and kept verbatim
 * here; a key that does not parse is fatal for every entry under it, so it is refused unless a
 * repair is asked for (`ReadOptions.repair`).
 */
import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Document, isScalar, parseDocument, visit, type DocumentOptions, type ParseOptions, type ScalarTag, type SchemaOptions, type ToStringOptions } from 'yaml';
import type { SyncSettings } from './config.js';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, type ConfigMap } from './configmap.js';
import {
  BrokenAwsAuthError,
  EmptySourcesGuardError,
  MaxRemovalsGuardError,
  ObjectTooLargeGuardError,
  RoundTripGuardError,
  SelfLockoutGuardError,
} from './errors.js';
import { arnKey, type DesiredState, type Warning } from './mappings.js';
import { yamlNestingProblem } from './yaml-limits.js';

export type EntryKind = 'role' | 'user';

/** One item of `mapRoles` or `mapUsers` as read from the cluster. */
export interface LiveEntry {
  kind: EntryKind;
  /** The ARN the authenticator matches on; null when the item has none (invalid, or SSO-only). */
  arn: string | null;
  /** The username as the authenticator reads it ('' when missing or not a string). */
  username: string;
  /** The groups as the authenticator reads them. */
  groups: string[];
  /** The item exactly as parsed, field spellings and unknown fields included. */
  raw: unknown;
}

/** The live aws-auth, parsed. */
export interface LiveAwsAuth {
  /** The object as read (metadata, other data keys); null when aws-auth does not exist. */
  configMap: ConfigMap | null;
  roles: LiveEntry[];
  users: LiveEntry[];
  /** Ownership marks read from the `OWNED_ANNOTATION` (see `ownershipMark`). */
  ownedMarks: ReadonlySet<string>;
  /** Keys that were broken and read piece by piece (only with the `repair` option); a plan rewrites them. */
  repaired: RepairedKey[];
  warnings: Warning[];
}

/** A broken `mapRoles`/`mapUsers` read with the `repair` option. */
export interface RepairedKey {
  kind: EntryKind;
  key: 'mapRoles' | 'mapUsers';
  /** Why the whole value does not parse. */
  problem: string;
  /** The pieces that could not be read; everything else was. */
  dropped: DroppedChunk[];
}

/** Lines of a broken `mapRoles`/`mapUsers` that repair could not read, so a repaired aws-auth lacks them. */
export interface DroppedChunk {
  key: 'mapRoles' | 'mapUsers';
  /** 1-based, inclusive, counted in the data key's value. */
  firstLine: number;
  lastLine: number;
  problem: string;
  /** The dropped text verbatim, to put back by hand once fixed. */
  text: string;
}

/** How to read aws-auth. */
export interface ReadOptions {
  /**
   * Read a broken `mapRoles`/`mapUsers` piece by piece instead of refusing it (config
   * `sync.repairBrokenAwsAuth`): what parses is kept, the rest is reported in `repaired`.
   * @default false
   */
  repair?: boolean;
}

/** One entry in a plan, with where it comes from. */
export interface PlannedEntry {
  kind: EntryKind;
  arn: string;
  username: string;
  groups: string[];
  /** The scanner's name, or `SOURCE_PREVIOUSLY_SYNCED` / `SOURCE_NOT_MANAGED`. */
  source: string;
}

/** What a sync would change in aws-auth. Lists are sorted by kind (roles first), then ARN. */
export interface Plan {
  added: PlannedEntry[];
  removed: PlannedEntry[];
  changed: { before: PlannedEntry; after: PlannedEntry }[];
  /** Desired entries already present, unchanged and owned. */
  unchangedCount: number;
  /** Entries eks-auth-sync does not manage, kept as they are (merge mode). */
  keptForeignCount: number;
  /** The ConfigMap to write; null when nothing changed and nothing must be written. */
  next: ConfigMap | null;
  /** What a repair of a broken key leaves out (see `ReadOptions.repair`); empty otherwise. */
  dropped: DroppedChunk[];
  warnings: Warning[];
}

/** The identity eks-auth-sync runs as; `canonicalArn` is the ARN aws-auth would map (assumed role → role). */
export interface SelfIdentity {
  arn: string;
  canonicalArn: string;
}

/** Renders one `mapRoles`/`mapUsers` list. Replaceable only so tests can prove the round-trip guard. */
export type ListRenderer = (items: readonly unknown[]) => string;

export interface PlanInput {
  desired: DesiredState;
  live: LiveAwsAuth;
  settings: Pick<SyncSettings, 'mode' | 'allowEmpty' | 'maxRemovals'>;
  self?: SelfIdentity;
  /** Tests only: a renderer with a bug, to show the round-trip guard refuses its output. */
  renderList?: ListRenderer;
}

export const SOURCE_PREVIOUSLY_SYNCED = 'aws-auth (previously synced)';
export const SOURCE_NOT_MANAGED = 'aws-auth (not managed)';

/**
 * Which entries eks-auth-sync wrote. An annotation, not a field inside entries, because eksctl
 * re-serialises entries and drops fields it does not know, but keeps metadata.
 *
 * Value: `v1:` then the sorted, comma-separated `ownershipMark` of every owned entry. A mark is
 * 11 characters, so 7,000 entries take 84 KB, well under the 256 KiB limit on all annotations
 * together; storing ARNs (60+ characters each) would not fit. Sorted, so it is deterministic.
 */
export const OWNED_ANNOTATION = 'eks-auth-sync.io/owned';
const OWNED_PREFIX = 'v1:';

/** 1 MiB: etcd's default request limit, which caps any Kubernetes object. */
export const MAX_OBJECT_BYTES = 1_048_576;
/** 256 KiB: the API server's limit on all annotations of one object together. */
export const MAX_ANNOTATIONS_BYTES = 262_144;

const LIST_KEY = { role: 'mapRoles', user: 'mapUsers' } as const;
const ARN_FIELD = { role: 'rolearn', user: 'userarn' } as const;
const KINDS: readonly EntryKind[] = ['role', 'user'];

/**
 * The ownership mark of one entry: the first 64 bits of SHA-256 over `kind:arnKey`, base64url.
 * At 7,000 entries the chance that any foreign entry's mark collides with an owned one is about
 * 4e-16 per entry; the kind is hashed in so a role ARN under `mapUsers` is a different entry.
 */
export function ownershipMark(kind: EntryKind, arn: string): string {
  return createHash('sha256').update(`${kind}:${arnKey(arn)}`).digest().subarray(0, 8).toString('base64url');
}

// Go's yaml.v2 (used by the authenticator) reads YAML 1.1; the exotic 1.1 types it would not turn
// into JSON are left out so every parsed value is plain data. Integers as BigInt: a foreign
// entry's large number must survive a rewrite exactly.
const EXOTIC_TAGS = new Set(['binary', 'omap', 'pairs', 'set', 'timestamp'].map((t) => `tag:yaml.org,2002:${t}`));
const YAML_READ: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  uniqueKeys: false,
  merge: true,
  intAsBigInt: true,
  customTags: (tags) => tags.filter((t) => typeof t === 'string' || !EXOTIC_TAGS.has(t.tag)),
};
/**
 * Integers are read as BigInt, so a JS number is always a YAML float. YAML 1.1 floats need a
 * dot: `1.0` written as `1` would read back as an integer, and `1e+21` as a string.
 */
const FLOAT_1_1: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  identify: (v) => typeof v === 'number' && Number.isFinite(v),
  // Only writes use this tag, but the library prefers tags with a `test` when several identify a value.
  test: /^[-+]?\d*\.\d*(?:e[-+]\d+)?$/,
  resolve: (s) => Number(s),
  stringify: ({ value }) => {
    const n = value as number;
    const [mantissa = '', exponent] = (Object.is(n, -0) ? '-0' : String(n)).split('e');
    const dotted = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
    return exponent === undefined ? dotted : `${dotted}e${exponent}`;
  },
};
const MERGE_TAG = 'tag:yaml.org,2002:merge';
const YAML_WRITE: DocumentOptions & SchemaOptions & ToStringOptions & { aliasDuplicateObjects: boolean } = {
  version: '1.1',
  // Without the merge tag, a literal `<<` key is an ordinary string that renderList can quote.
  customTags: (tags) => [FLOAT_1_1, ...tags.filter((t) => typeof t === 'string' || t.tag !== MERGE_TAG)],
  // Always quoted, so `{{EC2PrivateDNSName}}`, `system:masters`, `yes` and `0123` stay strings.
  defaultStringType: 'QUOTE_DOUBLE',
  defaultKeyType: 'PLAIN',
  lineWidth: 0,
  aliasDuplicateObjects: false,
};

/** Renders a list as a YAML block list; deterministic for equal input. */
export const renderList: ListRenderer = (items) => {
  const doc = new Document(items, YAML_WRITE);
  // A plain `<<` key would read back as a YAML 1.1 merge key (here and in the authenticator), so
  // a foreign entry's literal `<<` field is quoted.
  visit(doc, {
    Pair: (_, pair) => {
      if (isScalar(pair.key) && pair.key.value === '<<') pair.key.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString(YAML_WRITE);
};

type ListRead = { items: unknown[] } | { problem: string; position?: { line: number; col: number } };

function readList(text: string): ListRead {
  const tooDeep = yamlNestingProblem(text);
  if (tooDeep) return { problem: tooDeep };
  const doc = parseDocument(text, YAML_READ);
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    // The parser appends " at line L, column C:" and a code excerpt; the position is reported once, by the caller.
    const problem = (error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '');
    return { problem, ...(pos ? { position: pos } : {}) };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
  if (value === null || value === undefined) return { items: [] };
  if (!Array.isArray(value)) return { problem: `expected a YAML list, found ${typeof value === 'object' ? 'a mapping' : `a ${typeof value}`}` };
  return { items: value };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Go's encoding/json matches field names with Unicode case folding, where `ſ` folds to `s`.
function foldFieldName(name: string): string {
  return name.toLowerCase().replace(/ſ/g, 's');
}

/** The fields of an item by folded name; when two spellings fold together the later wins, as in Go. */
function foldedFields(item: Record<string, unknown>): Map<string, unknown> {
  const fields = new Map<string, unknown>();
  for (const [k, v] of Object.entries(item)) fields.set(foldFieldName(k), v);
  return fields;
}

function toLiveEntry(kind: EntryKind, raw: unknown): LiveEntry {
  if (!isRecord(raw)) return { kind, arn: null, username: '', groups: [], raw };
  const f = foldedFields(raw);
  const arn = f.get(ARN_FIELD[kind]);
  const username = f.get('username');
  const groups = f.get('groups');
  return {
    kind,
    arn: typeof arn === 'string' && arn !== '' ? arn : null,
    username: typeof username === 'string' ? username : '',
    // Go leaves a mistyped element as its zero value and a mistyped list empty.
    groups: Array.isArray(groups) ? groups.map((g) => (typeof g === 'string' ? g : '')) : [],
    raw,
  };
}

function readOwnedMarks(cm: ConfigMap, warnings: Warning[]): Set<string> {
  const value = cm.metadata.annotations?.[OWNED_ANNOTATION];
  if (value === undefined) return new Set();
  if (!value.startsWith(OWNED_PREFIX)) {
    warnings.push({
      source: 'aws-auth',
      message: `annotation ${OWNED_ANNOTATION} is not in a format this version understands; every entry is treated as not managed, so none is removed`,
    });
    return new Set();
  }
  const body = value.slice(OWNED_PREFIX.length);
  return new Set(body === '' ? [] : body.split(','));
}

/**
 * Parses the live aws-auth (null when it does not exist). Every other data key, `mapAccounts`,
 * labels and annotations stay in `configMap` untouched.
 *
 * @throws BrokenAwsAuthError when `mapRoles` or `mapUsers` is not a readable YAML list, unless `options.repair`.
 * @example parseAwsAuth(await store.read()).roles.map((e) => e.arn)
 */
export function parseAwsAuth(cm: ConfigMap | null, options: ReadOptions = {}): LiveAwsAuth {
  const warnings: Warning[] = [];
  const repaired: RepairedKey[] = [];
  if (cm === null) return { configMap: null, roles: [], users: [], ownedMarks: new Set(), repaired, warnings };
  const lists = { role: [] as LiveEntry[], user: [] as LiveEntry[] };
  for (const kind of KINDS) {
    const key = LIST_KEY[kind];
    const text = cm.data?.[key];
    if (text === undefined) continue;
    let read = readList(text);
    if ('problem' in read) {
      const where = read.position ? ` at line ${read.position.line}, column ${read.position.col}` : '';
      if (!options.repair) throw new BrokenAwsAuthError(key, read.problem, read.position);
      const salvaged = salvageList(key, text);
      repaired.push({ kind, key, problem: `${read.problem}${where}`, dropped: salvaged.dropped });
      warnings.push(...repairWarnings(key, `${read.problem}${where}`, salvaged));
      read = salvaged;
    }
    lists[kind] = read.items.map((raw) => toLiveEntry(kind, raw));
  }
  return { configMap: cm, roles: lists.role, users: lists.user, ownedMarks: readOwnedMarks(cm, warnings), repaired, warnings };
}

// A top-level item starts with `-` at the list's indentation; `---` and `...` end a YAML document.
const DOCUMENT_MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/;

/**
 * Reads what can be read of a list that does not parse as a whole: the text is cut where a
 * top-level item or a document marker starts, and each piece is parsed alone, so one bad item
 * costs only itself. A piece that does not parse to a list is dropped and reported.
 */
function salvageList(key: RepairedKey['key'], text: string): { items: unknown[]; dropped: DroppedChunk[] } {
  const lines = text.split('\n');
  const indent = lines.map((l) => /^( *)-(?:[ \t]|$)/.exec(l)?.[1]).find((i) => i !== undefined) ?? '';
  const isStart = (l: string): boolean =>
    DOCUMENT_MARKER.test(l) || (l.startsWith(`${indent}-`) && /^(?:[ \t]|$)/.test(l.slice(indent.length + 1)));
  const starts = [0, ...lines.flatMap((l, i) => (i > 0 && isStart(l) ? [i] : []))];

  const items: unknown[] = [];
  const dropped: DroppedChunk[] = [];
  starts.forEach((first, n) => {
    let last = (starts[n + 1] ?? lines.length) - 1;
    while (last > first && (lines[last] ?? '').trim() === '') last--;
    const chunk = lines.slice(first, last + 1).join('\n');
    const read = readList(chunk);
    if ('items' in read) {
      items.push(...read.items);
      return;
    }
    const where = read.position ? ` (line ${read.position.line + first}, column ${read.position.col})` : '';
    dropped.push({ key, firstLine: first + 1, lastLine: last + 1, problem: `${read.problem}${where}`, text: chunk });
  });
  return { items, dropped };
}

function repairWarnings(key: RepairedKey['key'], problem: string, salvaged: { items: unknown[]; dropped: DroppedChunk[] }): Warning[] {
  const summary: Warning = {
    source: 'aws-auth',
    subject: key,
    message: `"${key}" is broken (${problem}); sync.repairBrokenAwsAuth is set, so it is rewritten from the ` +
      `${salvaged.items.length} item(s) that can be read, dropping ${salvaged.dropped.length} unreadable part(s)`,
  };
  return [summary, ...salvaged.dropped.map((d): Warning => {
    const excerpt = (d.text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 120);
    return {
      source: 'aws-auth',
      subject: key,
      message: `dropped lines ${d.firstLine}-${d.lastLine} of "${key}", which cannot be read (${d.problem}): ${JSON.stringify(excerpt)}`,
    };
  })];
}

interface DesiredEntry {
  kind: EntryKind;
  arn: string;
  username: string;
  groups: string[];
  source: string;
}

function desiredEntries(desired: DesiredState, kind: EntryKind): Map<string, DesiredEntry> {
  const list =
    kind === 'role'
      ? desired.mappings.roles.map((r) => ({ arn: r.rolearn as string, username: r.username, groups: r.groups }))
      : desired.mappings.users.map((u) => ({ arn: u.userarn as string, username: u.username, groups: u.groups }));
  const byKey = new Map<string, DesiredEntry>();
  for (const d of list) {
    const key = arnKey(d.arn);
    if (!byKey.has(key)) {
      byKey.set(key, { kind, ...d, groups: [...d.groups], source: desired.sourceOf.get(key) ?? 'desired state' });
    }
  }
  return byKey;
}

function canonicalItem(d: DesiredEntry): Record<string, unknown> {
  return { [ARN_FIELD[d.kind]]: d.arn, username: d.username, groups: [...d.groups] };
}

/** Same as desired to the authenticator and with no extra fields (a hand-added `userid` is a change). */
function matchesDesired(e: LiveEntry, d: DesiredEntry): boolean {
  if (!isRecord(e.raw)) return false;
  const extra = [...foldedFields(e.raw).keys()].some((k) => k !== ARN_FIELD[e.kind] && k !== 'username' && k !== 'groups');
  return !extra && e.arn === d.arn && e.username === d.username && sameStrings(e.groups, d.groups);
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Deep equality over parsed YAML data (NaN equals NaN, BigInt by value). */
function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameData(a[k], b[k]));
  }
  return false;
}

function describeItem(kind: EntryKind, index: number): string {
  return `(${LIST_KEY[kind]} item ${index + 1}, no ${ARN_FIELD[kind]})`;
}

function planned(e: LiveEntry | DesiredEntry, source: string, index = 0): PlannedEntry {
  return { kind: e.kind, arn: e.arn ?? describeItem(e.kind, index), username: e.username, groups: [...e.groups], source };
}

function byKindThenArn(a: PlannedEntry, b: PlannedEntry): number {
  if (a.kind !== b.kind) return a.kind === 'role' ? -1 : 1;
  const ka = arnKey(a.arn);
  const kb = arnKey(b.arn);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

interface KindPlan {
  items: unknown[];
  liveItems: unknown[];
}

/**
 * Plans the change from `live` to `desired`. Merge mode keeps entries eks-auth-sync does not own,
 * takes over desired ARNs found among them, and removes owned entries no source produces any
 * more; replace mode removes every entry not desired. `mapAccounts`, other data keys, labels
 * and annotations are always kept. Duplicate ARNs collapse to the last (the authenticator's
 * winner). `next` is null when nothing changed.
 *
 * @throws EmptySourcesGuardError, SelfLockoutGuardError, MaxRemovalsGuardError,
 *   ObjectTooLargeGuardError, RoundTripGuardError: the write is refused.
 * @example planAwsAuth({ desired, live: parseAwsAuth(cm), settings: config.sync }).next
 */
export function planAwsAuth(input: PlanInput): Plan {
  const { desired, live, settings } = input;
  const owns = (e: LiveEntry): boolean => e.arn !== null && live.ownedMarks.has(ownershipMark(e.kind, e.arn));
  const warnings: Warning[] = [...live.warnings];

  const desiredCount = desired.mappings.roles.length + desired.mappings.users.length;
  if (desiredCount === 0 && !settings.allowEmpty) {
    const all = [...live.roles, ...live.users];
    const managed = settings.mode === 'replace' ? all.length : all.filter(owns).length;
    if (managed > 0) throw new EmptySourcesGuardError(managed);
  }

  const added: PlannedEntry[] = [];
  const removed: PlannedEntry[] = [];
  const changed: Plan['changed'] = [];
  let unchangedCount = 0;
  let keptForeignCount = 0;
  const marks: string[] = [];

  const planKind = (kind: EntryKind): KindPlan => {
    const entries = kind === 'role' ? live.roles : live.users;
    const want = desiredEntries(desired, kind);
    const lastIndex = new Map<string, number>();
    entries.forEach((e, i) => e.arn !== null && lastIndex.set(arnKey(e.arn), i));

    const foreign: unknown[] = [];
    entries.forEach((e, i) => {
      const key = e.arn === null ? null : arnKey(e.arn);
      if (key !== null && lastIndex.get(key) !== i) {
        warnings.push({ source: 'aws-auth', subject: e.arn ?? undefined, message: `duplicate ${LIST_KEY[kind]} entry collapsed; the last one, which the authenticator uses, is kept` });
        return;
      }
      const d = key === null ? undefined : want.get(key);
      const wasOwned = owns(e);
      const before = planned(e, wasOwned ? SOURCE_PREVIOUSLY_SYNCED : SOURCE_NOT_MANAGED, i);
      if (d) {
        if (wasOwned && matchesDesired(e, d)) unchangedCount++;
        else changed.push({ before, after: planned(d, d.source) });
        if (!wasOwned) {
          warnings.push({ source: 'aws-auth', subject: d.arn, message: `entry was not managed by eks-auth-sync; ${d.source} now produces it, so it is taken over and will be removed when no source produces it` });
        }
      } else if (settings.mode === 'merge' && !wasOwned) {
        keptForeignCount++;
        foreign.push(e.raw);
      } else {
        removed.push(before);
      }
    });

    const present = new Set(entries.flatMap((e) => (e.arn === null ? [] : [arnKey(e.arn)])));
    const managed = [...want.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
    for (const d of managed) {
      if (!present.has(arnKey(d.arn))) added.push(planned(d, d.source));
      marks.push(ownershipMark(kind, d.arn));
    }
    return { items: [...foreign, ...managed.map(canonicalItem)], liveItems: entries.map((e) => e.raw) };
  };
  const kindPlans: Record<EntryKind, KindPlan> = { role: planKind('role'), user: planKind('user') };

  added.sort(byKindThenArn);
  removed.sort(byKindThenArn);
  changed.sort((a, b) => byKindThenArn(a.after, b.after));
  const dropped = live.repaired.flatMap((r) => r.dropped);
  const plan: Plan = { added, removed, changed, unchangedCount, keptForeignCount, next: null, dropped, warnings };

  const annotation = marks.length === 0 ? undefined : OWNED_PREFIX + [...marks].sort().join(',');
  const liveAnnotation = live.configMap?.metadata.annotations?.[OWNED_ANNOTATION];
  const repaired = new Set(live.repaired.map((r) => r.kind));
  if (added.length + removed.length + changed.length === 0 && annotation === liveAnnotation && repaired.size === 0) return plan;

  const render = input.renderList ?? renderList;
  const { next, rendered } = nextConfigMap(live.configMap, kindPlans, annotation, render, repaired);
  checkGuards(plan, next, kindPlans, rendered, settings, input.self);
  plan.next = next;
  return plan;
}

function nextConfigMap(
  cm: ConfigMap | null,
  kindPlans: Record<EntryKind, KindPlan>,
  annotation: string | undefined,
  render: ListRenderer,
  repaired: ReadonlySet<EntryKind>,
): { next: ConfigMap; rendered: EntryKind[] } {
  const next: ConfigMap = cm
    ? structuredClone(cm)
    : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: AWS_AUTH_NAME, namespace: AWS_AUTH_NAMESPACE } };
  const data = { ...next.data };
  const rendered: EntryKind[] = [];
  for (const kind of KINDS) {
    const key = LIST_KEY[kind];
    const { items, liveItems } = kindPlans[kind];
    // An untouched list keeps its text byte for byte (comments, formatting, node roles' layout);
    // a repaired one is rewritten even so, as its text is what is broken.
    if (sameData(items, liveItems) && !repaired.has(kind)) continue;
    data[key] = render(items);
    rendered.push(kind);
  }
  next.data = data;
  const annotations = { ...next.metadata.annotations };
  if (annotation === undefined) delete annotations[OWNED_ANNOTATION];
  else annotations[OWNED_ANNOTATION] = annotation;
  next.metadata.annotations = annotations;
  return { next, rendered };
}

/**
 * Whether `live` holds what the plan that produced `next` writes: the same data and the same
 * ownership annotation (all `nextConfigMap` changes). Recognises a landed write after the fact.
 */
export function holdsPlannedContent(live: ConfigMap, next: ConfigMap): boolean {
  return (
    isDeepStrictEqual(live.data ?? {}, next.data ?? {}) &&
    live.metadata.annotations?.[OWNED_ANNOTATION] === next.metadata.annotations?.[OWNED_ANNOTATION]
  );
}

function checkGuards(
  plan: Plan,
  next: ConfigMap,
  kindPlans: Record<EntryKind, KindPlan>,
  rendered: readonly EntryKind[],
  settings: PlanInput['settings'],
  self: SelfIdentity | undefined,
): void {
  if (self) {
    const selfKey = arnKey(self.canonicalArn);
    const gone = plan.removed.find((e) => arnKey(e.arn) === selfKey);
    if (gone) throw new SelfLockoutGuardError(self.canonicalArn, 'remove');
    const altered = plan.changed.find(
      (c) => arnKey(c.before.arn) === selfKey && (c.before.username !== c.after.username || !sameStrings(c.before.groups, c.after.groups)),
    );
    if (altered) {
      const { before, after } = altered;
      throw new SelfLockoutGuardError(
        self.canonicalArn,
        `change (username ${JSON.stringify(before.username)} → ${JSON.stringify(after.username)}, groups [${before.groups.join(', ')}] → [${after.groups.join(', ')}])`,
      );
    }
  }

  if (plan.removed.length > settings.maxRemovals) {
    throw new MaxRemovalsGuardError(plan.removed.length, settings.maxRemovals, plan.removed.slice(0, 5).map((e) => e.arn));
  }

  const annotationBytes = Object.entries(next.metadata.annotations ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  if (annotationBytes > MAX_ANNOTATIONS_BYTES) throw new ObjectTooLargeGuardError('annotations', annotationBytes, MAX_ANNOTATIONS_BYTES);
  const objectBytes = Buffer.byteLength(JSON.stringify(next));
  if (objectBytes > MAX_OBJECT_BYTES) throw new ObjectTooLargeGuardError('object', objectBytes, MAX_OBJECT_BYTES);

  // A list left as it was is the text that was just parsed as `live`; only rendered ones can differ.
  for (const kind of rendered) {
    const key = LIST_KEY[kind];
    const back = readList(next.data?.[key] ?? '');
    if ('problem' in back) {
      const where = back.position ? ` at line ${back.position.line}, column ${back.position.col}` : '';
      throw new RoundTripGuardError(key, `it does not parse${where}: ${back.problem}`);
    }
    const want = kindPlans[kind].items;
    if (back.items.length !== want.length) {
      throw new RoundTripGuardError(key, `${back.items.length} entries read back, ${want.length} planned`);
    }
    const at = want.findIndex((item, i) => !sameData(item, back.items[i]));
    if (at !== -1) throw new RoundTripGuardError(key, `item ${at + 1} differs`);
  }
}
