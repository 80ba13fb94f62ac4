/**
 * Planning the change of aws-auth from the desired mappings: ownership, merge or replace, and the
 * guards that refuse an unsafe write. Pure: no I/O, no clock.
 */
import type { SyncSettings } from '../../config.js';
import { checkEmptySources, checkMaxRemovals, checkSelfLockout, checkSize, type SelfIdentity } from '../../guards.js';
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
 * @throws EmptySourcesGuardError, SelfLockoutGuardError, MaxRemovalsGuardError,
 *   ObjectTooLargeGuardError, RoundTripGuardError: the write is refused.
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
  checkGuards(plan, next, settings, input.self);
  checkRoundTrip(next, kindPlans, rendered);
  plan.next = next;
  return plan;
}

function checkGuards(plan: Plan, next: ConfigMap, settings: PlanInput['settings'], self: SelfIdentity | undefined): void {
  const altered = plan.changed
    .filter(({ before, after }) => before.username !== after.username || !sameStrings(before.groups, after.groups))
    .map(({ before, after }) => ({
      principal: before.arn,
      change: `change (username ${JSON.stringify(before.username)} → ${JSON.stringify(after.username)}, groups [${before.groups.join(', ')}] → [${after.groups.join(', ')}])`,
    }));
  checkSelfLockout(self, plan.removed.map((e) => e.arn), altered);
  checkMaxRemovals(plan.removed.map((e) => e.arn), settings.maxRemovals);
  const annotationBytes = Object.entries(next.metadata.annotations ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0);
  checkSize('annotations', annotationBytes, MAX_ANNOTATIONS_BYTES);
  checkSize('object', Buffer.byteLength(JSON.stringify(next)), MAX_OBJECT_BYTES);
}
