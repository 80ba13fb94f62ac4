/**
 * The access-entries plan: a pure function of (desired entries, live entries, settings, who we
 * are) → a value that says every create, update, delete, association and disassociation, each
 * with its source, and the ordered steps that apply it. A dry run prints the plan; apply only
 * executes `steps`; an empty `steps` means no write call at all.
 *
 * Ownership: eks-auth-sync tags each entry it creates with `eks-auth-sync.io/managed: true`
 * (`OWNED_TAG`), and never updates or deletes an entry without that tag: the cluster creator's,
 * the node and Fargate entries EKS made, other tools'. A source that maps a principal whose entry
 * is not ours is reported and left alone.
 *
 * Order (`steps`): grants before revocations, so a run cut off mid-way never leaves a principal
 * with less access than both its old and its new state allow:
 *   1. creates of new principals, each followed by its associations;
 *   2. associations on existing entries (a new policy, or a policy's new scope: re-associating
 *      changes the scope in one call);
 *   3. updates of username and groups (one call replaces both, so the switch is atomic);
 *   4. disassociations;
 *   5. deletes of entries no source asks for;
 *   6. type changes: `principalArn` and `type` are immutable, so delete, create, associate. Last,
 *      and back to back, because between the delete and the create the principal has no entry:
 *      the one case the order cannot cover. The guards count it as a removal.
 * Every step is idempotent over the plan's own reading of live state, so a failed run is
 * repaired by the next one, which plans again from what it reads.
 */
import { checkEntryGuards, type SelfIdentity } from '../../guards.js';
import { parseRoleArn, type Warning } from '../../mappings.js';
import type { AccessEntryType, AccessScope, DesiredAccessEntry, DesiredPolicy } from './translate.js';

/** The tag that marks an access entry as eks-auth-sync's own. */
export const OWNED_TAG = { key: 'eks-auth-sync.io/managed', value: 'true' } as const;
/** EKS's limit on access entries per cluster (not adjustable). */
export const MAX_ACCESS_ENTRIES = 3000;
/** The source named for steps that undo what an earlier run created. */
export const SOURCE_PREVIOUSLY_SYNCED = 'access entry (previously synced)';
/** The source named for entries eks-auth-sync does not own and no source maps. */
export const SOURCE_NOT_MANAGED = 'access entry (not managed)';
/** Where plan warnings come from. */
export const PLAN_COMPONENT = 'access-entries';

/** An access entry as read from the cluster. */
export interface LiveAccessEntry {
  principalArn: string;
  /** Any type EKS knows (EC2_WINDOWS, HYBRID_LINUX, …), not only those eks-auth-sync creates. */
  type: string;
  /** EKS always reports one: the given username, else its default. */
  username: string;
  kubernetesGroups: string[];
  tags: Readonly<Record<string, string>>;
  /** The associated access policies; read only for entries eks-auth-sync owns. */
  policies?: DesiredPolicy[];
}

/** The run settings the plan's guards read. */
export interface AccessEntrySettings {
  maxRemovals: number;
  allowEmpty: boolean;
}

export interface PlanInput {
  desired: readonly DesiredAccessEntry[];
  live: readonly LiveAccessEntry[];
  settings: AccessEntrySettings;
  self?: SelfIdentity;
}

export interface CreateStep {
  action: 'create';
  principalArn: string;
  type: AccessEntryType;
  /** Absent: EKS's default. */
  username?: string;
  kubernetesGroups: string[];
  source: string;
  why: string[];
}

export interface UpdateStep {
  action: 'update';
  principalArn: string;
  /** EKS's default spelled out when the source gives none, since an update cannot unset it. */
  username: string;
  kubernetesGroups: string[];
  before: { username: string; kubernetesGroups: string[] };
  source: string;
  why: string[];
}

export interface AssociateStep {
  action: 'associate';
  principalArn: string;
  policyArn: string;
  scope: AccessScope;
  /** The scope it had, when this changes the scope of an associated policy. */
  before?: AccessScope;
  source: string;
}

export interface DisassociateStep {
  action: 'disassociate';
  principalArn: string;
  policyArn: string;
  source: string;
}

export interface DeleteStep {
  action: 'delete';
  principalArn: string;
  type: string;
  reason: 'not desired' | 'type change';
  source: string;
}

export type Step = CreateStep | UpdateStep | AssociateStep | DisassociateStep | DeleteStep;

/** An entry eks-auth-sync leaves as it is, and why. */
export interface KeptEntry {
  principalArn: string;
  type: string;
  /** The source that maps it, or `SOURCE_NOT_MANAGED` when none does. */
  source: string;
  reason: string;
}

export interface AccessEntriesPlan {
  creates: CreateStep[];
  updates: UpdateStep[];
  deletes: DeleteStep[];
  associations: AssociateStep[];
  disassociations: DisassociateStep[];
  /** Entries without the ownership tag (and the tool's own, see `self`): never written. */
  keptForeign: KeptEntry[];
  /**
   * The entry of the identity eks-auth-sync runs as, which the plan would have changed: kept
   * exactly as it is, policies included, the rest applied (metric SelfEntryKept). null otherwise.
   */
  selfEntryKept: KeptEntry | null;
  /** Desired entries that already are as desired. */
  unchanged: { principalArn: string; source: string }[];
  /** Everything above, in the order apply runs it. Empty: nothing to write. */
  steps: Step[];
  warnings: Warning[];
}

/**
 * Plans the access entries: what to create, change and delete so the entries eks-auth-sync owns
 * become `desired`, touching no entry it does not own.
 * @example const plan = planAccessEntries({ desired: translation.entries, live, settings, self }); // plan.steps
 * @throws EmptySourcesGuardError, MaxRemovalsGuardError, AccessEntryQuotaGuardError (see `checkEntryGuards` in lambda/guards.ts).
 */
export function planAccessEntries(input: PlanInput): AccessEntriesPlan {
  const live = new Map(input.live.map((e) => [e.principalArn.toLowerCase(), e]));
  const desiredKeys = new Set(input.desired.map((d) => d.principalArn.toLowerCase()));
  const plan = emptyPlan();
  // One list per phase of the order in the module comment.
  const created: Step[] = [];
  const associated: AssociateStep[] = [];
  const updated: UpdateStep[] = [];
  const disassociated: DisassociateStep[] = [];
  const deletes: DeleteStep[] = [];
  const replacements: Step[] = [];
  // Existing entries the plan changes, with what it does to them (for the self-lockout guard).
  const changedLive = new Map<string, string>();

  for (const d of input.desired) {
    const have = live.get(d.principalArn.toLowerCase());
    if (!have) {
      created.push(createStep(d), ...associations(d, []));
    } else if (!isOwned(have)) {
      plan.keptForeign.push({ principalArn: have.principalArn, type: have.type, source: d.source, reason: foreignReason(d, have) });
      if (!isNodeEntryEksMade(d, have)) {
        plan.warnings.push({ source: d.source, subject: d.principalArn, message: `an access entry eks-auth-sync does not own exists for this principal (${have.type}); it is left as it is` });
      }
    } else if (have.type !== d.type) {
      changedLive.set(have.principalArn, `replace (type ${have.type} → ${d.type})`);
      replacements.push(
        { action: 'delete', principalArn: have.principalArn, type: have.type, reason: 'type change', source: d.source },
        createStep(d),
        ...associations(d, []),
      );
    } else {
      const changes = [associations(d, have.policies ?? []), updateSteps(d, have), disassociations(d, have)] as const;
      if (changes.every((c) => c.length === 0)) plan.unchanged.push({ principalArn: d.principalArn, source: d.source });
      else changedLive.set(have.principalArn, 'change');
      associated.push(...changes[0]);
      updated.push(...changes[1]);
      disassociated.push(...changes[2]);
    }
  }
  for (const have of input.live) {
    if (desiredKeys.has(have.principalArn.toLowerCase())) continue;
    if (isOwned(have)) {
      deletes.push({ action: 'delete', principalArn: have.principalArn, type: have.type, reason: 'not desired', source: SOURCE_PREVIOUSLY_SYNCED });
      changedLive.set(have.principalArn, 'remove');
    } else {
      plan.keptForeign.push({ principalArn: have.principalArn, type: have.type, source: SOURCE_NOT_MANAGED, reason: 'not created by eks-auth-sync' });
    }
  }

  const ordered = [...created, ...associated, ...updated, ...disassociated, ...deletes, ...replacements];
  const removed = ordered.filter((s): s is DeleteStep => s.action === 'delete').map((s) => s.principalArn);
  const newPrincipals = created.filter((s) => s.action === 'create').length;
  const outcome = checkEntryGuards({
    desiredCount: input.desired.length,
    ownedCount: input.live.filter(isOwned).length,
    removed,
    changed: [...changedLive].map(([principal, change]) => ({ principal, change })),
    // Creates run before deletes, so the count peaks after them; a type change deletes first.
    peakCount: input.live.length + newPrincipals,
    quota: MAX_ACCESS_ENTRIES,
    settings: input.settings,
    self: input.self,
  });
  plan.warnings.push(...outcome.warnings);
  const kept = outcome.keptAsIs?.toLowerCase();
  const keptEntry = kept === undefined ? undefined : live.get(kept);
  if (keptEntry) {
    plan.selfEntryKept = { principalArn: keptEntry.principalArn, type: keptEntry.type, source: PLAN_COMPONENT, reason: 'the identity eks-auth-sync runs as: kept exactly as it is' };
    plan.keptForeign.push(plan.selfEntryKept);
  }

  plan.steps = ordered.filter((s) => s.principalArn.toLowerCase() !== kept);
  for (const s of plan.steps) {
    if (s.action === 'create') plan.creates.push(s);
    else if (s.action === 'update') plan.updates.push(s);
    else if (s.action === 'delete') plan.deletes.push(s);
    else if (s.action === 'associate') plan.associations.push(s);
    else plan.disassociations.push(s);
  }
  return plan;
}

/** Whether eks-auth-sync created the entry (it carries the ownership tag). */
export function isOwned(entry: Pick<LiveAccessEntry, 'tags'>): boolean {
  return entry.tags[OWNED_TAG.key] === OWNED_TAG.value;
}

function emptyPlan(): AccessEntriesPlan {
  return { creates: [], updates: [], deletes: [], associations: [], disassociations: [], keptForeign: [], selfEntryKept: null, unchanged: [], steps: [], warnings: [] };
}

/** A node mapping whose principal has a foreign entry of that node type: EKS made it, as it usually does. */
function isNodeEntryEksMade(d: DesiredAccessEntry, have: LiveAccessEntry): boolean {
  return d.type !== 'STANDARD' && have.type === d.type;
}

function foreignReason(d: DesiredAccessEntry, have: LiveAccessEntry): string {
  if (isNodeEntryEksMade(d, have)) return `a ${have.type} entry exists already (EKS creates these for node groups and Fargate profiles)`;
  return 'mapped by a source, but the existing entry was not created by eks-auth-sync';
}

function createStep(d: DesiredAccessEntry): CreateStep {
  const step: CreateStep = { action: 'create', principalArn: d.principalArn, type: d.type, kubernetesGroups: [...d.kubernetesGroups], source: d.source, why: [...d.why] };
  if (d.username !== undefined) step.username = d.username;
  return step;
}

function associations(d: DesiredAccessEntry, have: readonly DesiredPolicy[]): AssociateStep[] {
  const steps: AssociateStep[] = [];
  for (const p of d.policies) {
    const had = have.find((h) => h.policyArn === p.policyArn);
    if (had && sameScope(had.scope, p.scope)) continue;
    const step: AssociateStep = { action: 'associate', principalArn: d.principalArn, policyArn: p.policyArn, scope: p.scope, source: d.source };
    if (had) step.before = had.scope;
    steps.push(step);
  }
  return steps;
}

function disassociations(d: DesiredAccessEntry, have: LiveAccessEntry): DisassociateStep[] {
  return (have.policies ?? [])
    .filter((h) => !d.policies.some((p) => p.policyArn === h.policyArn))
    .map((h) => ({ action: 'disassociate', principalArn: have.principalArn, policyArn: h.policyArn, source: d.source }));
}

function updateSteps(d: DesiredAccessEntry, have: LiveAccessEntry): UpdateStep[] {
  // Node entries take no username or groups: EKS sets them, and there is nothing to update.
  if (d.type !== 'STANDARD') return [];
  const username = d.username ?? defaultUsername(d.principalArn);
  const sameGroups = sorted(have.kubernetesGroups).join('\n') === sorted(d.kubernetesGroups).join('\n');
  if (have.username === username && sameGroups) return [];
  return [{
    action: 'update',
    principalArn: have.principalArn,
    username,
    kubernetesGroups: [...d.kubernetesGroups],
    before: { username: have.username, kubernetesGroups: [...have.kubernetesGroups] },
    source: d.source,
    why: [...d.why],
  }];
}

/**
 * EKS's username for a STANDARD entry created without one: an IAM user's ARN; for a role, its
 * assumed-role ARN without the path, with `{{SessionName}}`.
 */
export function defaultUsername(principalArn: string): string {
  const role = parseRoleArn(principalArn);
  if (role) return `arn:${role.partition}:sts::${role.accountId}:assumed-role/${role.name}/{{SessionName}}`;
  return principalArn;
}

function sorted(values: readonly string[]): string[] {
  return [...values].sort();
}

function sameScope(a: AccessScope, b: AccessScope): boolean {
  if (a.type === 'cluster' || b.type === 'cluster') return a.type === b.type;
  return sorted(a.namespaces).join('\n') === sorted(b.namespaces).join('\n');
}
