/**
 * The guards every target shares (aws-auth today, EKS access entries next). Each takes
 * target-neutral input (counts, principal ARNs, byte sizes, the identity the tool runs as) and
 * throws a `GuardRefusalError` to refuse the whole write.
 */
import { EmptySourcesGuardError, MaxRemovalsGuardError, ObjectTooLargeGuardError } from './errors.js';
import { arnKey, type Warning } from './mappings.js';

/** The identity eks-auth-sync runs as; `canonicalArn` is the ARN a target maps (assumed role → role). */
export interface SelfIdentity {
  arn: string;
  canonicalArn: string;
}

/**
 * Empty sources: the sources produced nothing while the target holds `managedCount` entries the
 * tool would remove, unless `allowEmpty`.
 * @throws EmptySourcesGuardError
 */
export function checkEmptySources(desiredCount: number, managedCount: number, allowEmpty: boolean): void {
  if (desiredCount === 0 && !allowEmpty && managedCount > 0) throw new EmptySourcesGuardError(managedCount);
}

/**
 * Self-lockout: a plan that would remove or remap the entry of `principal` must keep it exactly as
 * it is when it maps `self`, and apply the rest. Not a refusal, so one stale source cannot freeze
 * every other change (a revocation included); the warning returned is reported on every run
 * until the sources produce that entry again. Undefined when `principal` is not `self`.
 * @param change what the plan would do, e.g. `remove` or `change (groups [a] → [b])`.
 */
export function protectSelf(self: SelfIdentity | undefined, principal: string, change: string): Warning | undefined {
  if (!self || arnKey(principal) !== arnKey(self.canonicalArn)) return undefined;
  return {
    source: 'self-lockout guard',
    subject: principal,
    message:
      `the sources would ${change} the entry of ${principal}, the identity eks-auth-sync runs as (${self.arn}); ` +
      `it is kept exactly as it is, so the tool does not lock itself out, and the rest of the change is applied. ` +
      `Reported on every run until the sources produce that entry again, or eks-auth-sync runs as another identity.`,
  };
}

/**
 * maxRemovals: at most `limit` principals lose their mapping in one run: `removed`, plus
 * `overwritten`, entries the tool did not write that a source changes (their old mapping is gone too).
 * @throws MaxRemovalsGuardError naming the first five.
 */
export function checkMaxRemovals(removed: readonly string[], limit: number, overwritten: readonly string[] = []): void {
  const all = [...removed, ...overwritten];
  if (all.length > limit) throw new MaxRemovalsGuardError(all.length, limit, all.slice(0, 5), overwritten.length);
}

/**
 * Size: what is written must fit the store's limit (`what` names the part, e.g. `annotations`).
 * @throws ObjectTooLargeGuardError
 */
export function checkSize(what: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new ObjectTooLargeGuardError(what, bytes, limit);
}
