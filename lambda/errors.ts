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
