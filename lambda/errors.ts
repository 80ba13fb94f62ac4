/**
 * Every error eks-auth-sync raises on purpose is an `EksAuthSyncError`: its message is
 * meant for the operator and names what failed and where. Anything else is a bug.
 */
export class EksAuthSyncError extends Error {
  override name = 'EksAuthSyncError';
}
