/**
 * The guards every target shares (aws-auth and EKS access entries). Each takes target-neutral
 * input (counts, principal ARNs, byte sizes, the identity the tool runs as) and throws a
 * `GuardRefusalError` naming the target to refuse the whole write.
 */
import {
  AccessEntryQuotaGuardError, EmptySourcesGuardError, MaxRemovalsGuardError, ObjectTooLargeGuardError, type GuardTarget,
} from './errors.js';
import { arnKey, canonicalRoleArn, parseRoleArn, type Warning } from './mappings.js';

/** The identity eks-auth-sync runs as; `canonicalArn` is the ARN a target maps (assumed role → role, without path). */
export interface SelfIdentity {
  arn: string;
  canonicalArn: string;
}

/**
 * How a target matches a principal to the caller. aws-auth: the ARN as written, since the
 * authenticator matches the path-less role ARN only. Access entries: the role whatever its path,
 * since EKS matches an assumed role to its role's entry that way.
 */
export type SelfMatch = 'exact' | 'ignoringRolePath';

/**
 * Empty sources: the sources produced nothing while the target holds `managedCount` entries the
 * tool would remove, unless `allowEmpty`.
 * @throws EmptySourcesGuardError
 */
export function checkEmptySources(desiredCount: number, managedCount: number, allowEmpty: boolean, target: GuardTarget = 'aws-auth'): void {
  if (desiredCount === 0 && !allowEmpty && managedCount > 0) throw new EmptySourcesGuardError(managedCount, target);
}

/** Whether `principal` is the entry `self` gets its access through. */
export function isSelf(self: SelfIdentity | undefined, principal: string, match: SelfMatch = 'exact'): boolean {
  if (!self) return false;
  const key = (arn: string): string => arnKey(match === 'ignoringRolePath' && parseRoleArn(arn) ? canonicalRoleArn(arn) : arn);
  return key(principal) === key(self.canonicalArn);
}

/**
 * Self-lockout: a plan that would remove or remap the entry of `principal` must keep it exactly as
 * it is when it maps `self`, and apply the rest. Not a refusal, so one stale source cannot freeze
 * every other change (a revocation included); the warning returned is reported on every run
 * until the sources produce that entry again. Undefined when `principal` is not `self`.
 * @param change what the plan would do, e.g. `remove` or `change (groups [a] → [b])`.
 */
export function protectSelf(self: SelfIdentity | undefined, principal: string, change: string, match: SelfMatch = 'exact'): Warning | undefined {
  if (!self || !isSelf(self, principal, match)) return undefined;
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
export function checkMaxRemovals(removed: readonly string[], limit: number, overwritten: readonly string[] = [], target: GuardTarget = 'aws-auth'): void {
  const all = [...removed, ...overwritten];
  if (all.length > limit) throw new MaxRemovalsGuardError(all.length, limit, all.slice(0, 5), overwritten.length, target);
}

/**
 * Size: what is written must fit the store's limit (`what` names the part, e.g. `annotations`).
 * @throws ObjectTooLargeGuardError
 */
export function checkSize(what: string, bytes: number, limit: number): void {
  if (bytes > limit) throw new ObjectTooLargeGuardError(what, bytes, limit);
}

/**
 * Quota: the most entries the target holds at any point of the apply must stay within `limit`
 * (EKS's 3,000 access entries per cluster), checked before any write.
 * @throws AccessEntryQuotaGuardError
 */
export function checkEntryQuota(peakCount: number, limit: number): void {
  if (peakCount > limit) throw new AccessEntryQuotaGuardError(peakCount, limit);
}

/** What the access-entries target's guards need to know, in terms that do not depend on its API. */
export interface EntryGuardInput {
  /** How many entries the sources ask for. */
  desiredCount: number;
  /** How many entries eks-auth-sync manages now. */
  ownedCount: number;
  /** Principals whose entry the plan deletes (a type change included). */
  removed: readonly string[];
  /** Principals whose existing entry the plan changes in any way (removed ones included), with what it would do. */
  changed: readonly { principal: string; change: string }[];
  /** The most entries the target holds at any point of the apply. */
  peakCount: number;
  /** The target's limit on entries. */
  quota: number;
  settings: { maxRemovals: number; allowEmpty: boolean };
  self: SelfIdentity | undefined;
}

/**
 * Every guard of an entry-per-principal target, in order: empty sources refuse; the tool's own
 * entry is kept exactly as it is, with a warning, and the rest applies; more than `maxRemovals`
 * removals (the tool's own entry not counted, it is kept) refuse; so does a plan over the quota.
 * @returns the principal kept as it is (the tool's own), and the warnings to report.
 * @throws EmptySourcesGuardError, MaxRemovalsGuardError, AccessEntryQuotaGuardError
 */
export function checkEntryGuards(input: EntryGuardInput): { keptAsIs?: string; warnings: Warning[] } {
  const { settings } = input;
  checkEmptySources(input.desiredCount, input.ownedCount, settings.allowEmpty, 'access entries');
  const warnings: Warning[] = [];
  let keptAsIs: string | undefined;
  for (const c of input.changed) {
    const warning = protectSelf(input.self, c.principal, c.change, 'ignoringRolePath');
    if (warning) {
      keptAsIs = c.principal;
      warnings.push(warning);
      break;
    }
  }
  checkMaxRemovals(input.removed.filter((p) => p !== keptAsIs), settings.maxRemovals, [], 'access entries');
  checkEntryQuota(input.peakCount, input.quota);
  return keptAsIs === undefined ? { warnings } : { keptAsIs, warnings };
}
