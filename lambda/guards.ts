/**
 * The guards every target shares (aws-auth today, EKS access entries next). Each takes
 * target-neutral input (counts, principal ARNs, byte sizes, the identity the tool runs as) and
 * throws a `GuardRefusalError` to refuse the whole write.
 */
import { EmptySourcesGuardError, MaxRemovalsGuardError, ObjectTooLargeGuardError, SelfLockoutGuardError } from './errors.js';
import { arnKey } from './mappings.js';

/** The identity eks-auth-sync runs as; `canonicalArn` is the ARN a target maps (assumed role → role). */
export interface SelfIdentity {
  arn: string;
  canonicalArn: string;
}

/** A principal whose mapping a plan changes, and how, in words for the operator. */
export interface AlteredPrincipal {
  principal: string;
  change: string;
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
 * Self-lockout: the plan may not remove or alter the mapping of `self`.
 * @throws SelfLockoutGuardError
 */
export function checkSelfLockout(self: SelfIdentity | undefined, removed: readonly string[], altered: readonly AlteredPrincipal[]): void {
  if (!self) return;
  const selfKey = arnKey(self.canonicalArn);
  if (removed.some((p) => arnKey(p) === selfKey)) throw new SelfLockoutGuardError(self.canonicalArn, 'remove');
  const change = altered.find((a) => arnKey(a.principal) === selfKey);
  if (change) throw new SelfLockoutGuardError(self.canonicalArn, change.change);
}

/**
 * maxRemovals: at most `limit` principals removed in one run.
 * @throws MaxRemovalsGuardError naming the first five.
 */
export function checkMaxRemovals(removed: readonly string[], limit: number): void {
  if (removed.length > limit) throw new MaxRemovalsGuardError(removed.length, limit, removed.slice(0, 5));
}

/**
 * Size: what is written must fit the store's limit (`what` names the part, e.g. `annotations`).
 * @throws ObjectTooLargeGuardError
 */
export function checkSize(what: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new ObjectTooLargeGuardError(what, bytes, limit);
}
