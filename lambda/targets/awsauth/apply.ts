/**
 * The read → plan → write loop over aws-auth, with optimistic concurrency: every write carries
 * the resourceVersion that was read, and a concurrent change makes the loop re-read and re-plan,
 * so another editor's change is never lost. The store is abstract; `cluster/kube.ts` backs it.
 */
import type { SyncSettings } from '../../config.js';
import type { ConfigMap } from '../../configmap.js';
import { ConflictRetriesExhaustedError, KubeConflictError, KubeNotFoundError } from '../../errors.js';
import type { SelfIdentity } from '../../guards.js';
import type { DesiredState } from '../../mappings.js';
import { parseAwsAuth, type LiveAwsAuth } from './parse.js';
import { planAwsAuth, type Plan } from './plan.js';
import { holdsPlannedContent } from './render.js';

/** Where aws-auth lives. `create` and `replace` throw KubeConflictError on a 409. */
export interface AwsAuthStore {
  /** The live aws-auth, or null when it does not exist. */
  read(): Promise<ConfigMap | null>;
  create(cm: ConfigMap): Promise<ConfigMap>;
  /** Writes on condition that aws-auth still has `cm.metadata.resourceVersion`. */
  replace(cm: ConfigMap): Promise<ConfigMap>;
}

export interface SyncAwsAuthOptions {
  store: AwsAuthStore;
  desired: DesiredState;
  settings: SyncSettings;
  self?: SelfIdentity;
  /** false: plan only (dry run), never write. */
  commit: boolean;
  /** Runs just before each write; throw to stop (e.g. the Lambda deadline is near). */
  beforeWrite?: () => void;
}

export interface ApplyResult {
  /** The plan that was written (or would be, in a dry run). */
  plan: Plan;
  committed: boolean;
  /** aws-auth did not exist and was created. */
  created: boolean;
  /** Read-and-plan rounds: 1 plus one per conflict. */
  attempts: number;
  /** aws-auth as the last round read it, before any write. */
  live: LiveAwsAuth;
  /**
   * A write met a conflict, yet the re-read aws-auth holds exactly what it wrote: the write
   * landed and its answer was lost (a repeated request then met it as a conflict), or another
   * editor made the very same change. `plan` is that write's plan, and `committed` is true.
   */
  landedUnconfirmed?: true;
}

/**
 * Brings aws-auth in step with `desired`: read it (absent → plan against an empty one and
 * create it), plan, and, with `commit`, write unless the plan is a no-op. On a conflict (409, or
 * aws-auth deleted after the read) it re-reads and re-plans, at most `settings.conflictRetries`
 * times, then gives up without writing. When the re-read finds exactly what the conflicted write
 * carried, that write landed (its answer was lost): the result is that write, committed.
 *
 * @throws the planner's guard errors, BrokenAwsAuthError (unless `settings.repairBrokenAwsAuth`),
 *   ConflictRetriesExhaustedError, or the store's errors.
 * @example const { plan, committed } = await syncAwsAuth({ store, desired, settings: config.sync, commit: true });
 */
export async function syncAwsAuth(opts: SyncAwsAuthOptions): Promise<ApplyResult> {
  const { store, desired, settings, self } = opts;
  let conflicted: { plan: Plan & { next: ConfigMap }; created: boolean } | undefined;
  for (let attempts = 1; ; attempts++) {
    const current = await store.read();
    if (conflicted && current !== null && holdsPlannedContent(current, conflicted.plan.next)) {
      return { plan: conflicted.plan, committed: true, created: conflicted.created, attempts, live: parseAwsAuth(current), landedUnconfirmed: true };
    }
    const live = parseAwsAuth(current, { repair: settings.repairBrokenAwsAuth === true });
    const plan = planAwsAuth({ desired, live, settings, ...(self ? { self } : {}) });
    if (!opts.commit || plan.next === null) return { plan, committed: false, created: false, attempts, live };

    opts.beforeWrite?.();
    try {
      if (current === null) await store.create(plan.next);
      else await store.replace(plan.next);
      return { plan, committed: true, created: current === null, attempts, live };
    } catch (e) {
      const raced = e instanceof KubeConflictError || (current !== null && e instanceof KubeNotFoundError);
      if (!raced) throw e;
      if (attempts > settings.conflictRetries) throw new ConflictRetriesExhaustedError(attempts);
      // Only a write that changes the content can be recognised afterwards by its content.
      const next = plan.next;
      conflicted = current === null || !holdsPlannedContent(current, next) ? { plan: { ...plan, next }, created: current === null } : undefined;
    }
  }
}

