/**
 * Reading aws-auth the way aws-iam-authenticator does: `mapRoles`/`mapUsers` are YAML strings
 * holding lists (see `yaml.ts` for the dialect); entry field names match case-insensitively; an
 * item without an ARN is skipped by the authenticator and kept verbatim here; a key that does not
 * parse is fatal for every entry under it, so it is refused unless a repair is asked for
 * (`ReadOptions.repair`, `repair.ts`). Which entries eks-auth-sync owns is read from an annotation.
 */
import { createHash } from 'node:crypto';
import type { ConfigMap } from '../../configmap.js';
import { BrokenAwsAuthError } from '../../errors.js';
import { arnKey, type Warning } from '../../mappings.js';
import { repairWarnings, salvageList } from './repair.js';
import { isRecord, readList, splitFirstDocument, splitLines, type LaterDocuments } from './yaml.js';

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

/**
 * Which entries eks-auth-sync wrote. An annotation, not a field inside entries, because eksctl
 * re-serialises entries and drops fields it does not know, but keeps metadata.
 *
 * Value: `v1:` then the sorted, comma-separated `ownershipMark` of every owned entry. A mark is
 * 11 characters, so 7,000 entries take 84 KB, well under the 256 KiB limit on all annotations
 * together; storing ARNs (60+ characters each) would not fit. Sorted, so it is deterministic.
 */
export const OWNED_ANNOTATION = 'eks-auth-sync.io/owned';
export const OWNED_PREFIX = 'v1:';

export const LIST_KEY = { role: 'mapRoles', user: 'mapUsers' } as const;
export const ARN_FIELD = { role: 'rolearn', user: 'userarn' } as const;
export const KINDS: readonly EntryKind[] = ['role', 'user'];

/**
 * The ownership mark of one entry: the first 64 bits of SHA-256 over `kind:arnKey`, base64url.
 * At 7,000 entries the chance that any foreign entry's mark collides with an owned one is about
 * 4e-16 per entry; the kind is hashed in so a role ARN under `mapUsers` is a different entry.
 */
export function ownershipMark(kind: EntryKind, arn: string): string {
  return createHash('sha256').update(`${kind}:${arnKey(arn)}`).digest().subarray(0, 8).toString('base64url');
}

// Go's encoding/json matches field names with Unicode case folding, where `ſ` folds to `s`.
function foldFieldName(name: string): string {
  return name.toLowerCase().replace(/ſ/g, 's');
}

/** The fields of an item by folded name; when two spellings fold together the later wins, as in Go. */
export function foldedFields(item: Record<string, unknown>): Map<string, unknown> {
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
 * Whether the authenticator reads a value as no entries without parsing it: blank, or an empty
 * quoted string. Pinned to `isSkippable` in aws-iam-authenticator's pkg/mapper/configmap/configmap.go,
 * which trims with Go's `strings.TrimSpace` (Unicode White_Space) and accepts exactly these.
 */
function isSkippable(text: string): boolean {
  const trimmed = text.replace(/^\p{White_Space}+|\p{White_Space}+$/gu, '');
  return trimmed === '' || trimmed === '``' || trimmed === '""' || trimmed === "''";
}

/** What of the text after a value's first YAML document a repair drops. */
function laterDocumentsDropped(key: RepairedKey['key'], later: LaterDocuments): DroppedChunk {
  const parts = splitLines(later.text);
  const lines = parts.filter((_, i) => i % 2 === 0);
  let last = lines.length;
  while (last > 1 && (lines[last - 1] ?? '').trim() === '') last--;
  return {
    key,
    firstLine: later.firstLine,
    lastLine: later.firstLine + last - 1,
    problem: 'after the first YAML document, which is all the authenticator reads: these entries have never been in force',
    // Up to the last line with content, without the break that ends it (CR LF as one).
    text: parts.slice(0, 2 * last - 1).join(''),
  };
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
    if (text === undefined || isSkippable(text)) continue;
    const { first, later } = splitFirstDocument(text);
    const read = readList(first);
    let items: unknown[];
    if ('problem' in read || later) {
      const broken = 'problem' in read ? read : undefined;
      if (!options.repair) throw new BrokenAwsAuthError(key, broken?.problem, broken?.position, later?.firstLine);
      const salvaged = 'items' in read ? { items: read.items, dropped: [] } : salvageList(key, first);
      if (later) salvaged.dropped.push(laterDocumentsDropped(key, later));
      const why = [
        ...(broken ? [`${broken.problem}${broken.position ? ` at line ${broken.position.line}, column ${broken.position.col}` : ''}`] : []),
        ...(later ? [`a second YAML document starts at line ${later.firstLine}`] : []),
      ].join('; ');
      repaired.push({ kind, key, problem: why, dropped: salvaged.dropped });
      warnings.push(...repairWarnings(key, why, salvaged));
      items = salvaged.items;
    } else {
      items = read.items;
    }
    lists[kind] = items.map((raw) => toLiveEntry(kind, raw));
  }
  return { configMap: cm, roles: lists.role, users: lists.user, ownedMarks: readOwnedMarks(cm, warnings), repaired, warnings };
}
