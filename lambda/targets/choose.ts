/**
 * Which target a run writes: the config's `sync.target` against the cluster's authentication
 * mode (DescribeCluster's `accessConfig.authenticationMode`). Pure, so every pair is tested.
 */
import { TargetModeError } from '../errors.js';

/** A store of cluster access eks-auth-sync writes. */
export type TargetName = 'configMap' | 'accessEntries';

/** The config's `sync.target`. */
export type TargetSetting = 'auto' | 'configMap' | 'accessEntries' | 'both';

/** The targets a run writes, and why. */
export interface TargetChoice {
  setting: TargetSetting;
  /** The cluster's mode; CONFIG_MAP when DescribeCluster reported none (clusters from before access entries). */
  authenticationMode: string;
  /** In the order they run: aws-auth first, as it was the only target before access entries. */
  targets: TargetName[];
  reason: string;
  /** A hint for the operator, e.g. that access entries are available. */
  note?: string;
}

/**
 * The targets for `setting` on a cluster in `mode`.
 * @example chooseTargets('auto', 'API') // { targets: ['accessEntries'], reason: 'auto: the cluster is in API mode, …' }
 * @throws TargetModeError when the setting names a target the mode cannot use (aws-auth in API
 *   mode, access entries in CONFIG_MAP mode), before anything is read or written.
 */
export function chooseTargets(setting: TargetSetting, mode: string | undefined, clusterName: string): TargetChoice {
  const authenticationMode = mode ?? 'CONFIG_MAP';
  const choice = (targets: TargetName[], reason: string, note?: string): TargetChoice => ({
    setting, authenticationMode, targets, reason, ...(note === undefined ? {} : { note }),
  });
  const where = `cluster ${clusterName} is in authentication mode ${authenticationMode}`;
  const wantsConfigMap = setting === 'configMap' || setting === 'both';
  const wantsAccessEntries = setting === 'accessEntries' || setting === 'both';
  if (authenticationMode === 'API' && wantsConfigMap) {
    throw new TargetModeError(
      `sync.target is ${setting}, but ${where}, where EKS ignores aws-auth: a write there would grant and revoke nothing. ` +
        'Nothing was written. Set sync.target to accessEntries (or auto).',
    );
  }
  if (authenticationMode === 'CONFIG_MAP' && wantsAccessEntries) {
    throw new TargetModeError(
      `sync.target is ${setting}, but ${where}, where EKS has no access entries. Nothing was written. Switch the ` +
        'cluster to API_AND_CONFIG_MAP (aws eks update-cluster-config --access-config authenticationMode=API_AND_CONFIG_MAP), or set sync.target to configMap (or auto).',
    );
  }
  if (setting === 'both') return choice(['configMap', 'accessEntries'], `sync.target both: ${where}, which reads both`);
  if (setting === 'configMap') return choice(['configMap'], `sync.target configMap (${where})`);
  if (setting === 'accessEntries') return choice(['accessEntries'], `sync.target accessEntries (${where})`);
  if (authenticationMode === 'API') return choice(['accessEntries'], `auto: ${where}, which reads access entries only`);
  if (authenticationMode === 'API_AND_CONFIG_MAP') {
    return choice(['configMap'], `auto: ${where}; aws-auth, as before`,
      'the cluster also reads access entries: set sync.target to accessEntries, or both while moving from aws-auth');
  }
  return choice(['configMap'], `auto: ${where}, which reads aws-auth only`);
}
