/**
 * The flow, top-down: config → scan every source → desired mappings → DescribeCluster and who we
 * are → choose the target(s) from `sync.target` and the authentication mode → per target: read →
 * plan (guards) → write (with `commit`). aws-auth goes through the Kubernetes API (token, TLS);
 * access entries through the EKS API only. The CLI and the Lambda handler both call `runSync`.
 */
import { parseAwsAuth, syncAwsAuth, type AwsAuthStore, type LiveAwsAuth, type PlannedEntry } from './targets/awsauth/index.js';
import { syncAccessEntries, type AccessEntriesPlan } from './targets/access-entries/index.js';
import { CLUSTER_ADMIN_POLICY } from './targets/access-entries/translate.js';
import { chooseTargets, type TargetChoice, type TargetName } from './targets/choose.js';
import { migrationView, type MigrationRow } from './targets/migration.js';
import { clientFactory, type ClientFactory } from './aws.js';
import { callerIdentity, describeCluster, KubeClient, TokenProvider, type ClusterInfo } from './cluster/index.js';
import type { Config } from './config.js';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE } from './configmap.js';
import { DeadlineError, TargetsFailedError, type GuardTarget } from './errors.js';
import type { SelfIdentity } from './guards.js';
import type { DesiredState, Mappings, Warning } from './mappings.js';
import { runScanners, sharedReads, type ScanDeps, type SharedReads } from './scanners/index.js';

export interface RunOptions {
  config: Config;
  /** Where relative paths in the config (file scanners) resolve. */
  configDir: string;
  /** Write the change. false: a dry run that never writes. */
  commit: boolean;
  /** Only work out the desired mappings; do not contact the cluster (CLI `--offline`). */
  offline?: boolean;
  /**
   * In a dry run, report a cluster that cannot be reached in `clusterError` instead of failing
   * (the CLI still prints the desired mappings). A commit always fails.
   */
  tolerateUnreachableCluster?: boolean;
  /** No write starts after this moment, and every Kubernetes request ends by it (the Lambda's timeout less a margin). */
  deadline?: Date;
  clock?: () => Date;
  /** How a just-created access entry's NotFound is retried (tests shorten the wait). @default 5 attempts, 1 s apart */
  accessEntryNotFoundRetry?: { attempts: number; delayMs: number };
  /** Reads shared with other runs (the clusters of a fleet run: lambda/fleet.ts). @default this run's own */
  shared?: SharedReads;
}

/** The change a sync made, or would make in a dry run. Every entry names its source. */
export interface Change {
  added: PlannedEntry[];
  removed: PlannedEntry[];
  changed: { before: PlannedEntry; after: PlannedEntry }[];
  /** Desired entries already in aws-auth as they should be, adopted ones included. */
  unchanged: number;
  /** Entries eks-auth-sync did not write, identical to a source's: unchanged, owned from this write on. */
  adopted: PlannedEntry[];
  /** Entries eks-auth-sync does not manage, kept as they are. */
  keptForeign: number;
  /** Entries it does not own that IAM tags would rewrite, kept as they are (metric ForeignEntriesKept). */
  keptAgainstTags: PlannedEntry[];
  /**
   * The entry of the identity eks-auth-sync runs as, which the sources no longer produce as it
   * is: kept as it is, the rest applied (metric SelfEntryKept). null when the sources produce it.
   */
  selfEntryKept: PlannedEntry | null;
  /**
   * aws-auth lacks the ownership annotation yet holds entries identical to the sources' output:
   * the record was probably lost, so no revocation would ever be applied (metric OwnershipRecordMissing).
   */
  ownershipRecordMissing: boolean;
}

/** The access-entries target's outcome: its plan, each step with its source and why. */
export interface AccessEntriesChange {
  plan: AccessEntriesPlan;
  /** Steps applied (0 in a dry run, or when nothing changes). */
  applied: number;
  committed: boolean;
}

export interface SyncReport {
  dryRun: boolean;
  /** Some target was written. */
  committed: boolean;
  /** aws-auth did not exist and was created. */
  created: boolean;
  desired: { roles: number; users: number };
  /** The desired mappings themselves (the CLI prints them). */
  mappings: Mappings;
  /** The target(s) chosen and why; absent when the cluster was not reached. */
  target?: TargetChoice;
  /** aws-auth's change; null when the cluster was not reached or aws-auth is not a target (or it failed in `both`). */
  change: Change | null;
  /** The access entries' change; null when they are not a target (or they failed in `both`). */
  accessEntries: AccessEntriesChange | null;
  /** In `both`, a target that failed, with its error's message; the run fails after reporting the other. */
  targetErrors: Partial<Record<TargetName, string>>;
  /** `both` on an API_AND_CONFIG_MAP cluster: every aws-auth entry, and the access entry that covers it. */
  migration?: MigrationRow[];
  /** Why the cluster was not reached, when `change` is null and it was tried. */
  clusterError?: string;
  cluster?: { name: string; arn: string; endpoint: string };
  /** The ARN eks-auth-sync authenticated to the cluster as. */
  identity?: string;
  /** Read-plan-write rounds (more than 1 after a concurrent edit). */
  attempts: number;
  warnings: Warning[];
}

/**
 * One sync: scan every source, choose the target(s), then bring each in step (or, in a dry run,
 * say how it would).
 *
 * @throws ConfigError/ScannerError for a source that cannot be read, TargetModeError for a target
 *   the cluster's mode cannot use, the guards' errors, the Kubernetes and EKS clients' errors;
 *   with one target nothing is written when it throws. With `both`, TargetsFailedError after both
 *   ran, carrying the report (the target that did not fail may have written).
 * @example const report = await runSync({ config, configDir: '.', commit: false });
 */
export async function runSync(options: RunOptions): Promise<SyncReport> {
  const { config } = options;
  const aws = awsContext(config, options);
  const desired = await runScanners(config, scanDeps(config, options.configDir, aws, options.shared));
  const report: SyncReport = {
    dryRun: !options.commit,
    committed: false,
    created: false,
    desired: { roles: desired.mappings.roles.length, users: desired.mappings.users.length },
    mappings: desired.mappings,
    change: null,
    accessEntries: null,
    targetErrors: {},
    attempts: 0,
    warnings: [...desired.warnings],
  };
  if (options.offline) return report;

  let cluster: ClusterConnection;
  try {
    cluster = await connect(config, aws);
  } catch (err) {
    if (options.commit || !options.tolerateUnreachableCluster || !(err instanceof Error)) throw err;
    report.clusterError = err.message;
    return report;
  }
  report.cluster = { name: cluster.info.name, arn: cluster.info.arn, endpoint: cluster.info.endpoint };
  report.identity = cluster.self.arn;
  const choice = chooseTargets(config.sync.target ?? 'auto', cluster.info.authenticationMode, cluster.info.name);
  report.target = choice;

  const run: Run = { options, aws, cluster, desired, report };
  const targets: Record<TargetName, () => Promise<void>> = {
    configMap: () => runConfigMap(run, !choice.targets.includes('accessEntries')),
    accessEntries: () => runAccessEntries(run),
  };
  if (choice.targets.length === 1) {
    await targets[choice.targets[0] as TargetName]();
  } else {
    // Each target on its own: one's refusal must not hide what the other did.
    const failures = new Map<GuardTarget, Error>();
    for (const name of choice.targets) {
      try {
        await targets[name]();
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        failures.set(GUARD_TARGET[name], err);
        report.targetErrors[name] = err.message;
      }
    }
    if (failures.size > 0) throw new TargetsFailedError(failures, report);
  }
  return report;
}

/** How guard errors and the report name each target. */
const GUARD_TARGET: Record<TargetName, GuardTarget> = { configMap: 'aws-auth', accessEntries: 'access entries' };

/** What a target's run reads and adds to. */
interface Run {
  options: RunOptions;
  aws: AwsContext;
  cluster: ClusterConnection;
  desired: DesiredState;
  report: SyncReport;
  /** aws-auth as the configMap target leaves it (for the migration view). */
  awsAuthAfter?: LiveAwsAuth;
}

/** The aws-auth target, over the Kubernetes API; `alone`: access entries are not a target this run. */
async function runConfigMap(run: Run, alone: boolean): Promise<void> {
  const { options, aws, cluster, desired, report } = run;
  const { config } = options;
  if (alone) report.warnings.push(...unexpressedPolicies(desired));
  const clock = options.clock ?? (() => new Date());
  const result = await syncAwsAuth({
    store: awsAuthStore(cluster, aws, options.deadline),
    desired,
    settings: config.sync,
    self: cluster.self,
    commit: options.commit,
    beforeWrite: () => {
      if (options.deadline && clock() >= options.deadline) {
        throw new DeadlineError(`stopped before writing aws-auth: the run's deadline (${options.deadline.toISOString()}) has passed; nothing was written. Raise the function's timeout or look for a slow source.`);
      }
    },
  });
  const { plan } = result;
  report.change = {
    added: plan.added,
    removed: plan.removed,
    changed: plan.changed,
    unchanged: plan.unchangedCount,
    adopted: plan.adopted,
    keptForeign: plan.keptForeignCount,
    keptAgainstTags: plan.keptAgainstTags,
    selfEntryKept: plan.selfEntryKept,
    ownershipRecordMissing: plan.ownershipRecordMissing,
  };
  report.committed ||= result.committed;
  report.created = result.created;
  report.attempts = result.attempts;
  report.warnings.push(...plan.warnings);
  if (result.landedUnconfirmed) {
    report.warnings.push({
      source: 'aws-auth',
      message:
        "the API server's answer to the write was lost and a repeat met a conflict; aws-auth, read again, holds exactly what this run wrote, so the change reported is in place",
    });
  }
  run.awsAuthAfter = plan.next === null ? result.live : parseAwsAuth(plan.next);
}

/** The access-entries target, over the EKS API only: no token, no connection to the API server. */
async function runAccessEntries({ options, aws, cluster, desired, report, awsAuthAfter }: Run): Promise<void> {
  const { config } = options;
  const result = await syncAccessEntries({
    eks: aws.clients.eks(),
    iam: aws.clients.iam(),
    cluster: cluster.info,
    desired,
    settings: config.sync,
    self: cluster.self,
    // The iam scanners already refuse what their settings do not allow; this lets through what one allows.
    tagsMayGrantClusterAdmin: config.scanners.some((s) => s.type === 'iam' && (s.iam.allowSystemGroups.includes('system:masters') || s.iam.allowAccessPolicies.includes(CLUSTER_ADMIN_POLICY))),
    commit: options.commit,
    ...(options.deadline ? { deadline: options.deadline } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.accessEntryNotFoundRetry ? { notFoundRetry: options.accessEntryNotFoundRetry } : {}),
  });
  report.accessEntries = { plan: result.plan, applied: result.applied, committed: result.applied > 0 };
  report.committed ||= result.applied > 0;
  report.warnings.push(...result.warnings);
  if (awsAuthAfter && report.target?.authenticationMode === 'API_AND_CONFIG_MAP') {
    report.migration = migrationView(awsAuthAfter, result.live, result.plan);
  }
}

/** aws-auth cannot hold access policies: one warning per mapping that has some. */
function unexpressedPolicies(desired: DesiredState): Warning[] {
  const withPolicies = [
    ...desired.mappings.roles.map((m) => ({ arn: m.rolearn as string, m })),
    ...desired.mappings.users.map((m) => ({ arn: m.userarn as string, m })),
  ].filter(({ m }) => (m.accessPolicies?.length ?? 0) > 0);
  return withPolicies.map(({ arn, m }) => ({
    source: desired.sourceOf.get(arn.toLowerCase()) ?? 'desired state',
    subject: arn,
    message: `access policies (${(m.accessPolicies ?? []).map((p) => p.policy).join(', ')}) cannot be expressed in aws-auth and are not applied; only sync.target accessEntries or both applies them`,
  }));
}

interface ClusterConnection {
  info: ClusterInfo;
  self: SelfIdentity;
}

/**
 * DescribeCluster for the endpoint, CA and authentication mode, and who we are (for the
 * self-lockout guard). The cluster is reached with the top-level `aws` settings (as
 * `cluster.roleARN` when set), never a scanner's.
 */
async function connect(config: Config, { clients, whoAmI }: AwsContext): Promise<ClusterConnection> {
  const [info, self] = await Promise.all([describeCluster(clients.eks(), config.cluster.name), whoAmI()]);
  return { info, self };
}

/**
 * aws-auth through a Kubernetes client whose token is minted afresh whenever it ages or its
 * credentials expire. Built only for the configMap target: access entries need no API server.
 */
function awsAuthStore({ info, self }: ClusterConnection, { clients }: AwsContext, deadline: Date | undefined): AwsAuthStore {
  const eks = clients.eks();
  const tokens = new TokenProvider({ clusterName: info.name, region: info.region, credentials: eks.config.credentials });
  const kube = new KubeClient({
    endpoint: info.endpoint,
    caPem: info.caPem,
    token: () => tokens.token(),
    onUnauthorized: () => tokens.invalidate(),
    identity: self.arn,
    ...(deadline ? { deadline } : {}),
  });
  return {
    read: () => kube.getConfigMap(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME),
    create: (cm) => kube.createConfigMap(cm),
    replace: (cm) => kube.replaceConfigMap(cm),
  };
}

/** A run's AWS side: its clients, and who it runs as, asked of STS at most once. */
interface AwsContext {
  clients: ClientFactory;
  whoAmI: () => Promise<CallerIdentity>;
}

/**
 * SDK clients from the config's `aws` sections (default region: the cluster's), retrying
 * throttling and 5xx until the run's deadline (the CLI's, which has none: CLI_RETRY_WINDOW_MS).
 */
function awsContext(config: Config, run: Pick<RunOptions, 'deadline' | 'clock'> = {}): AwsContext {
  const { region, roleARN } = config.cluster;
  const retry = { ...(run.deadline !== undefined && { deadline: run.deadline }), ...(run.clock !== undefined && { clock: run.clock }) };
  const clients = clientFactory(config.aws, { ...(region !== undefined && { region }), ...(roleARN !== undefined && { clusterRoleARN: roleARN }), retry });
  return { clients, whoAmI: once(() => callerIdentity(clients.sts())) };
}

/**
 * What the scanners need for a run: its clients, the caller's account, asked of STS only if a
 * scanner needs it (the same answer names the identity for the self-lockout guard), and the reads
 * shared with other runs (a fleet's), else its own.
 */
export function scanDeps(config: Config, baseDir: string, aws: AwsContext = awsContext(config), shared: SharedReads = sharedReads()): ScanDeps {
  return { clients: aws.clients, baseDir, callerAccountId: async () => (await aws.whoAmI()).account, shared };
}

type CallerIdentity = Awaited<ReturnType<typeof callerIdentity>>;

/** Calls `f` on first use only, sharing its promise with every later caller. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= f());
}
