/**
 * runFleet against the stand-ins (real SDK clients, SigV4, EKS's validation): several clusters of
 * one account that the EKS stand-in describes, synced as access entries (and one as aws-auth),
 * one shared IAM read, and each cluster's outcome on its own.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAnyConfig, type FleetConfig } from '../lambda/config.js';
import { ClusterNotFoundError, EmptySourcesGuardError, FleetFailedError, KubeConnectionError } from '../lambda/errors.js';
import { clusterConfig, runFleet, type FleetReport } from '../lambda/fleet.js';
import type { Environment } from './support/environment.js';
import { CLUSTER_ACCESS_ROLE, startFleetWorld } from './support/fleet-world.js';

const A = '111122223333';
const CI = `arn:aws:iam::${A}:role/ci/github-actions-deploy`;
const ALICE = `arn:aws:iam::${A}:user/alice`;
const STAGING_VIEWER = `arn:aws:iam::${A}:role/staging-cluster-viewer`;
const CLUSTER_ROLE = CLUSTER_ACCESS_ROLE;

let world: Environment;
let stop: () => Promise<void>;

// The demo dataset tags its roles for two clusters, demo and staging; qa has no tags of its own.
beforeEach(async () => void ({ world, stop } = await startFleetWorld(['staging', 'qa'])));
afterEach(() => stop());

/** A `clusters:` config in the stand-ins' region, with the iam tags as the shared source. */
function fleet(clusters: unknown[], extra: Record<string, unknown> = {}): FleetConfig {
  const config = parseAnyConfig(JSON.stringify({
    clusters,
    sync: { target: 'accessEntries' },
    scanners: [{ type: 'iam', name: 'iam-tags', iam: {} }],
    ...extra,
  }), 'fleet.json');
  if (!('clusters' in config)) throw new Error('expected a clusters: config');
  return config;
}
const region = 'eu-west-1';
const sync = (config: FleetConfig, commit = true) => runFleet({ config, configDir: '.', commit, accessEntryNotFoundRetry: { attempts: 5, delayMs: 10 } });
const principals = (cluster: string) => world.aws.eks.accessEntries(cluster).map((e) => e.principalArn);
async function failure(run: Promise<unknown>): Promise<FleetFailedError> {
  const err = await run.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FleetFailedError);
  return err as FleetFailedError;
}
const outcome = (report: FleetReport, cluster: string) => report.clusters.find((c) => c.cluster === cluster);

describe('runFleet', () => {
  it('reads IAM once for every cluster of the account, and gives each cluster the tags that name it', async () => {
    const report = await sync(fleet([{ name: 'demo', region }, { name: 'staging', region }]));
    expect(report.failed).toEqual([]);
    expect(report.committed).toBe(true);
    expect(world.aws.calls().iam['GetAccountAuthorizationDetails']).toBe(1);
    expect(world.aws.calls().eks['DescribeCluster']).toBe(2);
    expect(principals('demo')).toEqual(expect.arrayContaining([CI, ALICE]));
    expect(principals('demo')).not.toContain(STAGING_VIEWER);
    expect(principals('staging')).toContain(STAGING_VIEWER);
    expect(principals('staging')).not.toContain(ALICE);
  });

  it('with clusters in two regions of one account, still reads IAM once', async () => {
    const config = fleet([{ name: 'demo', region }, { name: 'staging', region: 'us-east-1' }]);
    // Only the cluster calls care about the region; offline keeps them out, the IAM read is what is measured.
    await runFleet({ config, configDir: '.', commit: false, offline: true });
    expect(world.aws.calls().iam['GetAccountAuthorizationDetails']).toBe(1);
  });

  it('a guard refusal in one cluster stops neither the others nor their writes; the run fails after, naming it', async () => {
    const qa = (roles: unknown[]) => ({ name: 'qa', region, scanners: [{ type: 'static', name: 'qa-static', static: { roles } }] });
    await sync(fleet([qa([{ rolearn: `arn:aws:iam::${A}:role/github-actions-deploy`, username: 'ci', groups: ['deployers'] }])]));
    expect(principals('qa')).toContain(CI);
    // qa's source now yields nothing while qa holds an entry the tool owns: the empty-sources guard refuses.
    const config = fleet([{ name: 'demo', region }, qa([]), { name: 'staging', region }]);
    const err = await failure(sync(config));
    expect(principals('qa')).toContain(CI);
    expect(err.report.failed).toEqual(['qa']);
    expect(err.guardRefused).toBe(true);
    expect(outcome(err.report, 'qa')?.error).toBeInstanceOf(EmptySourcesGuardError);
    expect(err.message).toMatch(/^1 of 3 clusters failed: cluster qa: /);
    expect(outcome(err.report, 'demo')?.report?.committed).toBe(true);
    expect(outcome(err.report, 'staging')?.report?.committed).toBe(true);
    expect(principals('staging')).toContain(STAGING_VIEWER);
    expect(err.report.clusters.map((c) => c.cluster)).toEqual(['demo', 'qa', 'staging']);
  });

  it('an unreachable cluster endpoint or a missing cluster fails only that cluster', async () => {
    world.aws.eks.putCluster({ name: 'legacy', endpoint: 'https://127.0.0.1:1', caPem: world.kube.caPem, authenticationMode: 'CONFIG_MAP' });
    const config = fleet([
      { name: 'legacy', region, sync: { target: 'configMap' } },
      { name: 'gone', region },
      { name: 'staging', region },
    ]);
    const err = await failure(sync(config));
    expect(err.report.failed).toEqual(['legacy', 'gone']);
    expect(err.guardRefused).toBe(false);
    expect(outcome(err.report, 'legacy')?.error).toBeInstanceOf(KubeConnectionError);
    expect(outcome(err.report, 'gone')?.error).toBeInstanceOf(ClusterNotFoundError);
    expect(outcome(err.report, 'staging')?.report?.committed).toBe(true);
    expect(principals('staging')).toContain(STAGING_VIEWER);
  });

  it('reaches a cluster as its roleARN, while the scanners read IAM with their own credentials', async () => {
    const iamCallers: string[] = [];
    world.aws.iam.intercept(({ credential }) => void iamCallers.push(credential.arn));
    const report = await sync(fleet([{ name: 'demo', region }, { name: 'staging', region, roleARN: CLUSTER_ROLE }]), false);
    expect(outcome(report, 'staging')?.report?.identity).toBe(`arn:aws:sts::${A}:assumed-role/eks-auth-sync-cluster-access/eks-auth-sync`);
    expect(outcome(report, 'demo')?.report?.identity).toBe(world.aws.credential.arn);
    // One AssumeRole serves the cluster's EKS and STS clients alike.
    expect(world.aws.calls().sts['AssumeRole']).toBe(1);
    expect(new Set(iamCallers)).toEqual(new Set([world.aws.credential.arn]));
  });

  it('fails only the cluster whose roleARN does not trust the function, naming the role', async () => {
    const untrusting = `arn:aws:iam::${A}:role/service-role/payments-api-lambda`;
    const err = await failure(sync(fleet([{ name: 'demo', region }, { name: 'staging', region, roleARN: untrusting }])));
    expect(err.report.failed).toEqual(['staging']);
    expect(outcome(err.report, 'staging')?.error?.message).toContain(`not authorized to perform: sts:AssumeRole on resource: ${untrusting}`);
    expect(outcome(err.report, 'demo')?.report?.committed).toBe(true);
  });

  it('syncs only the clusters asked for, and names one the config does not have', async () => {
    const config = fleet([{ name: 'demo', region }, { name: 'staging', region }]);
    const report = await runFleet({ config, configDir: '.', commit: false, only: ['staging'] });
    expect(report.clusters.map((c) => c.cluster)).toEqual(['staging']);
    await expect(runFleet({ config, configDir: '.', commit: false, only: ['prod'] })).rejects.toThrow('--cluster prod: not in the config\'s clusters (demo, staging)');
  });
});

describe('clusterConfig', () => {
  it('merges the cluster\'s sync over the top-level one and takes its own scanners over the shared ones', () => {
    const config = fleet([
      { name: 'demo', sync: { maxRemovals: 2 } },
      { name: 'qa', accountID: '444455556666', scanners: [{ type: 'ssm', ssm: { path: '/eks/qa/auth' } }] },
    ], { sync: { target: 'accessEntries', mode: 'replace' } });
    const [demo, qa] = config.clusters.map((c) => clusterConfig(config, c));
    expect(demo?.sync).toEqual({ mode: 'replace', allowEmpty: false, maxRemovals: 2, conflictRetries: 5, target: 'accessEntries' });
    expect(demo?.scanners.map((s) => s.type)).toEqual(['iam']);
    expect(qa?.cluster).toEqual({ name: 'qa', accountID: '444455556666' });
    expect(qa?.sync.maxRemovals).toBe(20);
    expect(qa?.scanners.map((s) => s.type)).toEqual(['ssm']);
  });
});
