/**
 * Every error eks-auth-sync raises on purpose is an `EksAuthSyncError`: its message is
 * meant for the operator and names what failed and where. Anything else is a bug.
 */
import type { FleetReport } from './fleet.js';
import type { SyncReport } from './sync.js';

export class EksAuthSyncError extends Error {
  override name = 'EksAuthSyncError';
}

/**
 * A write was refused because the object changed since it was read (HTTP 409 Conflict on a
 * stale resourceVersion, or AlreadyExists on create). The caller re-reads and re-plans.
 */
export class KubeConflictError extends EksAuthSyncError {
  override name = 'KubeConflictError';
}

/** The configuration (or a mappings document) is invalid; the message lists every `path: problem`. */
export class ConfigError extends EksAuthSyncError {
  override name = 'ConfigError';
}

/** A scanner could not read or parse its source; the whole run fails rather than sync a partial picture. */
export class ScannerError extends EksAuthSyncError {
  override name = 'ScannerError';
}

/** The API server rejected the bearer token (HTTP 401), even after a fresh one was minted. */
export class KubeUnauthorizedError extends EksAuthSyncError {
  override name = 'KubeUnauthorizedError';
}

/** The identity is authenticated but RBAC denies it access to the object (HTTP 403). */
export class KubeForbiddenError extends EksAuthSyncError {
  override name = 'KubeForbiddenError';
}

/** A write targeted an object or namespace that does not exist (HTTP 404 on PUT/POST). */
export class KubeNotFoundError extends EksAuthSyncError {
  override name = 'KubeNotFoundError';
}

/** The API server refused the object as invalid (HTTP 400/422); the message lists the causes. */
export class KubeInvalidError extends EksAuthSyncError {
  override name = 'KubeInvalidError';
}

/** The API server failed (5xx, or throttling that outlasted the retries). */
export class KubeServerError extends EksAuthSyncError {
  override name = 'KubeServerError';
}

/** The API server did not answer in time. */
export class KubeTimeoutError extends EksAuthSyncError {
  override name = 'KubeTimeoutError';
}

/** The API server could not be reached, or its TLS certificate did not verify against the cluster CA. */
export class KubeConnectionError extends EksAuthSyncError {
  override name = 'KubeConnectionError';
}

/**
 * A safety guard refused a write (too many removals, an empty result, a broken aws-auth, …). The
 * run fails so the operator sees it; each guard's error extends this class, so the Lambda
 * counts every refusal in its GuardRefusals metric.
 */
export class GuardRefusalError extends EksAuthSyncError {
  override name = 'GuardRefusalError';
}

/** A Lambda invoke payload the handler does not accept; the message lists what it accepts. */
export class InvalidInvocationError extends EksAuthSyncError {
  override name = 'InvalidInvocationError';
}

/** The AWS credentials are expired or were rejected; the message says how to refresh them. */
export class AwsCredentialsError extends EksAuthSyncError {
  override name = 'AwsCredentialsError';
}

/** An AWS call was still throttled (or failing) when its retries had to stop: the deadline, `aws.maxRetries` or the retry quota. */
export class AwsRetriesExhaustedError extends EksAuthSyncError {
  override name = 'AwsRetriesExhaustedError';
}

/** DescribeCluster found no cluster of that name in that region. */
export class ClusterNotFoundError extends EksAuthSyncError {
  override name = 'ClusterNotFoundError';
}

/** The identity may not call eks:DescribeCluster on the cluster. */
export class ClusterAccessDeniedError extends EksAuthSyncError {
  override name = 'ClusterAccessDeniedError';
}

/** DescribeCluster returned no endpoint, a non-https one, or a CA that is not a PEM certificate. */
export class ClusterEndpointError extends EksAuthSyncError {
  override name = 'ClusterEndpointError';
}

/** An ARN that aws-iam-authenticator does not accept as an identity (not a user, role, root or session). */
export class PrincipalArnError extends EksAuthSyncError {
  override name = 'PrincipalArnError';
}

/**
 * A `mapRoles` or `mapUsers` value in the live aws-auth is not a readable YAML list. The
 * authenticator drops every entry under that key while it is broken, so eks-auth-sync refuses
 * to write over it: the entries it cannot read may be the ones keeping nodes and admins in.
 */
export class BrokenAwsAuthError extends GuardRefusalError {
  override name = 'BrokenAwsAuthError';
  /**
   * @param problem why the first YAML document of the value does not read; undefined when it
   *   reads and only `laterDocumentLine` is wrong.
   * @param laterDocumentLine where text after the value's first YAML document starts, if any.
   */
  constructor(
    readonly key: string,
    readonly problem: string | undefined,
    readonly position?: { line: number; col: number },
    readonly laterDocumentLine?: number,
  ) {
    const where = position ? ` at line ${position.line}, column ${position.col} of its value` : '';
    const later =
      laterDocumentLine === undefined
        ? ''
        : `holds more than one YAML document (the second starts at line ${laterDocumentLine} of its value). The ` +
          `authenticator reads only the first, so the entries from line ${laterDocumentLine} on have never been in force`;
    const what =
      problem === undefined
        ? `aws-auth data key "${key}" ${later}; eks-auth-sync will not write over it, as a rewrite would either drop those lines or switch them on.`
        : `aws-auth data key "${key}" is broken${where}: ${problem}. The authenticator ignores every entry under "${key}" ` +
          `while it is broken, so eks-auth-sync will not write over it.${later === '' ? '' : ` It also ${later}.`}`;
    super(
      `${what} Fix it by hand (kubectl -n kube-system edit configmap aws-auth), then run again; or set ` +
        `sync.repairBrokenAwsAuth: true to rewrite it from the entries of its first document that can be read ` +
        `(the rest is dropped, never switched on; a dry run lists what would be dropped).`,
    );
  }
}

/**
 * The store a guard protects, as its refusals name it: each target's guards are its own, so a
 * refusal says which one was left unchanged (in `both`, the other may have been written).
 */
export type GuardTarget = 'aws-auth' | 'access entries';

const HOLDER: Record<GuardTarget, string> = { 'aws-auth': 'aws-auth', 'access entries': "the cluster's access entries" };
const ENTRIES: Record<GuardTarget, string> = { 'aws-auth': 'aws-auth entries', 'access entries': 'access entries' };
const UNCHANGED: Record<GuardTarget, string> = { 'aws-auth': 'aws-auth was not changed', 'access entries': 'No access entry was changed' };

/** The sources produced no mappings while the target holds entries eks-auth-sync synced earlier. */
export class EmptySourcesGuardError extends GuardRefusalError {
  override name = 'EmptySourcesGuardError';
  constructor(
    readonly ownedCount: number,
    readonly target: GuardTarget = 'aws-auth',
  ) {
    super(
      `The sources produced no mappings, but ${HOLDER[target]} hold${target === 'aws-auth' ? 's' : ''} ${ownedCount} entr${ownedCount === 1 ? 'y' : 'ies'} ` +
        `eks-auth-sync manages; writing would remove them all. This usually means a source failed ` +
        `quietly (an expired credential, an emptied parameter). ${UNCHANGED[target]}. If an empty ` +
        `result is intended, set sync.allowEmpty: true in the config.`,
    );
  }
}

/**
 * The plan would remove more entries than `maxRemovals` allows in one run; overwriting an entry
 * eks-auth-sync did not write counts as removing it, and so does an access entry's type change.
 */
export class MaxRemovalsGuardError extends GuardRefusalError {
  override name = 'MaxRemovalsGuardError';
  constructor(
    readonly count: number,
    readonly limit: number,
    readonly firstArns: readonly string[],
    readonly overwritten = 0,
    readonly target: GuardTarget = 'aws-auth',
  ) {
    const more = count > firstArns.length ? `, and ${count - firstArns.length} more` : '';
    const counting = overwritten === 0 ? '' : ` (counting ${overwritten} entr${overwritten === 1 ? 'y' : 'ies'} eks-auth-sync did not write, which a source changes)`;
    super(
      `The plan would remove ${count} ${ENTRIES[target]}${counting}, more than the limit of ${limit} per run ` +
        `(${firstArns.join(', ')}${more}). ${UNCHANGED[target]}. Check that the sources are ` +
        `complete; if the removals are intended, raise sync.maxRemovals in the config.`,
    );
  }
}

/** The plan would leave more access entries on the cluster than EKS allows. */
export class AccessEntryQuotaGuardError extends GuardRefusalError {
  override name = 'AccessEntryQuotaGuardError';
  constructor(
    readonly count: number,
    readonly limit: number,
  ) {
    super(
      `The plan would make the cluster hold ${count} access entries, over EKS's limit of ${limit} per cluster ` +
        `(not adjustable); EKS would refuse the creates part-way. ${UNCHANGED['access entries']}. Map fewer ` +
        `identities (for example a role per team instead of a user per person).`,
    );
  }
}

/** The planned aws-auth would exceed a Kubernetes object size limit. */
export class ObjectTooLargeGuardError extends GuardRefusalError {
  override name = 'ObjectTooLargeGuardError';
  constructor(
    readonly what: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `The planned aws-auth ${what} would be ${bytes} bytes, over the Kubernetes limit of ${limit} ` +
        `bytes; the API server would reject it. aws-auth was not changed. Map fewer identities ` +
        `(for example map a role per team instead of a user per person), or move them to EKS access entries.`,
    );
  }
}

/** The rendered aws-auth does not parse back to exactly the planned entries (a renderer bug). */
export class RoundTripGuardError extends GuardRefusalError {
  override name = 'RoundTripGuardError';
  constructor(
    readonly key: string,
    readonly detail: string,
  ) {
    super(
      `The rendered aws-auth "${key}" does not read back as the planned entries (${detail}). ` +
        `Writing it could make the authenticator drop mappings, so aws-auth was not changed. ` +
        `This is a bug in eks-auth-sync; please report it with the entries involved.`,
    );
  }
}

/** Every write of aws-auth met a concurrent change (409 Conflict) until the retry budget ran out. */
export class ConflictRetriesExhaustedError extends EksAuthSyncError {
  override name = 'ConflictRetriesExhaustedError';
  constructor(readonly attempts: number) {
    super(
      `aws-auth changed under eks-auth-sync on each of ${attempts} write attempts (409 Conflict); ` +
        `nothing was written. Another tool is editing aws-auth at the same time: run again later, ` +
        `or raise sync.conflictRetries in the config.`,
    );
  }
}

/**
 * The run stopped before writing because its deadline (the Lambda's remaining time, less a
 * margin) was too close: better no write than a write killed halfway.
 */
export class DeadlineError extends EksAuthSyncError {
  override name = 'DeadlineError';
}

/**
 * The chosen target cannot work on the cluster's authentication mode: aws-auth on an `API` cluster
 * (EKS ignores it there), or access entries on a `CONFIG_MAP` cluster (the API refuses them).
 * Raised before anything is read from or written to the target.
 */
export class TargetModeError extends EksAuthSyncError {
  override name = 'TargetModeError';
}

/**
 * In `sync.target: both`, one target or both failed. Each target ran on its own, so the report
 * says what the other did; the run still fails, so the alarms fire.
 */
export class TargetsFailedError extends EksAuthSyncError {
  override name = 'TargetsFailedError';
  constructor(
    /** Each failed target's error, by target. */
    readonly failures: ReadonlyMap<GuardTarget, Error>,
    /** The run's report, with each target's outcome. */
    readonly report: SyncReport,
  ) {
    super([...failures].map(([target, err]) => `${target}: ${err.message}`).join(' | '));
  }

  /** Whether a guard refused at least one of the targets (the Lambda counts it in GuardRefusals). */
  get guardRefused(): boolean {
    return [...this.failures.values()].some((e) => e instanceof GuardRefusalError);
  }
}

/**
 * A fleet run in which at least one cluster failed, thrown after every cluster ran: `report`
 * has each cluster's outcome, so the clusters that succeeded are reported too.
 */
export class FleetFailedError extends EksAuthSyncError {
  override name = 'FleetFailedError';
  constructor(readonly report: FleetReport) {
    const failed = report.clusters.filter((c) => c.error !== undefined);
    super(`${failed.length} of ${report.clusters.length} clusters failed: ${failed.map((c) => `cluster ${c.cluster}: ${c.error?.message ?? ''}`).join(' | ')}`);
  }

  /** Whether a guard refused a write in at least one cluster (the Lambda counts it in GuardRefusals). */
  get guardRefused(): boolean {
    return this.report.clusters.some((c) => isGuardRefusal(c.error));
  }
}

/** True when `err` is a guard's refusal, alone or in one target of `both`. */
export function isGuardRefusal(err: unknown): boolean {
  return err instanceof GuardRefusalError || (err instanceof TargetsFailedError && err.guardRefused);
}
