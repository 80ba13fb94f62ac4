/**
 * Lambda entry: event → options → runSync → JSON response. Everything else lives in the core.
 *
 * A scheduled EventBridge event commits, and so does a relevant change event (lambda/events.ts);
 * any other invoke is a dry run unless it says `{"dryRun": false}`. `DRY_RUN_ONLY=true` makes
 * every run a dry run. A failure is thrown so Lambda records it; the stack's alarms read the metrics: a guard refusal or an invalid config
 * at once, anything else (throttling, a cluster briefly unreachable) only when no scheduled run
 * has succeeded for a while, since the next run usually repairs it.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { isFleetConfig, loadAnyConfig, type AnyConfig, type FleetConfig } from './config.js';
import { ConfigError, FleetFailedError, InvalidInvocationError, isGuardRefusal, TargetsFailedError } from './errors.js';
import { changeEventOf, decide, RunLedger, SETTLE_MS, type ChangeEvent } from './events.js';
import { clusterConfig, clusterNames, type ClusterOutcome } from './fleet.js';
import { handleFleet, type FleetResponse } from './handler-fleet.js';
import { METRIC, METRIC_NAMESPACE, METRIC_SERVICE } from './metric-names.js';
import { notificationPayload, notifierFromEnv, type Notifier, type RunOutcome } from './notify.js';
import { runSync, type RunOptions, type SyncReport } from './sync.js';

/**
 * The run's deadline is this long before Lambda's timeout. Every Kubernetes request, the write
 * included, ends by the deadline (lambda/cluster/kube.ts cuts its timeout and retries there, and
 * starts no write without a whole request timeout left), so Lambda never kills a run inside a
 * write; the margin is for what follows: the error's log entry and the metrics.
 */
export const DEADLINE_SAFETY_MARGIN_MS = 10_000;

/** What the function returns (and logs) for every successful run. */
export interface HandlerResponse {
  dryRun: boolean;
  committed: boolean;
  /** The target(s) written and why (absent when the cluster was not reached). */
  target?: { targets: string[]; reason: string; note?: string };
  desired: SyncReport['desired'];
  /** aws-auth's change (null when aws-auth is not a target). */
  change: SyncReport['change'];
  /** The access entries' steps and counts (null when they are not a target). */
  accessEntries: AccessEntriesSummary | null;
  /** In `both`, each failed target's error (the run then fails; this is logged with the failure). */
  targetErrors?: SyncReport['targetErrors'];
  migration?: SyncReport['migration'];
  warnings: SyncReport['warnings'];
}

/** The access-entries outcome without the per-entry lists that only restate what is in step. */
export interface AccessEntriesSummary {
  steps: NonNullable<SyncReport['accessEntries']>['plan']['steps'];
  applied: number;
  committed: boolean;
  unchanged: number;
  keptForeign: number;
  selfEntryKept: NonNullable<SyncReport['accessEntries']>['plan']['selfEntryKept'];
}

/** The response for a report: what ran, what changed, and every warning. */
export function responseOf(report: SyncReport): HandlerResponse {
  const ae = report.accessEntries;
  const response: HandlerResponse = {
    dryRun: report.dryRun,
    committed: report.committed,
    desired: report.desired,
    change: report.change,
    accessEntries: ae && {
      steps: ae.plan.steps,
      applied: ae.applied,
      committed: ae.committed,
      unchanged: ae.plan.unchanged.length,
      keptForeign: ae.plan.keptForeign.length,
      selfEntryKept: ae.plan.selfEntryKept,
    },
    warnings: report.warnings,
  };
  if (report.target) {
    const { targets, reason, note } = report.target;
    response.target = { targets, reason, ...(note === undefined ? {} : { note }) };
  }
  if (Object.keys(report.targetErrors).length > 0) response.targetErrors = report.targetErrors;
  if (report.migration) response.migration = report.migration;
  return response;
}

/** How an event is to be handled. */
export interface Invocation {
  commit: boolean;
  trigger: 'schedule' | 'manual' | 'event';
  /** For trigger `event`: the change it announces. */
  change?: ChangeEvent;
}

/** What the function returns for a change event it did not run for. */
export interface SkippedEventResponse {
  skipped: true;
  reason: string;
}

const ACCEPTED_PAYLOADS =
  'a scheduled EventBridge event, {} or {"dryRun": true} for a dry run, or {"dryRun": false} to commit' +
  ', or a change event (Parameter Store Change, or an IAM or Identity Center call via CloudTrail)';

/**
 * Decides whether an event commits. Pure, so every kind of event is tested directly.
 *
 * @example
 * parseInvocation({ dryRun: false }, { dryRunOnly: false }) // { commit: true, trigger: 'manual' }
 */
export function parseInvocation(event: unknown, options: { dryRunOnly: boolean }): Invocation {
  const force = (invocation: Invocation): Invocation =>
    options.dryRunOnly ? { ...invocation, commit: false } : invocation;
  if (event === null || event === undefined) return { commit: false, trigger: 'manual' };
  if (typeof event !== 'object' || Array.isArray(event)) {
    throw new InvalidInvocationError(`Invalid invoke payload ${describe(event)}: expected ${ACCEPTED_PAYLOADS}.`);
  }
  const fields = event as Record<string, unknown>;
  if (fields['source'] === 'aws.events' && fields['detail-type'] === 'Scheduled Event') {
    return force({ commit: true, trigger: 'schedule' });
  }
  const change = changeEventOf(event);
  if (change) return force({ commit: true, trigger: 'event', change });
  const unknownKeys = Object.keys(fields).filter((key) => key !== 'dryRun');
  if (unknownKeys.length > 0) {
    throw new InvalidInvocationError(
      `Invalid invoke payload: unknown field(s) ${unknownKeys.map((key) => JSON.stringify(key)).join(', ')}; expected ${ACCEPTED_PAYLOADS}.`,
    );
  }
  const dryRun = fields['dryRun'];
  if (dryRun !== undefined && typeof dryRun !== 'boolean') {
    throw new InvalidInvocationError(
      `Invalid invoke payload: "dryRun" is ${describe(dryRun)}, it must be true or false; expected ${ACCEPTED_PAYLOADS}.`,
    );
  }
  return force({ commit: dryRun === false, trigger: 'manual' });
}

function describe(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

/** What the handler needs from the outside world; tests replace any of it. */
export interface HandlerDeps<C extends AnyConfig = AnyConfig> {
  runSync: (options: RunOptions) => Promise<SyncReport>;
  /** Loads the config once per container. */
  loadConfig: () => Promise<{ config: C; configDir: string }>;
  env: NodeJS.ProcessEnv;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  /** Waits before an event's run reads (the settle delay); setTimeout unless a test replaces it. */
  sleep?: (ms: number) => Promise<void>;
  /** Change notifications: publishes a committing run's changes and refusals; absent: none are published. */
  notify?: Notifier | undefined;
}

/** A `clusters:` config's response: each cluster's {@link HandlerResponse}, or its error. */
export type FleetHandlerResponse = FleetResponse<HandlerResponse>;

/** The response for a config of type `C`: a `cluster:` config's, a `clusters:` config's, or either. */
export type ResponseFor<C extends AnyConfig> = C extends FleetConfig ? FleetHandlerResponse : HandlerResponse;

type LambdaHandler<C extends AnyConfig = AnyConfig> = (event: unknown, context?: Context) => Promise<ResponseFor<C> | SkippedEventResponse>;

/** Builds the handler around its dependencies. */
export function createHandler<C extends AnyConfig>(deps: HandlerDeps<C>): LambdaHandler<C> {
  // One per container: the coalescing rule's memory of the last successful runs.
  const ledger = new RunLedger();
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  return async (event, context) => {
    const started = deps.now();
    const { metrics, logger } = deps;
    if (context) logger.addContext(context);
    // Change notifications: set once a committing run is known; dry runs publish nothing.
    let notifyAs: Pick<RunOutcome, 'cluster' | 'trigger'> | undefined;
    try {
      const invocation = parseInvocation(event, { dryRunOnly: deps.env['DRY_RUN_ONLY'] === 'true' });
      const { config, configDir } = await deps.loadConfig();
      const deadline = context ? new Date(started + context.getRemainingTimeInMillis() - DEADLINE_SAFETY_MARGIN_MS) : undefined;
      logger.appendKeys(isFleetConfig(config)
        ? { clusters: clusterNames(config), trigger: invocation.trigger }
        : { cluster: config.cluster.name, trigger: invocation.trigger });
      // Event-driven sync (lambda/events.ts): an irrelevant or already-seen change is skipped; a
      // relevant one waits until it has settled, so a burst of writes lands in this one run.
      let readStarted = started;
      if (invocation.change) {
        const fleet: AnyConfig = config;
        const judged = isFleetConfig(fleet) ? fleet.clusters.map((c) => clusterConfig(fleet, c)) : fleet;
        const decision = decide(invocation.change, judged, ledger, invocation.commit);
        const seen = { kind: invocation.change.kind, time: new Date(invocation.change.time).toISOString() };
        if (!decision.run) {
          metrics.addMetric(METRIC.eventsSkipped, MetricUnit.Count, 1);
          logger.info(`event skipped: ${decision.reason}`, { event: seen });
          return { skipped: true, reason: decision.reason };
        }
        logger.info(`event accepted: ${decision.reason}`, { event: seen });
        // At most a settle period (and its second), and never more than half the time left to the
        // deadline, so a short timeout still leaves the run its time; the ledger records the read
        // start as it was, so a shortened wait never makes a later event look seen.
        const now = deps.now();
        const halfLeft = deadline ? (deadline.getTime() - now) / 2 : Infinity;
        const wait = Math.min(decision.readAt - now, SETTLE_MS + 1_000, halfLeft);
        if (wait > 0) await sleep(wait);
        readStarted = deps.now();
        ledger.eventRunStarted(readStarted);
      }
      // ---- many clusters (clusters:): each cluster's metrics under its own dimension, see handler-fleet.ts
      if (isFleetConfig(config)) {
        const options: Omit<RunOptions, 'config'> = { configDir, commit: invocation.commit, ...(deadline ? { deadline } : {}) };
        const trigger = invocation.trigger;
        const notifyCluster = invocation.commit
          ? (c: ClusterOutcome) => sendNotification(deps, { cluster: c.cluster, trigger, ...(c.report ? { report: c.report } : {}), ...(c.error ? { error: c.error } : {}) })
          : undefined;
        const response = await handleFleet({ ...deps, reportMetrics, responseOf, notifyCluster }, config, options);
        ledger.completed({ readStarted, commit: invocation.commit });
        if (invocation.trigger === 'schedule') metrics.addMetric(METRIC.scheduledRunSucceeded, MetricUnit.Count, 1);
        return response as ResponseFor<C>;
      }
      // ---- end of many clusters
      metrics.addDimension('cluster', config.cluster.name);
      if (invocation.commit) notifyAs = { cluster: config.cluster.name, trigger: invocation.trigger };
      const options: RunOptions = { config, configDir, commit: invocation.commit, ...(deadline ? { deadline } : {}) };
      const report = await deps.runSync(options);
      ledger.completed({ readStarted, commit: invocation.commit });
      const response = responseOf(report);
      reportMetrics(metrics, report);
      if (invocation.trigger === 'schedule') metrics.addMetric(METRIC.scheduledRunSucceeded, MetricUnit.Count, 1);
      logger.info(summary(report), { ...response });
      if (notifyAs) await sendNotification(deps, { ...notifyAs, report });
      return response as ResponseFor<C>;
    } catch (error) {
      metrics.addMetric('Failures', MetricUnit.Count, 1);
      const refused = isGuardRefusal(error) || (error instanceof FleetFailedError && error.guardRefused);
      if (refused) metrics.addMetric(METRIC.guardRefusals, MetricUnit.Count, 1);
      // In `both`, the target that did not fail did its work: its outcome goes in the log too.
      if (error instanceof TargetsFailedError) logger.info('one target failed; the outcome of each', { ...responseOf(error.report) });
      // Before the config is loaded the cluster dimension is unknown, so the stack's alarm cannot
      // see this count; the config was validated at synth, and the no-success alarm still fires.
      if (error instanceof ConfigError) metrics.addMetric(METRIC.invalidConfig, MetricUnit.Count, 1);
      logger.error('sync failed', error instanceof Error ? error : String(error));
      if (notifyAs) await sendNotification(deps, { ...notifyAs, error });
      throw error;
    } finally {
      metrics.addMetric('DurationMs', MetricUnit.Milliseconds, deps.now() - started);
      metrics.publishStoredMetrics();
      logger.resetKeys();
    }
  };
}

/** The metrics of one cluster's report (a `clusters:` run adds them per cluster, under its dimension). */
function reportMetrics(metrics: Metrics, report: SyncReport): void {
  metrics.addMetric('MappingsDesired', MetricUnit.Count, report.desired.roles + report.desired.users);
  metrics.addMetric('EntriesAdded', MetricUnit.Count, report.change?.added.length ?? 0);
  metrics.addMetric('EntriesRemoved', MetricUnit.Count, report.change?.removed.length ?? 0);
  metrics.addMetric('EntriesChanged', MetricUnit.Count, report.change?.changed.length ?? 0);
  metrics.addMetric('AccessEntrySteps', MetricUnit.Count, report.accessEntries?.plan.steps.length ?? 0);
  metrics.addMetric('SelfEntryKept', MetricUnit.Count, report.change?.selfEntryKept || report.accessEntries?.plan.selfEntryKept ? 1 : 0);
  metrics.addMetric('OwnershipRecordMissing', MetricUnit.Count, report.change?.ownershipRecordMissing ? 1 : 0);
  metrics.addMetric('ForeignEntriesKept', MetricUnit.Count, report.change?.keptAgainstTags.length ?? 0);
}

/**
 * Change notifications (lambda/notify.ts): publishes the run's committed changes and guard
 * refusals, if any. A failed publish does not change the run's outcome: the change is in place
 * (or the refusal stands, and its own alarm fires), and failing the run would only make the next
 * one look at a change it no longer sees. It is logged (destination and error, never the payload)
 * and counted in NotificationFailures, which the stack alarms on at once.
 */
async function sendNotification({ notify, logger, metrics, now }: HandlerDeps, outcome: Omit<RunOutcome, 'time'>): Promise<void> {
  if (!notify) return;
  const payload = notificationPayload({ ...outcome, time: new Date(now()) });
  if (!payload) return;
  const failures = await notify(payload);
  if (failures.length === 0) return;
  metrics.addMetric(METRIC.notificationFailures, MetricUnit.Count, failures.length);
  logger.error('change notification not delivered; the sync outcome stands', { failures });
}

function summary(report: SyncReport): string {
  const names = (report.target?.targets ?? ['configMap']).map((t) => (t === 'configMap' ? 'aws-auth' : 'access entries')).join(' and ');
  if (report.committed) return `${names} updated`;
  if (report.dryRun) return `dry run: ${names} change planned`;
  return `${names} already in step`;
}

/**
 * The deployed config sits next to this file in the asset (see infra/eks-auth-sync.ts), so it
 * is read from disk once per container, never from an environment variable (4 KB limit).
 */
function configLoaderFromAsset(env: NodeJS.ProcessEnv): () => Promise<{ config: AnyConfig; configDir: string }> {
  let loaded: Promise<{ config: AnyConfig; configDir: string }> | undefined;
  const load = async () => {
    const path = resolve(dirname(fileURLToPath(import.meta.url)), env['CONFIG_PATH'] ?? 'config.json');
    const { config, baseDir } = await loadAnyConfig(path);
    return { config, configDir: baseDir };
  };
  return () => {
    if (!loaded) {
      loaded = load();
      // A failed load is retried on the next invoke rather than cached for the container's life.
      loaded.catch(() => {
        loaded = undefined;
      });
    }
    return loaded;
  };
}

/** The Lambda entry point. */
export const handler: LambdaHandler = createHandler({
  runSync,
  loadConfig: configLoaderFromAsset(process.env),
  env: process.env,
  now: () => Date.now(),
  logger: new Logger({ serviceName: METRIC_SERVICE }),
  metrics: new Metrics({ namespace: METRIC_NAMESPACE, serviceName: METRIC_SERVICE }),
  notify: notifierFromEnv(process.env),
});
