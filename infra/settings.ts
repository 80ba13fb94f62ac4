/**
 * The CDK app's settings from a config file: the sync config itself, plus its optional
 * `deployment` section mapped onto the {@link EksAuthSyncProps}. Pure, so infra/app.ts stays a
 * few lines and the mapping is tested without synthesizing.
 */
import { dirname } from 'node:path';
import { Duration, Fn } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { isFleetConfig, validateAnyConfig, type AnyConfig, type Config } from '../lambda/config.js';
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
  /**
   * The existing resources the `deployment` section names (VPC, subnets, security groups,
   * notification topic and bus), imported into `scope` (the stack) without lookups, so synth
   * stays offline; to be merged into `props`. Present only when the section names some.
   * @example new EksAuthSync(stack, 'EksAuthSync', { ...props, ...importedResources?.(stack) })
   */
  readonly importedResources?: (scope: Construct) => ImportedResources;
}

/** The props whose values are constructs, and so need a scope to be imported in. */
export type ImportedResources = Pick<EksAuthSyncProps, 'vpc' | 'vpcSubnets' | 'securityGroups' | 'notificationTopic' | 'notificationEventBus'>;

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
  // Either form: one cluster (`cluster:`) or a fleet (`clusters:`); `deployment` is top-level in both.
  const validated = validateAnyConfig(document, configFile);
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
  const settings: AppSettings = {
    ...(d.stackName === undefined ? {} : { stackName: d.stackName }),
    props,
    ...(forwarder === undefined ? {} : { iamEventForwarder: forwarder }),
  };
  return d.vpc || d.notifications?.topicArn || d.notifications?.eventBus ? { ...settings, importedResources: (scope) => importedResources(scope, d) } : settings;
}

/**
 * Event-driven sync: where IAM's events go when `deployment.events.iam` is set. The function's
 * region must be known at synth (the stack itself is environment-agnostic); none is needed in
 * us-east-1, where they arrive.
 */
function iamEventForwarder(config: AnyConfig, configFile: string): { targetRegion: string } | undefined {
  const settings = config.deployment?.events;
  if (!settings?.iam) return undefined;
  // A fleet's clusters may be in several regions; only one they all share says where the function is.
  const regions = new Set(isFleetConfig(config) ? config.clusters.map((c) => c.region) : [config.cluster.region]);
  const clusterRegion = regions.size === 1 ? [...regions][0] : undefined;
  const region = settings.region ?? clusterRegion;
  if (region === undefined) {
    throw new ConfigError(`${configFile}: deployment.events.region: required with deployment.events.iam (or set ${isFleetConfig(config) ? 'the same region on every cluster' : 'cluster.region'}): the us-east-1 forwarder sends IAM's events to the function's region`);
  }
  return region === IAM_EVENTS_REGION ? undefined : { targetRegion: region };
}

/**
 * Change notifications and private endpoints: imports what `deployment.notifications` and
 * `deployment.vpc` name. The VPC is imported by ID alone (the function's subnets are given by
 * ID), so nothing is looked up in the account.
 */
function importedResources(scope: Construct, d: NonNullable<Config['deployment']>): ImportedResources {
  const out: { -readonly [K in keyof ImportedResources]: ImportedResources[K] } = {};
  const { topicArn, eventBus } = d.notifications ?? {};
  if (topicArn) out.notificationTopic = Topic.fromTopicArn(scope, 'NotificationTopic', topicArn);
  if (eventBus) {
    out.notificationEventBus = eventBus.startsWith('arn:')
      ? events.EventBus.fromEventBusArn(scope, 'NotificationBus', eventBus)
      : events.EventBus.fromEventBusName(scope, 'NotificationBus', eventBus);
  }
  if (d.vpc) {
    // The region's AZs as a deploy-time list: CDK needs some, and nothing here reads them.
    out.vpc = ec2.Vpc.fromVpcAttributes(scope, 'Vpc', { vpcId: d.vpc.vpcId, availabilityZones: Fn.getAzs() });
    out.vpcSubnets = { subnets: d.vpc.subnetIds.map((id, i) => ec2.Subnet.fromSubnetId(scope, `Subnet${i}`, id)) };
    if (d.vpc.securityGroupIds) {
      out.securityGroups = d.vpc.securityGroupIds.map((id, i) => ec2.SecurityGroup.fromSecurityGroupId(scope, `SecurityGroup${i}`, id));
    }
  }
  return out;
}

/**
 * Publishes to an existing SNS topic. The topic is imported when the alarm binds the action,
 * under the alarm, because importing needs a scope inside a stack and this module has none.
 */
function snsTopicAction(topicArn: string): cloudwatch.IAlarmAction {
  return { bind: (scope, alarm) => new SnsAction(Topic.fromTopicArn(scope, 'AlarmTopic', topicArn)).bind(scope, alarm) };
}
