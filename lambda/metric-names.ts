/**
 * The CloudWatch metrics the handler publishes (Powertools, EMF) and the stack's alarms watch:
 * one place, so an alarm cannot drift away from the metric it reads.
 */

/** The metrics' namespace. */
export const METRIC_NAMESPACE = 'EksAuthSync';

/** Powertools' service name; it publishes every metric with the dimension `service` set to it. */
export const METRIC_SERVICE = 'eks-auth-sync';

/** The metric names the alarms read. */
export const METRIC = {
  /** 1 for each scheduled run that ended without an error (a dry run under DRY_RUN_ONLY included). */
  scheduledRunSucceeded: 'ScheduledRunSucceeded',
  /** 1 for each write a guard refused. */
  guardRefusals: 'GuardRefusals',
  /** 1 for each run that stopped on an invalid config or mappings document. */
  invalidConfig: 'InvalidConfig',
  /** 1 for each change event skipped as irrelevant or already seen by a run (lambda/events.ts). */
  eventsSkipped: 'EventsSkipped',
  /** Change notifications: 1 for each destination (SNS topic, EventBridge bus) a notification did not reach. */
  notificationFailures: 'NotificationFailures',
} as const;

/**
 * The dimensions of every metric of a `cluster:` run: Powertools' `service` and the handler's
 * `cluster`. Without a cluster, those of a `clusters:` run's fleet-wide metrics: `service` only.
 * @example metricDimensions('prod') // { service: 'eks-auth-sync', cluster: 'prod' }
 */
export function metricDimensions(clusterName?: string): Record<string, string> {
  return clusterName === undefined ? { service: METRIC_SERVICE } : { service: METRIC_SERVICE, cluster: clusterName };
}
