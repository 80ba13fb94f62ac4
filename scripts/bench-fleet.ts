/**
 * The fleet part of `npm run bench`: 20 clusters in one account of 7,000 identities, synced in one
 * fleet run (lambda/fleet.ts) at the stand-ins' limits (30 ms per AWS call, IAM limited to 20
 * requests/s, EKS to 10). The clusters use the aws-auth target, as clusters whose mappings come
 * from IAM tags in bulk do today: access entries would add a Describe per entry per cluster, which
 * the access-entries bench measures on its own. Each cluster has its own Kubernetes stand-in, and
 * the tagged identities are spread over the clusters (identity i's tags name cluster i mod 20).
 *
 * The run is the function's core, runFleet with the function's clients, in this process, and
 * commits: every cluster's aws-auth is written. Every figure is read from the stand-ins' counters.
 */
import { parseAnyConfig, type FleetConfig } from '../lambda/config.js';
import { clusterConfig, runFleet } from '../lambda/fleet.js';
import { runSync } from '../lambda/sync.js';
import { generateDataset, startAwsStandins, type Dataset, type IamTag } from '../test/support/aws-standins/index.js';
import { seedAwsAuth, WRITER_GROUP } from '../test/support/environment.js';
import { startKubeStandin, type KubeStandin } from '../test/support/kube-standin.js';

export const FLEET = {
  clusters: 20,
  roles: 5_000,
  users: 2_000,
  latencyMs: 30,
  iamRequestsPerSecond: 20,
  eksRequestsPerSecond: 10,
  /** Target: the whole fleet run under this. */
  wallMs: 5_000,
} as const;

const ACCOUNT = '123456789012';
const name = (k: number): string => `fleet-${k}`;

/** What the fleet run did. */
export interface FleetRun {
  wallMs: number;
  /** GetAccountAuthorizationDetails calls of the fleet run, and of one cluster's run alone. */
  iamReads: { fleet: number; oneCluster: number };
  /** `service:Action n` for every call of the fleet run. */
  byAction: string;
  /** Mappings written over all clusters, and the clusters that failed. */
  mappings: number;
  failed: string[];
}

/** One line of the bench's fleet table. */
export interface FleetRow { figure: string; value: string; target: string; result: string }

/**
 * Runs the fleet bench and prints its table and notes with `print`.
 * @returns whether every target was met.
 */
export async function benchFleet(print: (line?: string) => void): Promise<boolean> {
  print(`Fleet: ${FLEET.clusters} clusters in one account of ${(FLEET.roles + FLEET.users).toLocaleString('en-US')} identities, one fleet run...`);
  const run = await measure();
  const pass = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const rows: FleetRow[] = [
    { figure: 'Clusters synced (committed, aws-auth)', value: `${FLEET.clusters - run.failed.length} of ${FLEET.clusters}`, target: 'all', result: pass(run.failed.length === 0) },
    { figure: 'IAM reads (GetAccountAuthorizationDetails) for the fleet', value: `${run.iamReads.fleet} (one cluster alone: ${run.iamReads.oneCluster})`, target: 'read once: as one cluster', result: pass(run.iamReads.fleet === run.iamReads.oneCluster) },
    { figure: 'Wall time of the fleet run', value: `${(run.wallMs / 1000).toFixed(2)} s`, target: `< ${FLEET.wallMs / 1000} s`, result: pass(run.wallMs < FLEET.wallMs) },
  ];
  print();
  print(`| Fleet (${FLEET.clusters} clusters, ${FLEET.latencyMs} ms per AWS call, IAM ${FLEET.iamRequestsPerSecond} requests/s, EKS ${FLEET.eksRequestsPerSecond}) | Result of the run | Target | Result |`);
  print('|---|--:|---|---|');
  for (const r of rows) print(`| ${r.figure} | ${r.value} | ${r.target} | ${r.result} |`);
  print(`Fleet: calls per action: ${run.byAction}. ${run.mappings} mappings written over the ${FLEET.clusters} clusters (the tagged identities spread over them). ` +
    'Each cluster: DescribeCluster, GetCallerIdentity, then aws-auth read and written over its own Kubernetes stand-in; 4 clusters at a time.');
  return rows.every((r) => r.result !== 'MISS');
}

async function measure(): Promise<FleetRun> {
  const dataset = spreadOverClusters(generateDataset({ roles: FLEET.roles, users: FLEET.users, seed: 1, accountId: ACCOUNT, clusterName: 'fleet' }));
  const aws = await startAwsStandins({
    dataset,
    all: { latencyMs: FLEET.latencyMs },
    iam: { rateLimit: { requestsPerSecond: FLEET.iamRequestsPerSecond } },
    eks: { rateLimit: { requestsPerSecond: FLEET.eksRequestsPerSecond } },
  });
  const kubes: KubeStandin[] = [];
  const saved = { ...process.env };
  try {
    for (let k = 0; k < FLEET.clusters; k++) {
      const kube = await startKubeStandin({
        clusterName: name(k),
        writerGroups: [WRITER_GROUP],
        identities: { [aws.credential.accessKeyId]: { secretAccessKey: aws.credential.secretAccessKey, ...(aws.credential.sessionToken ? { sessionToken: aws.credential.sessionToken } : {}), arn: aws.credential.arn } },
        configMaps: [seedAwsAuth(ACCOUNT)],
      });
      kubes.push(kube);
      aws.eks.putCluster({ name: name(k), endpoint: kube.url, caPem: kube.caPem, authenticationMode: 'CONFIG_MAP' });
    }
    // The function's clients find the stand-ins and the credentials where the SDK looks for them.
    Object.assign(process.env, aws.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const config = fleetConfig(dataset);
    const deadline = new Date(Date.now() + 120_000);

    const first = config.clusters[0];
    if (first === undefined) throw new Error('the fleet config has no cluster');
    await runSync({ config: clusterConfig(config, first), configDir: '.', commit: false, deadline });
    const oneCluster = aws.iam.calls()['GetAccountAuthorizationDetails'] ?? 0;

    aws.reset();
    const started = performance.now();
    const report = await runFleet({ config, configDir: '.', commit: true, deadline }).catch((err: unknown) => {
      throw new Error(`the fleet run failed: ${err instanceof Error ? err.message : String(err)}`);
    });
    const wallMs = performance.now() - started;
    const byAction = Object.entries(aws.calls())
      .flatMap(([service, actions]) => Object.entries(actions).map(([action, n]) => `${service}:${action} ${n}`))
      .join(', ');
    const mappings = report.clusters.reduce((n, c) => n + (c.report?.change?.added.length ?? 0), 0);
    return { wallMs, iamReads: { fleet: aws.iam.calls()['GetAccountAuthorizationDetails'] ?? 0, oneCluster }, byAction, mappings, failed: report.failed };
  } finally {
    process.env = saved;
    await Promise.all([aws.close(), ...kubes.map((k) => k.close())]);
  }
}

/** The dataset with identity i's `eks/{account}/fleet/…` tags naming cluster `fleet-{i mod 20}` instead. */
function spreadOverClusters(dataset: Dataset): Dataset {
  const from = `eks/${ACCOUNT}/fleet/`;
  const retag = (tags: IamTag[], i: number): IamTag[] =>
    tags.map((t) => (t.Key.startsWith(from) ? { ...t, Key: `eks/${ACCOUNT}/${name(i % FLEET.clusters)}/${t.Key.slice(from.length)}` } : t));
  const { account } = dataset;
  return {
    ...dataset,
    account: {
      ...account,
      roles: account.roles.map((r, i) => ({ ...r, tags: retag(r.tags, i) })),
      users: account.users.map((u, i) => ({ ...u, tags: retag(u.tags, i + account.roles.length) })),
    },
  };
}

function fleetConfig(dataset: Dataset): FleetConfig {
  const config = parseAnyConfig(JSON.stringify({
    clusters: Array.from({ length: FLEET.clusters }, (_, k) => ({ name: name(k), region: dataset.region })),
    sync: { target: 'configMap' },
    scanners: [{ type: 'iam', name: 'iam-tags', iam: {} }],
  }), 'the fleet bench config');
  if (!('clusters' in config)) throw new Error('the fleet bench config is not a clusters: config');
  return config;
}
