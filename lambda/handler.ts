/**
 * Lambda entry: event → options → runSync → JSON response. Everything else lives in the core.
 *
 * A scheduled EventBridge event commits; any other invoke is a dry run unless it says
 * `{"dryRun": false}`. `DRY_RUN_ONLY=true` makes every run a dry run. A failure is thrown so
 * Lambda records it; the stack's alarms read the metrics: a guard refusal or an invalid config
 * at once, anything else (throttling, a cluster briefly unreachable) only when no scheduled run
 * has succeeded for a while, since the next run usually repairs it.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { loadConfig, type Config } from './config.js';
import { ConfigError, GuardRefusalError, InvalidInvocationError, TargetsFailedError } from './errors.js';
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
  trigger: 'schedule' | 'manual';
}

const ACCEPTED_PAYLOADS =
  'a scheduled EventBridge event, {} or {"dryRun": true} for a dry run, or {"dryRun": false} to commit';

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
export interface HandlerDeps {
  runSync: (options: RunOptions) => Promise<SyncReport>;
  /** Loads the config once per container. */
  loadConfig: () => Promise<{ config: Config; configDir: string }>;
  env: NodeJS.ProcessEnv;
  now: () => number;
  logger: Logger;
  metrics: Metrics;
  /** Change notifications: publishes a committing run's changes and refusals; absent: none are published. */
  notify?: Notifier | undefined;
}

type LambdaHandler = (event: unknown, context?: Context) => Promise<HandlerResponse>;

/** Builds the handler around its dependencies. */
export function createHandler(deps: HandlerDeps): LambdaHandler {
  return async (event, context) => {
    const started = deps.now();
    const { metrics, logger } = deps;
    if (context) logger.addContext(context);
    // Change notifications: set once a committing run is known; dry runs publish nothing.
    let notifyAs: Pick<RunOutcome, 'cluster' | 'trigger'> | undefined;
    try {
      const invocation = parseInvocation(event, { dryRunOnly: deps.env['DRY_RUN_ONLY'] === 'true' });
      const { config, configDir } = await deps.loadConfig();
      metrics.addDimension('cluster', config.cluster.name);
      logger.appendKeys({ cluster: config.cluster.name, trigger: invocation.trigger });
      if (invocation.commit) notifyAs = { cluster: config.cluster.name, trigger: invocation.trigger };
      const options: RunOptions = { config, configDir, commit: invocation.commit };
      if (context) options.deadline = new Date(started + context.getRemainingTimeInMillis() - DEADLINE_SAFETY_MARGIN_MS);
      const report = await deps.runSync(options);
      const response = responseOf(report);
      metrics.addMetric('MappingsDesired', MetricUnit.Count, report.desired.roles + report.desired.users);
      metrics.addMetric('EntriesAdded', MetricUnit.Count, report.change?.added.length ?? 0);
      metrics.addMetric('EntriesRemoved', MetricUnit.Count, report.change?.removed.length ?? 0);
      metrics.addMetric('EntriesChanged', MetricUnit.Count, report.change?.changed.length ?? 0);
      if (invocation.trigger === 'schedule') metrics.addMetric(METRIC.scheduledRunSucceeded, MetricUnit.Count, 1);
      metrics.addMetric('AccessEntrySteps', MetricUnit.Count, report.accessEntries?.plan.steps.length ?? 0);
      metrics.addMetric('SelfEntryKept', MetricUnit.Count, report.change?.selfEntryKept || report.accessEntries?.plan.selfEntryKept ? 1 : 0);
      metrics.addMetric('OwnershipRecordMissing', MetricUnit.Count, report.change?.ownershipRecordMissing ? 1 : 0);
      metrics.addMetric('ForeignEntriesKept', MetricUnit.Count, report.change?.keptAgainstTags.length ?? 0);
      logger.info(summary(report), { ...response });
      if (notifyAs) await sendNotification(deps, { ...notifyAs, report });
      return response;
    } catch (error) {
      metrics.addMetric('Failures', MetricUnit.Count, 1);
      const refused = error instanceof GuardRefusalError || (error instanceof TargetsFailedError && error.guardRefused);
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
function configLoaderFromAsset(env: NodeJS.ProcessEnv): () => Promise<{ config: Config; configDir: string }> {
  let loaded: Promise<{ config: Config; configDir: string }> | undefined;
  const load = async () => {
    const path = resolve(dirname(fileURLToPath(import.meta.url)), env['CONFIG_PATH'] ?? 'config.json');
    const { config, baseDir } = await loadConfig(path);
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
