/**
 * The `EksAuthSync` construct: the Lambda, its schedule, least-privilege role, log group,
 * failure alarm and (optionally) the EKS access entry that lets it edit aws-auth.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as eks from 'aws-cdk-lib/aws-eks';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { parseConfig, type Config } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';
import { leastPrivilegeStatements } from './policy.js';
import { ESM_REQUIRE_BANNER, MAIN_FIELDS } from './bundling.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const NAG_SPELLING = { partition: '<AWS::Partition>', account: '<AWS::AccountId>', region: '<AWS::Region>', urlSuffix: '<AWS::URLSuffix>' };

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
   * Function timeout. The handler stops 10 s before it, ahead of the write, rather than being
   * killed in the middle of one.
   * @default Duration.minutes(2)
   */
  readonly timeout?: Duration;

  /**
   * How long the function's logs are kept.
   * @default RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * What the failure alarm (Errors >= 1 in 5 minutes) triggers, e.g. an `SnsAction`.
   * @default - none; the alarm only changes state
   */
  readonly alarmAction?: cloudwatch.IAlarmAction;

  /**
   * Create an `AWS::EKS::AccessEntry` for the identity that reaches the cluster (the function's
   * role, or the config's top-level `aws.roleARN` when set), bound to `kubernetesGroup` only
   * (no access policy, never cluster-admin). Needs a cluster whose authentication mode includes
   * access entries (API or API_AND_CONFIG_MAP); the group still needs the RBAC Role and
   * RoleBinding from the README.
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
}

/**
 * Keeps an EKS cluster's aws-auth ConfigMap in step with its sources on a schedule. A manual
 * invoke is a dry run unless its payload is `{"dryRun": false}`.
 */
export class EksAuthSync extends Construct {
  /** The validated configuration the function runs with. */
  readonly config: Config;
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly rule: events.Rule;
  readonly alarm: cloudwatch.Alarm;
  /** Present when `createAccessEntry` is set. */
  readonly accessEntry?: eks.CfnAccessEntry;

  constructor(scope: Construct, id: string, props: EksAuthSyncProps) {
    super(scope, id);
    const shipped = configForAsset(props.config, props.configDir ?? process.cwd(), props.clusterName);
    this.config = parseConfig(shipped.json, `${this.node.path}: config`);
    const stagingDir = stageAssetFiles(shipped);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });

    // Our own role instead of the default one with the AWSLambdaBasicExecutionRole managed
    // policy: logging is granted on this function's log group only.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `eks-auth-sync for EKS cluster ${this.config.cluster.name}`,
    });
    this.logGroup.grantWrite(this.role);
    const where = { partition: Aws.PARTITION, account: Aws.ACCOUNT_ID, region: Aws.REGION, urlSuffix: Aws.URL_SUFFIX };
    for (const spec of leastPrivilegeStatements(this.config, where)) {
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
    for (const spec of leastPrivilegeStatements(this.config, NAG_SPELLING)) {
      const reason = spec.wildcardReason;
      if (reason === undefined) continue;
      for (const resource of spec.resources.filter((r) => r.includes('*'))) {
        Validations.of(this.role).acknowledge({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::${resource}]`, reason });
      }
    }

    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(PROJECT_ROOT, 'lambda', 'handler.ts'),
      projectRoot: PROJECT_ROOT,
      depsLockFilePath: join(PROJECT_ROOT, 'package-lock.json'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 256,
      timeout: props.timeout ?? Duration.minutes(2),
      // Two runs must never race on aws-auth.
      reservedConcurrentExecutions: 1,
      role: this.role,
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
      bundling: {
        forceDockerBundling: false,
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        format: nodejs.OutputFormat.ESM,
        mainFields: MAIN_FIELDS,
        // The pinned SDK is bundled rather than taken from the runtime, so what is tested is what runs.
        externalModules: [],
        banner: ESM_REQUIRE_BANNER,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          // The config travels in the code asset, not in an environment variable (4 KB limit)
          // nor an SSM parameter (8 KB at most, plus a call and a permission at every cold start).
          afterBundling: (_inputDir, outputDir) => [`cp -R "${stagingDir}/." "${outputDir}"`],
        },
      },
    });

    this.rule = new events.Rule(this, 'Schedule', {
      description: `eks-auth-sync: commit the aws-auth of ${this.config.cluster.name}`,
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(15)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });

    this.alarm = new cloudwatch.Alarm(this, 'Failures', {
      alarmDescription: `eks-auth-sync failed for EKS cluster ${this.config.cluster.name}; see the function's logs.`,
      metric: this.function.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (props.alarmAction) this.alarm.addAlarmAction(props.alarmAction);

    if (props.createAccessEntry) {
      this.accessEntry = new eks.CfnAccessEntry(this, 'AccessEntry', {
        clusterName: this.config.cluster.name,
        // The cluster is reached as the top-level aws.roleARN when the config names one.
        principalArn: this.config.aws?.roleARN ?? this.role.roleArn,
        type: 'STANDARD',
        username: props.kubernetesUsername ?? 'eks-auth-sync',
        kubernetesGroups: [props.kubernetesGroup ?? 'eks-auth-sync'],
      });
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
  const scanners = config['scanners'];
  if (Array.isArray(scanners)) {
    scanners.forEach((scanner: unknown, index) => {
      if (typeof scanner !== 'object' || scanner === null) return;
      const section = (scanner as Record<string, unknown>)['file'];
      if (typeof section !== 'object' || section === null) return;
      const file = section as Record<string, unknown>;
      const path = file['path'];
      if (typeof path !== 'string' || path === '') return;
      const from = isAbsolute(path) ? path : resolve(configDir, path);
      const to = `files/${index}-${basename(path)}`;
      files.push({ from, to, at: `scanners[${index}].file.path` });
      file['path'] = to;
    });
  }
  return { json: JSON.stringify(config), files };
}

/**
 * Writes config.json and the referenced files to a directory named by their content, which the
 * bundling hook copies into the asset. Content-addressed, so repeated synths reuse it.
 */
function stageAssetFiles(shipped: ShippedConfig): string {
  const hash = createHash('sha256').update(shipped.json);
  for (const file of shipped.files) {
    if (!existsSync(file.from)) {
      throw new ConfigError(`${file.at}: the file ${file.from} does not exist; paths resolve against configDir`);
    }
    hash.update(file.to).update(readFileSync(file.from));
  }
  const dir = join(tmpdir(), `eks-auth-sync-asset-${hash.digest('hex').slice(0, 16)}`);
  mkdirSync(join(dir, 'files'), { recursive: true });
  writeFileSync(join(dir, CONFIG_FILE_IN_ASSET), shipped.json);
  for (const file of shipped.files) copyFileSync(file.from, join(dir, file.to));
  return dir;
}
