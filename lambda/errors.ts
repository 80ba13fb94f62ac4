/**
 * Every error eks-auth-sync raises on purpose is an `EksAuthSyncError`: its message is
 * meant for the operator and names what failed and where. Anything else is a bug.
 */
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
 * A safety guard refused a write (too many removals, an empty result, self-lockout, …). The
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
