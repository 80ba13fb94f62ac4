/**
 * The `EksAuthSync` construct: the Lambda, its schedule, least-privilege role, log group,
 * alarms and (optionally) the EKS access entry that lets it edit aws-auth.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Tags, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { isFleetConfig, parseAnyConfig, parseMappingsDocument, type AnyConfig } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';
import { clusterConfig, clusterNames } from '../lambda/fleet.js';
import { METRIC, METRIC_NAMESPACE, metricDimensions } from '../lambda/metric-names.js';
import { OWNED_TAG } from '../lambda/targets/access-entries/plan.js';
import { leastPrivilegeStatements } from './policy.js';
import { HANDLER_BUNDLE } from './bundling.js';
import { ChangeEventRules, type ChangeEventTriggers } from './events.js';
import { functionNetwork } from './network.js';
import { wireNotifications } from './notifications.js';

const NAG_SPELLING = { partition: '<AWS::Partition>', account: '<AWS::AccountId>', region: '<AWS::Region>', urlSuffix: '<AWS::URLSuffix>' };

/** Above the priority of `Tags.of(...).add` (100 by default) and of `remove` (200). */
const OWNED_TAG_REMOVAL_PRIORITY = 1_000;

/** Where the handler finds the config inside the asset (see lambda/handler.ts). */
export const CONFIG_FILE_IN_ASSET = 'config.json';

/** Properties of {@link EksAuthSync}. */
export interface EksAuthSyncProps {
  /**
   * The configuration, in the CLI's schema (the parsed YAML or JSON document). It is validated
   * at synth time, so a bad config fails `cdk synth` with the field path, and it is shipped
   * inside the function's code asset together with every file a `file` scanner names.
   */
  readonly config: unknown;

  /**
   * The directory relative `file` scanner paths in `config` resolve against (the config file's
   * directory, as in the CLI).
   * @default - the current working directory
   */
  readonly configDir?: string;

  /**
   * The EKS cluster whose aws-auth is kept in step; replaces `cluster.name` in `config`.
   * @default - `cluster.name` from `config`
   */
  readonly clusterName?: string;

  /**
   * When the scheduled, committing run happens.
   * @default Schedule.rate(Duration.minutes(15))
   */
  readonly schedule?: events.Schedule;

  /**
   * Never write aws-auth, even on schedule: every run only reports the change it would make.
   * Useful for a first deployment next to a hand-managed aws-auth.
   * @default false
   */
  readonly dryRunOnly?: boolean;

  /**
   * Function memory in MB. Lambda allots CPU in proportion to memory; 256 MB halves the cold
   * start and the YAML/JSON work on thousands of identities compared with 128 MB for a small
   * cost, and leaves headroom over the 128 MB peak the bench targets at 7,000 identities.
   * @default 256
   */
  readonly memorySize?: number;

  /**
   * Function timeout. The run's deadline is 10 s before it: no write starts without a whole
   * request timeout (10 s) left, and every Kubernetes request ends by the deadline, so the
   * function is never killed in the middle of a write.
   * @default Duration.minutes(2)
   */
  readonly timeout?: Duration;

  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What each alarm triggers when it fires, e.g. an `SnsAction`.
   * @default - none; the alarms only change state
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;

  /**
   * How long without a successful scheduled run before the no-success alarm fires. Missing
   * data counts as no success, so it also fires when the function is not invoked at all (rule
   * disabled, function throttled or deleted). A single failed run, e.g. on throttling, does
   * not page: the next one usually succeeds. Rounded up to whole minutes (whole hours beyond a
   * day); at most 7 days, the longest CloudWatch looks back.
   * @default - two schedule periods, at most 7 days (for a cron schedule, two of the longest
   *   gaps its fields allow: an hour when only the minute is set, a day when the hour is, a week
   *   when the day of the week is)
   */
  readonly noSuccessAlarmAfter?: Duration;

  /**
   * Create an `AWS::EKS::AccessEntry` for the identity that reaches the cluster (the function's
   * role, or the config's top-level `aws.roleARN` when set), bound to `kubernetesGroup` only
   * (no access policy, never cluster-admin). Needs a cluster whose authentication mode includes
   * access entries (API or API_AND_CONFIG_MAP); the group still needs the RBAC Role and
   * RoleBinding from the README. Needed only to write aws-auth (`sync.target` configMap or
   * both): the access-entries target works over the EKS API alone. The entry never carries the
   * access-entries target's ownership tag, so that target leaves it alone.
   * @default false
   */
  readonly createAccessEntry?: boolean;

  /**
   * The Kubernetes group the access entry binds the function's role to.
   * @default 'eks-auth-sync'
   */
  readonly kubernetesGroup?: string;

  /**
   * The Kubernetes username of the function's role in the access entry.
   * @default 'eks-auth-sync'
   */
  readonly kubernetesUsername?: string;

  /**
   * Event-driven sync: the change events that invoke the function besides the schedule (see
   * infra/events.ts). The function's reserved concurrency of 1 and the handler's coalescing rule
   * turn a burst of events into one run.
   * @default - none; only the schedule runs the sync
   */
  readonly events?: ChangeEventTriggers;

  // --- Change notifications and private endpoints (issue 13; infra/notifications.ts, infra/network.ts) ---

  /**
   * A standard SNS topic every committed change and guard refusal is published to (the payload
   * is in the README, "Change notifications"). The function may publish to this topic only, and
   * use its KMS key when the ITopic carries one (`Topic.fromTopicAttributes({ topicArn, keyArn })`).
   * @default - no SNS notifications
   */
  readonly notificationTopic?: sns.ITopic;

  /**
   * An EventBridge bus every committed change and guard refusal is sent to as an event with
   * `source: eks-auth-sync` (`EventBus.fromEventBusName(this, 'Bus', 'default')` for the
   * default bus). The function may put events on this bus only.
   * @default - no EventBridge events
   */
  readonly notificationEventBus?: events.IEventBus;

  /**
   * The VPC the function runs in, for a cluster whose endpoint is private. The function then
   * needs a route to the AWS APIs (interface endpoints or NAT; see the README, "Private
   * endpoints"), and the cluster's security group must allow 443 from the function's.
   * @default - the function runs outside any VPC
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The subnets of `vpc` the function's network interfaces go in.
   * @default - the VPC's private subnets
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * The function's security groups (with `vpc`).
   * @default - a new security group that allows only HTTPS (443) out
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * Keeps an EKS cluster's aws-auth ConfigMap, or its access entries (`sync.target`), in step with
 * its sources on a schedule, and on change events with `events`. A manual invoke is a dry run
 * unless its payload is `{"dryRun": false}`.
 */
export class EksAuthSync extends Construct {
  /** The validated configuration the function runs with: one cluster (`cluster:`) or many (`clusters:`). */
  readonly config: AnyConfig;
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly rule: events.Rule;
  /** Fires when no scheduled run has succeeded for `noSuccessAlarmAfter`. */
  readonly noSuccessAlarm: cloudwatch.Alarm;
  /** Fires at once when a guard refuses a write: a person has to look, retries cannot fix it. */
  readonly guardRefusalAlarm: cloudwatch.Alarm;
  /** Fires at once when a run stops on an invalid config or mappings document. */
  readonly invalidConfigAlarm: cloudwatch.Alarm;
  /** Present when `createAccessEntry` is set. */
  readonly accessEntry?: eks.CfnAccessEntry;
  /** Present when `events` is set: the rules of event-driven sync. */
  readonly changeEvents?: ChangeEventRules;
  /** The security group created for the function: with `vpc` and no `securityGroups`. */
  readonly securityGroup?: ec2.SecurityGroup;
  /** Fires at once when a change notification was not delivered (with a topic or bus). */
  readonly notificationFailedAlarm?: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: EksAuthSyncProps) {
    super(scope, id);
    const shipped = configForAsset(props.config, props.configDir ?? process.cwd(), props.clusterName);
    this.config = parseAnyConfig(shipped.json, `${this.node.path}: config`);
    // Many clusters: the names in descriptions, and alarms on the fleet-wide metrics (lambda/handler-fleet.ts).
    const clusters = clusterNames(this.config).join(', ');
    const fleet = isFleetConfig(this.config);
    if (fleet && props.createAccessEntry) {
      throw new ConfigError(`${this.node.path}: createAccessEntry makes the entry of one cluster in this stack's account; with clusters:, create each cluster's entry where the cluster lives`);
    }
    const schedule = props.schedule ?? events.Schedule.rate(Duration.minutes(15));

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // Our own role instead of the default one with the AWSLambdaBasicExecutionRole managed
    // policy: logging is granted on this function's log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `eks-auth-sync for EKS cluster${fleet ? 's' : ''} ${clusters}`,
    });
    this.logGroup.grantWrite(this.role);
    const where = { partition: Aws.PARTITION, account: Aws.ACCOUNT_ID, region: Aws.REGION, urlSuffix: Aws.URL_SUFFIX };
    const known = { fileRoleArns: fileRoleArns(shipped) };
    for (const spec of leastPrivilegeStatements(this.config, where, known)) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          sid: spec.sid,
          actions: spec.actions,
          resources: spec.resources,
          ...(spec.conditions ? { conditions: spec.conditions } : {}),
        }),
      );
    }
    // The same statements with the pseudo parameters spelled as cdk-nag names them, so each
    // wildcard resource is acknowledged by its exact finding id, never by a blanket rule.
    // A wildcard that a config value brings in (a `kmsKeyArn` of `key/*`) has no reason, so
    // cdk-nag reports it to whoever wrote the config.
    // One finding per resource for the whole policy, so a resource two statements share (role/*
    // for reading tags and for resolving paths) is acknowledged once, with both reasons.
    const reasons = new Map<string, Set<string>>();
    for (const spec of leastPrivilegeStatements(this.config, NAG_SPELLING, known)) {
      const reason = spec.wildcardReason;
      if (reason === undefined) continue;
      for (const resource of spec.resources.filter((r) => r.includes('*'))) {
        const id = `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`;
        reasons.set(id, (reasons.get(id) ?? new Set()).add(reason));
      }
    }
    for (const [id, why] of reasons) Validations.of(this.role).acknowledge({ id, reason: [...why].join(' ') });

    // Private endpoints: the VPC, subnets and security groups, and the ENI permissions.
    const network = functionNetwork(this, this.role, props);
    if (network.securityGroup) this.securityGroup = network.securityGroup;

    // The code asset is the prebuilt handler (dist/lambda, shipped in the package, so a CDK app
    // needs neither esbuild nor our sources) plus the config and its files. The config travels
    // in the code asset, not in an environment variable (4 KB limit) nor an SSM parameter (8 KB
    // at most, plus a call and a permission at every cold start). The asset is copied into the
    // cloud assembly inside the function's constructor, and the staging directory is removed so
    // no copy of the config stays behind in the temp directory.
    const stagingDir = stageAssetFiles(shipped);
    try {
      this.function = new nodejs.NodejsFunction(this, 'Function', {
        code: lambda.Code.fromAsset(stagingDir),
        handler: `${basename(HANDLER_BUNDLE.file, '.mjs')}.handler`,
        // The handler bundle targets this runtime's Node.js (LAMBDA_NODE_MAJOR in bundling.ts).
        runtime: lambda.Runtime.NODEJS_24_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 256,
        timeout: props.timeout ?? Duration.minutes(2),
        // Two runs must never race on aws-auth.
        reservedConcurrentExecutions: 1,
        // Lambda would retry a failed asynchronous invoke twice on its own, and a queued retry
        // could commit after an operator disabled the rule. The next scheduled run is the retry;
        // an event older than one schedule period is superseded by a newer one.
        retryAttempts: 0,
        maxEventAge: maxEventAge(schedule),
        role: this.role,
        ...network.functionProps,
        logGroup: this.logGroup,
        loggingFormat: lambda.LoggingFormat.JSON,
        environment: {
          CONFIG_PATH: CONFIG_FILE_IN_ASSET,
          DRY_RUN_ONLY: String(props.dryRunOnly ?? false),
          POWERTOOLS_SERVICE_NAME: 'eks-auth-sync',
          POWERTOOLS_METRICS_NAMESPACE: 'EksAuthSync',
          // No NODE_OPTIONS=--enable-source-maps: parsing the 1 MB map at every cold start costs
          // more than it gives. The map ships in the asset; set the option when debugging.
        },
      });
    } finally {
      rmSync(stagingDir, { recursive: true, force: true });
    }
    // Lambda checks the ENI permissions when it creates the function.
    if (network.policy) this.function.node.addDependency(network.policy);

    this.rule = new events.Rule(this, 'Schedule', {
      description: `eks-auth-sync: commit the aws-auth of ${clusters}`,
      schedule,
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });

    if (props.events) {
      const fleet = this.config;
      const configs = isFleetConfig(fleet) ? fleet.clusters.map((c) => clusterConfig(fleet, c)) : [fleet];
      this.changeEvents = new ChangeEventRules(this, 'ChangeEvents', this.function, configs, props.events);
    }

    const cluster = clusters;
    const dimensionsMap = metricDimensions(isFleetConfig(this.config) ? undefined : this.config.cluster.name);
    const metric = (metricName: string, period: Duration): cloudwatch.Metric =>
      new cloudwatch.Metric({ namespace: METRIC_NAMESPACE, metricName, dimensionsMap, statistic: cloudwatch.Stats.SUM, period });
    const watch = noSuccessWatch(schedule, props.noSuccessAlarmAfter);
    this.noSuccessAlarm = new cloudwatch.Alarm(this, 'NoSuccess', {
      alarmDescription:
        `eks-auth-sync has not completed a scheduled run for EKS cluster ${cluster} in ${watch.window.toHumanString()}: ` +
        "every run failed (see the function's logs), or the function was not invoked (rule disabled, throttled).",
      metric: metric(METRIC.scheduledRunSucceeded, watch.period),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
      evaluationPeriods: watch.periods,
      datapointsToAlarm: watch.periods,
      treatMissingData: cloudwatch.TreatMissingData.BREACHING,
    });
    const atOnce = (id: string, metricName: string, what: string): cloudwatch.Alarm =>
      new cloudwatch.Alarm(this, id, {
        alarmDescription: `eks-auth-sync for EKS cluster ${cluster}: ${what}; the next run will not fix it. See the function's logs.`,
        metric: metric(metricName, Duration.minutes(1)),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluationPeriods: 1,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.guardRefusalAlarm = atOnce('GuardRefusal', METRIC.guardRefusals, 'a guard refused to write aws-auth');
    this.invalidConfigAlarm = atOnce('InvalidConfig', METRIC.invalidConfig, 'a run stopped on an invalid config or mappings document');
    if (props.alarmAction) {
      for (const alarm of [this.noSuccessAlarm, this.guardRefusalAlarm, this.invalidConfigAlarm]) alarm.addAlarmAction(props.alarmAction);
    }

    // Change notifications: where to publish, the permission to, and an alarm when one is lost
    // (the run itself succeeds, and the next one has no change left to tell).
    if (wireNotifications(this.function, this.role, props)) {
      this.notificationFailedAlarm = atOnce('NotificationFailed', METRIC.notificationFailures, 'a change notification (SNS or EventBridge) was not delivered, though the change itself is in place');
      if (props.alarmAction) this.notificationFailedAlarm.addAlarmAction(props.alarmAction);
    }

    if (props.createAccessEntry && !isFleetConfig(this.config)) {
      this.accessEntry = new eks.CfnAccessEntry(this, 'AccessEntry', {
        clusterName: this.config.cluster.name,
        // The cluster is reached as the top-level aws.roleARN when the config names one.
        principalArn: this.config.aws?.roleARN ?? this.role.roleArn,
        type: 'STANDARD',
        username: props.kubernetesUsername ?? 'eks-auth-sync',
        kubernetesGroups: [props.kubernetesGroup ?? 'eks-auth-sync'],
      });
      // The tool's own entry must stay foreign to it (no ownership tag): the access-entries target
      // then never changes or deletes it, and IAM refuses it too. A tag added to the whole stack
      // or app must not reach it; the removal outranks any add of ordinary priority.
      Tags.of(this.accessEntry).remove(OWNED_TAG.key, { priority: OWNED_TAG_REMOVAL_PRIORITY });
    }
  }
}

/** The config as shipped: JSON text, and the files its `file` scanners name, under new relative paths. */
interface ShippedConfig {
  json: string;
  /** `at` is the field that named the file, for messages. */
  files: { from: string; to: string; at: string }[];
}

/**
 * Rewrites `file` scanner paths to `files/<index>-<name>` inside the asset, so a config may name
 * files anywhere on the deploying machine. Everything else is passed through unchanged, and
 * the result is validated by the caller.
 */
function configForAsset(raw: unknown, configDir: string, clusterName: string | undefined): ShippedConfig {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { json: JSON.stringify(raw ?? null), files: [] };
  }
  const config = structuredClone(raw) as Record<string, unknown>;
  if (clusterName !== undefined) {
    const cluster = config['cluster'];
    config['cluster'] = { ...(typeof cluster === 'object' && cluster !== null ? cluster : {}), name: clusterName };
  }
  const files: ShippedConfig['files'] = [];
  // The shared scanners, and each cluster's own (clusters[i].scanners), may name files.
  // [where, the list, a prefix that keeps two lists' files apart in the asset]
  const lists: [string, unknown, string][] = [['scanners', config['scanners'], '']];
  const clusters = config['clusters'];
  if (Array.isArray(clusters)) {
    clusters.forEach((c: unknown, i) => {
      if (typeof c === 'object' && c !== null) lists.push([`clusters[${i}].scanners`, (c as Record<string, unknown>)['scanners'], `c${i}-`]);
    });
  }
  for (const [at, scanners, prefix] of lists) {
    if (!Array.isArray(scanners)) continue;
    scanners.forEach((scanner: unknown, index) => {
      if (typeof scanner !== 'object' || scanner === null) return;
      const section = (scanner as Record<string, unknown>)['file'];
      if (typeof section !== 'object' || section === null) return;
      const file = section as Record<string, unknown>;
      const path = file['path'];
      if (typeof path !== 'string' || path === '') return;
      const from = isAbsolute(path) ? path : resolve(configDir, path);
      const to = `files/${prefix}${index}-${basename(path)}`;
      files.push({ from, to, at: `${at}[${index}].file.path` });
      file['path'] = to;
    });
  }
  return { json: JSON.stringify(config), files };
}

/**
 * The role ARNs of each shipped file, by its path in the shipped config, read as the file scanner
 * reads them: the function gets iam:GetRole on exactly the path-less ones. A file that is missing
 * is left out (staging reports it); one that is not a valid mappings document fails synth,
 * naming the file, as every run would fail on it.
 */
function fileRoleArns(shipped: ShippedConfig): Map<string, string[]> {
  const arns = new Map<string, string[]>();
  for (const file of shipped.files) {
    if (!existsSync(file.from)) continue;
    arns.set(file.to, parseMappingsDocument(readFileSync(file.from, 'utf8'), file.from).roles.map((r) => r.rolearn));
  }
  return arns;
}

/**
 * The directory of the prebuilt handler bundle: `dist/lambda` under the package root, the nearest
 * directory above this module with a package.json (this repository when run from its sources,
 * `node_modules/eks-auth-sync` when installed).
 */
function handlerBundleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`eks-auth-sync: no package.json above ${fileURLToPath(import.meta.url)}; the package is incomplete`);
    dir = parent;
  }
  const bundleDir = join(dir, HANDLER_BUNDLE.dir);
  if (!existsSync(join(bundleDir, HANDLER_BUNDLE.file))) {
    throw new Error(`eks-auth-sync: the prebuilt Lambda handler ${join(bundleDir, HANDLER_BUNDLE.file)} is missing; in a clone of the repository, run \`npm run build\``);
  }
  return bundleDir;
}

/**
 * Writes the function's code asset to a new directory that only this user can open (mkdtemp: a
 * fresh random name, mode 0700): the prebuilt handler and its source map, config.json and the
 * referenced files. A predictable path on a shared host could be created or symlinked
 * beforehand by another user, who would then choose the config of a function that may grant
 * cluster-admin.
 */
function stageAssetFiles(shipped: ShippedConfig): string {
  for (const file of shipped.files) {
    if (!existsSync(file.from)) {
      throw new ConfigError(`${file.at}: the file ${file.from} does not exist; paths resolve against configDir`);
    }
  }
  const bundleDir = handlerBundleDir();
  const dir = mkdtempSync(join(tmpdir(), 'eks-auth-sync-asset-'));
  for (const name of [HANDLER_BUNDLE.file, `${HANDLER_BUNDLE.file}.map`]) copyFileSync(join(bundleDir, name), join(dir, name));
  mkdirSync(join(dir, 'files'));
  writeFileSync(join(dir, CONFIG_FILE_IN_ASSET), shipped.json);
  for (const file of shipped.files) copyFileSync(file.from, join(dir, file.to));
  return dir;
}

/** The longest maximum event age Lambda accepts, and the shortest. */
const MAX_EVENT_AGE_LIMITS = { min: Duration.minutes(1), max: Duration.hours(6) };

/**
 * The schedule's period when it is a rate expression; undefined for a cron expression, whose
 * gaps between runs may vary (see {@link cronGapBound}).
 */
function ratePeriod(schedule: events.Schedule): Duration | undefined {
  const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(schedule.expressionString);
  if (!rate) return undefined;
  const value = Number(rate[1]);
  return rate[2] === 'minute' ? Duration.minutes(value) : rate[2] === 'hour' ? Duration.hours(value) : Duration.days(value);
}

/**
 * No older than one schedule period, within Lambda's limits. A cron schedule runs at most once a
 * minute, so Lambda's floor of one minute is never longer than its period.
 */
function maxEventAge(schedule: events.Schedule): Duration {
  const period = ratePeriod(schedule)?.toSeconds() ?? MAX_EVENT_AGE_LIMITS.min.toSeconds();
  const { min, max } = MAX_EVENT_AGE_LIMITS;
  return Duration.seconds(Math.min(max.toSeconds(), Math.max(min.toSeconds(), period)));
}

/** CloudWatch looks back at most 7 days, and at most 1 day with periods under an hour. */
const ALARM_LOOKBACK = { max: Duration.days(7), shortPeriodsMax: Duration.days(1) };

/**
 * The longest gap between two runs of a cron schedule that its fields allow, or undefined when
 * it is longer than a week (a day of the month, a month or a year is set, or `#`/`L`).
 */
function cronGapBound(expression: string): Duration | undefined {
  const fields = /^cron\((.+)\)$/.exec(expression)?.[1]?.split(' ');
  if (fields?.length !== 6) return undefined;
  const [minute, hour, dayOfMonth, month, dayOfWeek, year] = fields;
  const every = (field: string | undefined): boolean => field === '*' || field === '?';
  if (!every(dayOfMonth) || !every(month) || !every(year) || /[#L]/.test(dayOfWeek ?? '')) return undefined;
  if (!every(dayOfWeek)) return Duration.days(7);
  if (!every(hour)) return Duration.days(1);
  if (!every(minute)) return Duration.hours(1);
  return Duration.minutes(1);
}

/**
 * How the no-success alarm watches `after` (default: two schedule periods): `periods`
 * consecutive periods without a success. Five-minute periods when they fit, since a shorter
 * period only costs more; one-hour periods beyond a day, as CloudWatch requires.
 * @throws ConfigError when the window cannot be watched or is shorter than the schedule period.
 */
function noSuccessWatch(schedule: events.Schedule, after: Duration | undefined): { window: Duration; period: Duration; periods: number } {
  const expression = schedule.expressionString;
  const gap = ratePeriod(schedule) ?? cronGapBound(expression);
  const maxSeconds = ALARM_LOOKBACK.max.toSeconds();
  let seconds: number;
  if (after !== undefined) {
    seconds = after.toSeconds();
    if (seconds > maxSeconds) throw new ConfigError(`noSuccessAlarmAfter: ${after.toHumanString()} is longer than the 7 days a CloudWatch alarm can look back`);
    const period = ratePeriod(schedule);
    if (period !== undefined && seconds <= period.toSeconds()) {
      throw new ConfigError(`noSuccessAlarmAfter: ${after.toHumanString()} must be longer than the schedule period (${expression}), or the alarm fires between any two runs`);
    }
  } else {
    if (gap === undefined || gap.toSeconds() >= maxSeconds) {
      throw new ConfigError(
        `schedule ${expression}: runs may be a week or more apart, longer than a CloudWatch alarm can watch for a missing run; ` +
          'schedule it more often, or set noSuccessAlarmAfter (deployment.noSuccessAlarmMinutes) to how long without a success should page',
      );
    }
    seconds = Math.min(2 * gap.toSeconds(), maxSeconds);
  }
  const periodSeconds = seconds > ALARM_LOOKBACK.shortPeriodsMax.toSeconds() ? 3_600 : seconds % 300 === 0 ? 300 : 60;
  const periods = Math.max(1, Math.ceil(seconds / periodSeconds));
  return { window: Duration.seconds(periods * periodSeconds), period: Duration.seconds(periodSeconds), periods };
}
