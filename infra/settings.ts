/**
 * The CDK app's settings from a config file: the sync config itself, plus its optional
 * `deployment` section mapped onto the {@link EksAuthSyncProps}. Pure, so infra/app.ts stays a
 * few lines and the mapping is tested without synthesizing.
 */
import { dirname } from 'node:path';
import { Duration } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { validateConfig, type Config } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';
import type { EksAuthSyncProps } from './eks-auth-sync.js';
import { IAM_EVENTS_REGION } from './events.js';

/**
 * The retention periods CloudWatch Logs accepts. `RetentionDays.INFINITE` (9999) is CDK's
 * spelling of "no retention", not a period, so it is left out rather than taken for 27 years.
 */
const RETENTION_DAYS: readonly number[] = Object.values(logs.RetentionDays)
  .filter((v): v is number => typeof v === 'number' && v !== logs.RetentionDays.INFINITE);

/** What the CDK app builds from one config file. */
export interface AppSettings {
  /** `deployment.stackName`, if the file sets one. */
  readonly stackName?: string;
  readonly props: EksAuthSyncProps;
  /**
   * Event-driven sync: present when IAM's events must be forwarded from us-east-1 to the
   * function's region (an `IamEventForwarder` stack).
   */
  readonly iamEventForwarder?: { readonly targetRegion: string };
}

/**
 * Validates a parsed config document and maps its `deployment` section onto EksAuthSync props;
 * fields the section leaves out keep the construct's defaults.
 * @param document the config file's parsed YAML or JSON (see `parseYamlText`).
 * @param configFile the file's absolute path: messages name it, and relative `file` scanner
 *   paths resolve against its directory.
 * @example settingsFromConfig(parseYamlText(text, '/x/prod.yaml'), '/x/prod.yaml').props.memorySize
 * @throws ConfigError naming the path of every problem (`deployment.timeoutSeconds: must be at most 900`).
 */
export function settingsFromConfig(document: unknown, configFile: string): AppSettings {
  const validated = validateConfig(document, configFile);
  const d = validated.deployment ?? {};
  if (d.logRetentionDays !== undefined && !RETENTION_DAYS.includes(d.logRetentionDays)) {
    throw new ConfigError(`${configFile}: deployment.logRetentionDays: expected one of ${RETENTION_DAYS.join(', ')}`);
  }
  const props: EksAuthSyncProps = {
    // The document, not the validated config: the construct ships what the file says.
    config: document,
    configDir: dirname(configFile),
    ...(d.schedule !== undefined && { schedule: events.Schedule.expression(d.schedule) }),
    ...(d.dryRunOnly !== undefined && { dryRunOnly: d.dryRunOnly }),
    ...(d.memorySize !== undefined && { memorySize: d.memorySize }),
    ...(d.timeoutSeconds !== undefined && { timeout: Duration.seconds(d.timeoutSeconds) }),
    ...(d.logRetentionDays !== undefined && { logRetention: d.logRetentionDays as logs.RetentionDays }),
    ...(d.alarmTopicArn !== undefined && { alarmAction: snsTopicAction(d.alarmTopicArn) }),
    ...(d.noSuccessAlarmMinutes !== undefined && { noSuccessAlarmAfter: Duration.minutes(d.noSuccessAlarmMinutes) }),
    ...(d.createAccessEntry !== undefined && { createAccessEntry: d.createAccessEntry }),
    ...(d.kubernetesGroup !== undefined && { kubernetesGroup: d.kubernetesGroup }),
    ...(d.kubernetesUsername !== undefined && { kubernetesUsername: d.kubernetesUsername }),
    ...(d.events !== undefined && { events: { ssm: d.events.ssm ?? false, iam: d.events.iam ?? false, identityCenter: d.events.identityCenter ?? false } }),
  };
  const forwarder = iamEventForwarder(validated, configFile);
  return {
    ...(d.stackName === undefined ? {} : { stackName: d.stackName }),
    props,
    ...(forwarder === undefined ? {} : { iamEventForwarder: forwarder }),
  };
}

/**
 * Event-driven sync: where IAM's events go when `deployment.events.iam` is set. The function's
 * region must be known at synth (the stack itself is environment-agnostic); none is needed in
 * us-east-1, where they arrive.
 */
function iamEventForwarder(config: Config, configFile: string): { targetRegion: string } | undefined {
  const settings = config.deployment?.events;
  if (!settings?.iam) return undefined;
  const region = settings.region ?? config.cluster.region;
  if (region === undefined) {
    throw new ConfigError(`${configFile}: deployment.events.region: required with deployment.events.iam (or set cluster.region): the us-east-1 forwarder sends IAM's events to the function's region`);
  }
  return region === IAM_EVENTS_REGION ? undefined : { targetRegion: region };
}

/**
 * Publishes to an existing SNS topic. The topic is imported when the alarm binds the action,
 * under the alarm, because importing needs a scope inside a stack and this module has none.
 */
function snsTopicAction(topicArn: string): cloudwatch.IAlarmAction {
  return { bind: (scope, alarm) => new SnsAction(Topic.fromTopicArn(scope, 'AlarmTopic', topicArn)).bind(scope, alarm) };
}
