/**
 * A fleet run: every cluster of a `clusters:` config, each with its own config (its sync settings
 * over the top-level ones, its own scanners or the shared ones), synced by `runSync` with a few
 * at a time. One set of shared reads serves the whole run, so scanners that read the same account
 * the same way (the iam scanner's key) read IAM once for every cluster. Each cluster succeeds or
 * fails on its own; the run fails as a whole, after all of them ran, when any one failed.
 */
import { isFleetConfig, type AnyConfig, type Config, type FleetClusterConfig, type FleetConfig } from './config.js';
import { ConfigError, FleetFailedError, TargetsFailedError } from './errors.js';
import { sharedReads } from './scanners/index.js';
import { runSync, type RunOptions, type SyncReport } from './sync.js';

/** How many clusters sync at once: enough to overlap their EKS round trips, few enough to stay under API rate limits. */
export const FLEET_CONCURRENCY = 4;

export interface FleetOptions extends Omit<RunOptions, 'config' | 'shared'> {
  config: FleetConfig;
  /** Only these clusters, by name (CLI `--cluster`). @default every cluster */
  only?: readonly string[];
  /** @default FLEET_CONCURRENCY */
  concurrency?: number;
  /** One cluster's sync (the handler passes its own, which tests replace). @default runSync */
  runSync?: (options: RunOptions) => Promise<SyncReport>;
}

/** One cluster's outcome: its report, or the error that ended its sync (with the report, when one was made). */
export interface ClusterOutcome {
  cluster: string;
  /** Present when the sync ended with a report: always on success, and for a target failure in `both`. */
  report?: SyncReport;
  /** Why this cluster's sync failed; absent when it succeeded. */
  error?: Error;
}

/** Every cluster's outcome, in the config's order. */
export interface FleetReport {
  dryRun: boolean;
  /** Some cluster's target was written. */
  committed: boolean;
  clusters: ClusterOutcome[];
  /** The names of the clusters whose sync failed. */
  failed: string[];
}

/**
 * The {@link Config} one cluster of a fleet syncs with: its `sync` fields over the top-level
 * ones, its own scanners or else the shared ones, the top-level `aws` and `deployment` as they are.
 * @example clusterConfig(fleet, fleet.clusters[0]).cluster.name
 */
export function clusterConfig(fleet: FleetConfig, entry: FleetClusterConfig): Config {
  const { clusters: _all, scanners: shared, ...common } = fleet;
  const { sync, scanners, ...cluster } = entry;
  const own = Object.fromEntries(Object.entries(sync ?? {}).filter(([, v]) => v !== undefined));
  const chosen = scanners ?? shared;
  // The schema refuses a cluster with no scanners of its own when none are shared.
  if (chosen === undefined) throw new ConfigError(`clusters: cluster ${entry.name} has no scanners, and there are no top-level scanners to share`);
  return { ...common, cluster, sync: { ...fleet.sync, ...own }, scanners: chosen };
}

/** The cluster names of either form of config, in order. */
export function clusterNames(config: AnyConfig): string[] {
  return isFleetConfig(config) ? config.clusters.map((c) => c.name) : [config.cluster.name];
}

/**
 * Syncs every cluster of `options.config`, `concurrency` at a time, sharing IAM reads across them.
 * @throws FleetFailedError, carrying the report, after every cluster ran, when any one failed;
 *   ConfigError when `only` names a cluster the config does not have.
 * @example const report = await runFleet({ config, configDir: '.', commit: false });
 */
export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  const { config, only, concurrency = FLEET_CONCURRENCY, runSync: sync = runSync, ...run } = options;
  const unknown = (only ?? []).filter((name) => !config.clusters.some((c) => c.name === name));
  if (unknown.length > 0) {
    throw new ConfigError(`--cluster ${unknown.join(', ')}: not in the config's clusters (${clusterNames(config).join(', ')})`);
  }
  const entries = config.clusters.filter((c) => only === undefined || only.includes(c.name));
  const shared = sharedReads();
  const outcomes: ClusterOutcome[] = new Array<ClusterOutcome>(entries.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < entries.length; i = next++) {
      const entry = entries[i] as FleetClusterConfig;
      try {
        outcomes[i] = { cluster: entry.name, report: await sync({ ...run, config: clusterConfig(config, entry), shared }) };
      } catch (err) {
        const error = err instanceof Error ? err : new Error(String(err));
        // In `both`, the target that did not fail did its work: its report stays with the cluster.
        outcomes[i] = { cluster: entry.name, error, ...(err instanceof TargetsFailedError ? { report: err.report } : {}) };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(concurrency, 1), entries.length) }, worker));

  const report: FleetReport = {
    dryRun: !options.commit,
    committed: outcomes.some((o) => o.report?.committed === true),
    clusters: outcomes,
    failed: outcomes.filter((o) => o.error !== undefined).map((o) => o.cluster),
  };
  if (report.failed.length > 0) throw new FleetFailedError(report);
  return report;
}
