/**
 * The flow, top-down: config → scan every source → desired mappings → DescribeCluster → token →
 * read aws-auth → plan → write (with `commit`). The CLI and the Lambda handler both call `runSync`.
 */
import { syncAwsAuth, type AwsAuthStore, type PlannedEntry } from './targets/awsauth/index.js';
import { clientFactory, type ClientFactory } from './aws.js';
import { callerIdentity, describeCluster, KubeClient, TokenProvider, type ClusterInfo } from './cluster/index.js';
import type { Config } from './config.js';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE } from './configmap.js';
import { DeadlineError } from './errors.js';
import type { Mappings, Warning } from './mappings.js';
import { runScanners, type ScanDeps } from './scanners/index.js';

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
}

/** The change a sync made, or would make in a dry run. Every entry names its source. */
export interface Change {
  added: PlannedEntry[];
  removed: PlannedEntry[];
  changed: { before: PlannedEntry; after: PlannedEntry }[];
  /** Desired entries already in aws-auth as they should be. */
  unchanged: number;
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

export interface SyncReport {
  dryRun: boolean;
  committed: boolean;
  /** aws-auth did not exist and was created. */
  created: boolean;
  desired: { roles: number; users: number };
  /** The desired mappings themselves (the CLI prints them). */
  mappings: Mappings;
  /** null when the cluster was not reached (offline, or unreachable in a tolerant dry run). */
  change: Change | null;
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
 * One sync: scan every source, then bring aws-auth in step (or, in a dry run, say how it would).
 *
 * @throws ConfigError/ScannerError for a source that cannot be read, the guards' errors, the
 *   Kubernetes client's errors; nothing is written when it throws.
 * @example const report = await runSync({ config, configDir: '.', commit: false });
 */
export async function runSync(options: RunOptions): Promise<SyncReport> {
  const { config } = options;
  const aws = awsContext(config, options);
  const desired = await runScanners(config, scanDeps(config, options.configDir, aws));
  const report: SyncReport = {
    dryRun: !options.commit,
    committed: false,
    created: false,
    desired: { roles: desired.mappings.roles.length, users: desired.mappings.users.length },
    mappings: desired.mappings,
    change: null,
    attempts: 0,
    warnings: [...desired.warnings],
  };
  if (options.offline) return report;

  let cluster: ClusterConnection;
  try {
    cluster = await connect(config, aws, options.deadline);
  } catch (err) {
    if (options.commit || !options.tolerateUnreachableCluster || !(err instanceof Error)) throw err;
    report.clusterError = err.message;
    return report;
  }
  report.cluster = { name: cluster.info.name, arn: cluster.info.arn, endpoint: cluster.info.endpoint };
  report.identity = cluster.self.arn;

  const clock = options.clock ?? (() => new Date());
  const result = await syncAwsAuth({
    store: cluster.store,
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
    keptForeign: plan.keptForeignCount,
    keptAgainstTags: plan.keptAgainstTags,
    selfEntryKept: plan.selfEntryKept,
    ownershipRecordMissing: plan.ownershipRecordMissing,
  };
  report.committed = result.committed;
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
  return report;
}

interface ClusterConnection {
  info: ClusterInfo;
  self: { arn: string; canonicalArn: string };
  store: AwsAuthStore;
}

/**
 * DescribeCluster for the endpoint and CA, who we are (for the self-lockout guard), and a
 * Kubernetes client whose token is minted afresh whenever it ages or its credentials expire.
 * The cluster is reached with the top-level `aws` settings, never a scanner's.
 */
async function connect(config: Config, { clients, whoAmI }: AwsContext, deadline: Date | undefined): Promise<ClusterConnection> {
  const eks = clients.eks();
  const [info, self] = await Promise.all([describeCluster(eks, config.cluster.name), whoAmI()]);
  const tokens = new TokenProvider({ clusterName: info.name, region: info.region, credentials: eks.config.credentials });
  const kube = new KubeClient({
    endpoint: info.endpoint,
    caPem: info.caPem,
    token: () => tokens.token(),
    onUnauthorized: () => tokens.invalidate(),
    identity: self.arn,
    ...(deadline ? { deadline } : {}),
  });
  const store: AwsAuthStore = {
    read: () => kube.getConfigMap(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME),
    create: (cm) => kube.createConfigMap(cm),
    replace: (cm) => kube.replaceConfigMap(cm),
  };
  return { info, self, store };
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
  const region = config.cluster.region;
  const retry = { ...(run.deadline !== undefined && { deadline: run.deadline }), ...(run.clock !== undefined && { clock: run.clock }) };
  const clients = clientFactory(config.aws, { ...(region !== undefined && { region }), retry });
  return { clients, whoAmI: once(() => callerIdentity(clients.sts())) };
}

/**
 * What the scanners need for a run: its clients, and the caller's account, asked of STS only if a
 * scanner needs it (the same answer names the identity for the self-lockout guard).
 */
export function scanDeps(config: Config, baseDir: string, aws: AwsContext = awsContext(config)): ScanDeps {
  return { clients: aws.clients, baseDir, callerAccountId: async () => (await aws.whoAmI()).account };
}

type CallerIdentity = Awaited<ReturnType<typeof callerIdentity>>;

/** Calls `f` on first use only, sharing its promise with every later caller. */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let result: Promise<T> | undefined;
  return () => (result ??= f());
}
