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
