/**
 * The handler's part for a `clusters:` config: one fleet run, each cluster's metrics under its
 * own `cluster` dimension, and a response with every cluster's outcome. The fleet-wide metrics
 * (ScheduledRunSucceeded, Failures, GuardRefusals, InvalidConfig, DurationMs) carry no cluster
 * dimension, so one alarm watches the whole fleet; see lambda/handler.ts.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { MetricUnit, type Metrics } from '@aws-lambda-powertools/metrics';
import type { FleetConfig } from './config.js';
import { FleetFailedError, isGuardRefusal } from './errors.js';
import { runFleet, type ClusterOutcome, type FleetReport } from './fleet.js';
import { METRIC } from './metric-names.js';
import type { RunOptions, SyncReport } from './sync.js';

/** The response for one cluster: `response` as a `cluster:` config would return it, or `error`. */
export interface FleetClusterResponse<R> {
  cluster: string;
  outcome: 'succeeded' | 'failed';
  /** Why the cluster's sync failed (only when it failed). */
  error?: string;
  /** Present on success, and when one target of `both` failed (what the other did). */
  response?: R;
}

/** What the function returns (and logs) for a `clusters:` config. */
export interface FleetResponse<R> {
  dryRun: boolean;
  committed: boolean;
  /** Each cluster in the config's order. */
  clusters: FleetClusterResponse<R>[];
  /** The clusters that failed (the invoke then fails, and this is logged with the failure). */
  failed: string[];
}

/** The fleet response for a fleet report, each cluster's report turned into a response by `responseOf`. */
export function fleetResponseOf<R>(report: FleetReport, responseOf: (r: SyncReport) => R): FleetResponse<R> {
  return {
    dryRun: report.dryRun,
    committed: report.committed,
    clusters: report.clusters.map((c) => ({
      cluster: c.cluster,
      outcome: c.error === undefined ? 'succeeded' : 'failed',
      ...(c.error === undefined ? {} : { error: c.error.message }),
      ...(c.report === undefined ? {} : { response: responseOf(c.report) }),
    })),
    failed: report.failed,
  };
}

/** What the fleet part of the handler uses of the handler's own dependencies and helpers. */
export interface FleetHandlerDeps<R> {
  runSync: (options: RunOptions) => Promise<SyncReport>;
  logger: Logger;
  metrics: Metrics;
  /** The per-report metrics a `cluster:` run publishes, added to `metrics`. */
  reportMetrics: (metrics: Metrics, report: SyncReport) => void;
  responseOf: (report: SyncReport) => R;
  /** Change notifications: publishes one cluster's committed changes or refusal (committing runs only). */
  notifyCluster?: ((c: ClusterOutcome) => Promise<void>) | undefined;
}

/**
 * Runs every cluster of `config`, publishes each one's metrics under its `cluster` dimension, and
 * logs the outcome of each.
 * @throws FleetFailedError after every cluster ran, when any one failed (its outcome is logged first).
 */
export async function handleFleet<R>(deps: FleetHandlerDeps<R>, config: FleetConfig, options: Omit<RunOptions, 'config'>): Promise<FleetResponse<R>> {
  const { logger } = deps;
  let report: FleetReport;
  try {
    report = await runFleet({ ...options, config, runSync: deps.runSync });
  } catch (err) {
    if (err instanceof FleetFailedError) {
      for (const c of err.report.clusters) clusterMetrics(deps, c);
      await notifyEach(deps, err.report);
      logger.info(`${err.report.failed.length} of ${err.report.clusters.length} clusters failed; the outcome of each`, { ...fleetResponseOf(err.report, deps.responseOf) });
    }
    throw err;
  }
  for (const c of report.clusters) clusterMetrics(deps, c);
  await notifyEach(deps, report);
  const response = fleetResponseOf(report, deps.responseOf);
  logger.info(`${report.clusters.length} clusters ${report.committed ? 'synced, some updated' : report.dryRun ? 'planned (dry run)' : 'already in step'}`, { ...response });
  return response;
}

/** Each cluster's notification, one after another (the payload names its cluster). */
async function notifyEach<R>({ notifyCluster }: FleetHandlerDeps<R>, report: FleetReport): Promise<void> {
  if (!notifyCluster) return;
  for (const c of report.clusters) await notifyCluster(c);
}

/** One cluster's metrics, in one EMF record per metric, under the dimensions `service` and `cluster`. */
function clusterMetrics<R>({ metrics, reportMetrics }: FleetHandlerDeps<R>, c: ClusterOutcome): void {
  const one = metrics.singleMetric();
  // A default dimension: a single-metric instance clears the others after each metric it publishes.
  one.setDefaultDimensions({ cluster: c.cluster });
  if (c.report !== undefined) reportMetrics(one, c.report);
  one.addMetric('Failures', MetricUnit.Count, c.error === undefined ? 0 : 1);
  one.addMetric(METRIC.guardRefusals, MetricUnit.Count, isGuardRefusal(c.error) ? 1 : 0);
}
