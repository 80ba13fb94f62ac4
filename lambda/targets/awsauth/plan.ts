/**
 * Planning the change of aws-auth from the desired mappings: ownership, merge or replace, and the
 * guards that refuse an unsafe write. Pure: no I/O, no clock.
 */
import type { SyncSettings } from '../../config.js';
import { checkEmptySources, checkMaxRemovals, checkSize, protectSelf, type SelfIdentity } from '../../guards.js';
import { arnKey, type DesiredState, type Warning } from '../../mappings.js';
import { ARN_FIELD, foldedFields, LIST_KEY, OWNED_ANNOTATION, OWNED_PREFIX, ownershipMark, type EntryKind, type LiveAwsAuth, type LiveEntry, type DroppedChunk } from './parse.js';
import { checkRoundTrip, nextConfigMap, renderList, type KindPlan, type ListRenderer } from './render.js';
import { isRecord } from './yaml.js';
import type { ConfigMap } from '../../configmap.js';

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
  /** Desired entries already present as they should be: owned, or adopted. */
  unchangedCount: number;
  /**
   * Entries eks-auth-sync did not write that are identical to what a source produces: left as they
   * are, but owned from now on (counted in `unchangedCount`, not as a change).
   */
  adopted: PlannedEntry[];
  /** Entries eks-auth-sync does not manage, kept as they are (merge mode, or against a tag). */
  keptForeignCount: number;
  /**
   * Entries eks-auth-sync does not own that an IAM-tag mapping would rewrite, kept as they are
   * (a tag may change only entries the tool owns; an identical one is adopted instead).
   */
  keptAgainstTags: PlannedEntry[];
  /** The entry of the identity the tool runs as, kept as it is instead of removed or remapped. */
  selfEntryKept: PlannedEntry | null;
  /**
   * aws-auth has no ownership annotation, yet holds entries identical to what the sources produce:
   * the record was most likely lost, so nothing the tool wrote earlier would ever be removed.
   */
  ownershipRecordMissing: boolean;
  /** The ConfigMap to write; null when nothing changed and nothing must be written. */
  next: ConfigMap | null;
  /** What a repair of a broken key leaves out (see `ReadOptions.repair`); empty otherwise. */
  dropped: DroppedChunk[];
  warnings: Warning[];
}

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

/** 1 MiB: etcd's default request limit, which caps any Kubernetes object. */
export const MAX_OBJECT_BYTES = 1_048_576;
/** 256 KiB: the API server's limit on all annotations of one object together. */
export const MAX_ANNOTATIONS_BYTES = 262_144;

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

/**
 * Plans the change from `live` to `desired`. Merge mode keeps entries eks-auth-sync does not own,
 * takes over desired ARNs found among them, and removes owned entries no source produces any
 * more; replace mode removes every entry not desired. `mapAccounts`, other data keys, labels
 * and annotations are always kept. Duplicate ARNs collapse to the last (the authenticator's
 * winner). `next` is null when nothing changed.
 *
 * The entry of `self` is never removed or remapped: it is kept as it is and reported
 * (`selfEntryKept`). An IAM-tag mapping never rewrites an entry the tool does not own
 * (`keptAgainstTags`); an operator source may, and that counts against `maxRemovals`.
 *
 * @throws EmptySourcesGuardError, MaxRemovalsGuardError, ObjectTooLargeGuardError,
 *   RoundTripGuardError: the write is refused.
 * @example planAwsAuth({ desired, live: parseAwsAuth(cm), settings: config.sync }).next
 */
export function planAwsAuth(input: PlanInput): Plan {
  const { desired, live, settings } = input;
  const owns = (e: LiveEntry): boolean => e.arn !== null && live.ownedMarks.has(ownershipMark(e.kind, e.arn));
  const warnings: Warning[] = [...live.warnings];

  const all = [...live.roles, ...live.users];
  checkEmptySources(
    desired.mappings.roles.length + desired.mappings.users.length,
    settings.mode === 'replace' ? all.length : all.filter(owns).length,
    settings.allowEmpty,
  );

  const added: PlannedEntry[] = [];
  const removed: PlannedEntry[] = [];
  const changed: Plan['changed'] = [];
  const adopted: PlannedEntry[] = [];
  const keptAgainstTags: PlannedEntry[] = [];
  let selfEntryKept: PlannedEntry | null = null;
  let unchangedCount = 0;
  let keptForeignCount = 0;
  let identicalForeign = 0;
  const marks: string[] = [];

  const planKind = (kind: EntryKind): KindPlan => {
    const entries = kind === 'role' ? live.roles : live.users;
    const want = desiredEntries(desired, kind);
    const lastIndex = new Map<string, number>();
    entries.forEach((e, i) => e.arn !== null && lastIndex.set(arnKey(e.arn), i));

    const foreign: unknown[] = [];
    // Live entries kept exactly as they are although a source maps their ARN (self, or against a tag).
    const keptAsIs = new Set<string>();
    entries.forEach((e, i) => {
      const key = e.arn === null ? null : arnKey(e.arn);
      if (key !== null && lastIndex.get(key) !== i) {
        warnings.push({ source: 'aws-auth', subject: e.arn ?? undefined, message: `duplicate ${LIST_KEY[kind]} entry collapsed; the last one, which the authenticator uses, is kept` });
        return;
      }
      const d = key === null ? undefined : want.get(key);
      const wasOwned = owns(e);
      const before = planned(e, wasOwned ? SOURCE_PREVIOUSLY_SYNCED : SOURCE_NOT_MANAGED, i);
      const keep = (): void => {
        foreign.push(e.raw);
        if (key !== null) keptAsIs.add(key);
        if (wasOwned && e.arn !== null) marks.push(ownershipMark(kind, e.arn));
      };
      const keepSelf = (change: string): boolean => {
        const warning = e.arn === null ? undefined : protectSelf(input.self, e.arn, change);
        if (!warning) return false;
        warnings.push(warning);
        selfEntryKept = before;
        keep();
        return true;
      };
      if (d && key !== null) {
        const identical = matchesDesired(e, d);
        if (wasOwned && identical) {
          unchangedCount++;
          return;
        }
        if (!wasOwned && identical) {
          identicalForeign++;
          unchangedCount++;
          adopted.push(planned(d, d.source));
          warnings.push(takenOver(d));
          return;
        }
        if (!wasOwned && !identical && desired.fromTags.has(key)) {
          warnings.push({
            source: d.source,
            subject: d.arn,
            message: `the IAM tags map ${d.arn} to username ${JSON.stringify(d.username)}, groups [${d.groups.join(', ')}], but aws-auth already maps it ` +
              `(${entrySummary(before)}) in an entry eks-auth-sync did not write; a tag may not rewrite such an entry, so it is kept as it is. ` +
              `Remove the tag, or map the identity in the config instead.`,
          });
          keptAgainstTags.push(before);
          keptForeignCount++;
          keep();
          return;
        }
        const remaps = e.username !== d.username || !sameStrings(e.groups, d.groups);
        if (remaps && keepSelf(`change (${entrySummary(before)} → ${entrySummary(d)})`)) return;
        changed.push({ before, after: planned(d, d.source) });
        if (!wasOwned) warnings.push(takenOver(d));
      } else if (settings.mode === 'merge' && !wasOwned) {
        keptForeignCount++;
        foreign.push(e.raw);
      } else if (!keepSelf('remove')) {
        removed.push(before);
      }
    });

    const present = new Set(entries.flatMap((e) => (e.arn === null ? [] : [arnKey(e.arn)])));
    const managed = [...want.entries()].filter(([key]) => !keptAsIs.has(key)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, d]) => d);
    for (const d of managed) {
      if (!present.has(arnKey(d.arn))) added.push(planned(d, d.source));
      marks.push(ownershipMark(kind, d.arn));
    }
    return { items: [...foreign, ...managed.map(canonicalItem)], liveItems: entries.map((e) => e.raw) };
  };
  const kindPlans: Record<EntryKind, KindPlan> = { role: planKind('role'), user: planKind('user') };

  added.sort(byKindThenArn);
  removed.sort(byKindThenArn);
  adopted.sort(byKindThenArn);
  changed.sort((a, b) => byKindThenArn(a.after, b.after));
  const dropped = live.repaired.flatMap((r) => r.dropped);
  const annotation = marks.length === 0 ? undefined : OWNED_PREFIX + [...marks].sort().join(',');
  const liveAnnotation = live.configMap?.metadata.annotations?.[OWNED_ANNOTATION];
  const ownershipRecordMissing = live.configMap !== null && liveAnnotation === undefined && identicalForeign > 0;
  if (ownershipRecordMissing) warnings.push(ownershipRecordMissingWarning(identicalForeign));
  const plan: Plan = {
    added, removed, changed, unchangedCount, adopted, keptForeignCount, keptAgainstTags, selfEntryKept, ownershipRecordMissing, next: null, dropped, warnings,
  };

  const repaired = new Set(live.repaired.map((r) => r.kind));
  if (added.length + removed.length + changed.length === 0 && annotation === liveAnnotation && repaired.size === 0) return plan;

  const render = input.renderList ?? renderList;
  const { next, rendered } = nextConfigMap(live.configMap, kindPlans, annotation, render, repaired);
  checkGuards(plan, next, settings);
  checkRoundTrip(next, kindPlans, rendered);
  plan.next = next;
  return plan;
}

/** An entry the tool did not write, which a source now produces: from now on the tool owns it. */
function takenOver(d: DesiredEntry): Warning {
  return { source: 'aws-auth', subject: d.arn, message: `entry was not managed by eks-auth-sync; ${d.source} now produces it, so it is taken over and will be removed when no source produces it` };
}

function entrySummary(e: { username: string; groups: readonly string[] }): string {
  return `username ${JSON.stringify(e.username)}, groups [${e.groups.join(', ')}]`;
}

function ownershipRecordMissingWarning(identical: number): Warning {
  return {
    source: 'aws-auth',
    message:
      `aws-auth has no ownership record (annotation ${OWNED_ANNOTATION}), yet ${identical} entr${identical === 1 ? 'y is' : 'ies are'} exactly what the ` +
      `sources produce: the record was probably lost (aws-auth applied from a manifest or re-created by another tool), unless this is the first ` +
      `run on an aws-auth written by hand. The next write takes back every entry the sources produce and records it again. Not recovered: ` +
      `entries eks-auth-sync wrote earlier that no source produces any more (revoked access) stay in aws-auth, unmanaged, until removed by ` +
      `hand, and an entry an IAM tag maps differently is kept as it is. See SECURITY.md, "A lost ownership record".`,
  };
}

function checkGuards(plan: Plan, next: ConfigMap, settings: PlanInput['settings']): void {
  // Overwriting an entry the tool did not write takes away its old mapping as surely as a removal.
  const overwritten = plan.changed
    .filter(({ before, after }) => before.source === SOURCE_NOT_MANAGED && (before.username !== after.username || !sameStrings(before.groups, after.groups)))
    .map(({ before }) => before.arn);
  checkMaxRemovals(plan.removed.map((e) => e.arn), settings.maxRemovals, overwritten);
  const annotationBytes = Object.entries(next.metadata.annotations ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  checkSize('annotations', annotationBytes, MAX_ANNOTATIONS_BYTES);
  checkSize('object', Buffer.byteLength(JSON.stringify(next)), MAX_OBJECT_BYTES);
}
