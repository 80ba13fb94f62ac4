/**
 * The access-entries part of `npm run bench`: 500 access entries eks-auth-sync manages (each
 * with an associated policy) and a few EKS made itself, 30 ms per EKS call, EKS limited to 10
 * requests/s. Two runs: one with nothing to change, one with 50 changed principals.
 *
 * A run is the function's core, runSync with `sync.target: accessEntries` (see `runOnce`),
 * in this process with the function's clients. Everything measured is read from the EKS
 * stand-in's counters and the state it holds.
 */
import { validateConfig } from '../lambda/config.js';
import { OWNED_TAG } from '../lambda/targets/access-entries/plan.js';
import type { MappingForAccessEntry } from '../lambda/targets/access-entries/translate.js';
import { runSync } from '../lambda/sync.js';
import {
  accessPolicyArn, clusterCreatorEntry, fargateProfileEntry, generateDataset, nodeRoleEntry, roleArn, startAwsStandins,
  type AwsStandins, type Dataset, type SeedAccessEntry,
} from '../test/support/aws-standins/index.js';
import { generateTls } from '../test/support/tls.js';

/** The 50 changes: new principals (create + associate), new groups (update), a policy's new scope (associate), removals (delete). */
const CHANGE_MIX = { creates: 15, updates: 15, rescoped: 10, removals: 10 } as const;

export const ACCESS_ENTRIES = {
  managed: 500,
  changes: CHANGE_MIX.creates + CHANGE_MIX.updates + CHANGE_MIX.rescoped + CHANGE_MIX.removals,
  latencyMs: 30,
  eksRequestsPerSecond: 10,
  /** ListAccessEntries' page size as read.ts asks for it (EKS's maximum). */
  pageSize: 100,
  /** Target: each run within this many times the read floor. */
  floorRatio: 1.3,
  /** A run still retrying throttling after this long fails (the function's client retries until its deadline). */
  runDeadlineMs: 4 * 60_000,
} as const;

const CLUSTER = 'bench-api';
const VIEW_POLICY = 'AmazonEKSViewPolicy';
/** EKS actions that only read; every other action a run calls writes. */
const READ_ACTIONS = new Set(['DescribeCluster', 'ListAccessEntries', 'DescribeAccessEntry', 'ListAssociatedAccessPolicies']);

/** The setup in words, for the bench's notes under its table. */
export const ACCESS_ENTRIES_SETUP =
  `${ACCESS_ENTRIES.managed} entries tagged ${OWNED_TAG.key}=${OWNED_TAG.value}, each with ${VIEW_POLICY} in one namespace, and 3 EKS made ` +
  '(cluster creator, node role, Fargate profile), on an API-mode cluster. Each run is the function\'s core, runSync with sync.target accessEntries and ' +
  'a static source holding the mappings (DescribeCluster, STS, then read → translate → plan → apply), in this process with the function\'s clients. ' +
  `The ${ACCESS_ENTRIES.changes} changes: ${CHANGE_MIX.creates} new principals (create + associate), ${CHANGE_MIX.updates} new groups (update), ` +
  `${CHANGE_MIX.rescoped} policies to a new namespace (associate), ${CHANGE_MIX.removals} removals (delete). Read floor: list pages of ` +
  `${ACCESS_ENTRIES.pageSize} + one DescribeAccessEntry per entry + one ListAssociatedAccessPolicies per managed entry, at ${ACCESS_ENTRIES.eksRequestsPerSecond} requests/s.`;

/** What one run did, from the EKS stand-in's side. */
export interface AccessEntriesRun {
  /** Every attempt counted, throttled ones too. */
  reads: { calls: number; throttled: number };
  writes: { calls: number; throttled: number };
  /** `Action n (t throttled)`, every attempt counted. */
  byAction: string;
  wallMs: number;
  /** The read calls the design must make for the state the run started from (see `readFloor`). */
  floorReads: number;
  floorMs: number;
  /** Managed entries after the run, checked against what the run asked for. */
  managedAfter: number;
}

/** The world of the access-entry runs: the AWS stand-ins with an API-mode cluster holding the seeded entries. */
interface AccessEntriesWorld {
  aws: AwsStandins;
  dataset: Dataset;
  /** Role i of the dataset, by ARN with its path (access entries need it). */
  principal(i: number): string;
}

/**
 * Both runs, each against the state the one before left: the no-change run, then the 50 changes.
 * @throws Error naming the run when a run fails or leaves the entries other than it asked.
 */
export async function benchAccessEntries(): Promise<{ noChange: AccessEntriesRun; changed: AccessEntriesRun }> {
  const world = await startWorld();
  try {
    const noChange = await measure(world, desiredMappings(world, false));
    const changed = await measure(world, desiredMappings(world, true));
    const expected = ACCESS_ENTRIES.managed + CHANGE_MIX.creates - CHANGE_MIX.removals;
    if (changed.managedAfter !== expected) {
      throw new Error(`the 50-change run left ${changed.managedAfter} managed access entries, not ${expected}`);
    }
    return { noChange, changed };
  } finally {
    await world.aws.close();
  }
}

async function startWorld(): Promise<AccessEntriesWorld> {
  const generated = generateDataset({ roles: ACCESS_ENTRIES.managed + CHANGE_MIX.creates + 3, users: 0, seed: 2, clusterName: CLUSTER });
  // Every role under a path, so no mapping needs iam:GetRole to find it: the figures are EKS's alone.
  const roles = generated.account.roles.map((r, i) => ({ ...r, name: `bench-role-${i}`, path: '/teams/' }));
  const dataset: Dataset = { ...generated, account: { ...generated.account, roles } };
  const principal = (i: number): string => {
    const role = roles[i];
    if (!role) throw new Error(`the access-entry dataset has no role ${i}`);
    return roleArn(dataset.account, role);
  };
  const foreign = ACCESS_ENTRIES.managed + CHANGE_MIX.creates;
  const aws = await startAwsStandins({
    dataset,
    clusters: [{
      name: CLUSTER,
      // The access-entries target never connects to the API server, but DescribeCluster's answer is checked whole, CA included.
      endpoint: 'https://127.0.0.1:9',
      caPem: generateTls('bench-api').caPem,
      authenticationMode: 'API',
      accessEntries: [clusterCreatorEntry(principal(foreign)), nodeRoleEntry(principal(foreign + 1)), fargateProfileEntry(principal(foreign + 2))],
    }],
    eks: { latencyMs: ACCESS_ENTRIES.latencyMs, rateLimit: { requestsPerSecond: ACCESS_ENTRIES.eksRequestsPerSecond } },
  });
  for (let i = 0; i < ACCESS_ENTRIES.managed; i++) aws.eks.seedAccessEntry(CLUSTER, managedEntry(principal(i), i));
  return { aws, dataset, principal };
}

/** Entry i as an earlier run of eks-auth-sync left it: its username, a group, the view policy in one namespace, the ownership tag. */
function managedEntry(principalArn: string, i: number): SeedAccessEntry {
  return {
    principalArn,
    username: `bench-${i}`,
    kubernetesGroups: [`team-${i % 25}`],
    tags: { [OWNED_TAG.key]: OWNED_TAG.value },
    policies: [{ policyArn: accessPolicyArn(VIEW_POLICY), accessScope: { type: 'namespace', namespaces: [`ns-${i % 25}`] } }],
  };
}

/**
 * What the sources ask for: the seeded entries exactly, or with the 50 changes. The same list
 * is what a full run's static or IAM-tag sources would have to produce.
 */
function desiredMappings(world: AccessEntriesWorld, withChanges: boolean): MappingForAccessEntry[] {
  const { creates, updates, rescoped, removals } = CHANGE_MIX;
  const count = ACCESS_ENTRIES.managed + (withChanges ? creates - removals : 0);
  const mappings: MappingForAccessEntry[] = [];
  for (let n = 0; n < count; n++) {
    // With changes, the last `removals` entries are dropped and `creates` new principals follow.
    const i = withChanges && n >= ACCESS_ENTRIES.managed - removals ? n + removals : n;
    const groupChanged = withChanges && i < updates;
    const scopeChanged = withChanges && i >= updates && i < updates + rescoped;
    mappings.push({
      kind: 'role',
      arn: world.principal(i),
      username: `bench-${i}`,
      groups: [groupChanged ? 'team-moved' : `team-${i % 25}`],
      accessPolicies: [{ policy: VIEW_POLICY, namespaces: [scopeChanged ? 'ns-moved' : `ns-${i % 25}`] }],
      source: 'bench',
      fromTags: false,
    });
  }
  return mappings;
}

/**
 * The read floor of the state the stand-in holds: the list pages, one Describe per entry and one
 * ListAssociatedAccessPolicies per managed entry, at the rate limit.
 */
function readFloor(world: AccessEntriesWorld): { reads: number; ms: number } {
  const entries = world.aws.eks.accessEntries(CLUSTER);
  const managed = entries.filter((e) => e.tags[OWNED_TAG.key] === OWNED_TAG.value).length;
  // DescribeCluster (the run's first EKS call), the list pages, one Describe per entry, one policy list per managed entry.
  const reads = 1 + Math.max(1, Math.ceil(entries.length / ACCESS_ENTRIES.pageSize)) + entries.length + managed;
  return { reads, ms: (reads / ACCESS_ENTRIES.eksRequestsPerSecond) * 1000 };
}

async function measure(world: AccessEntriesWorld, desired: MappingForAccessEntry[]): Promise<AccessEntriesRun> {
  const floor = readFloor(world);
  world.aws.reset();
  const started = performance.now();
  await runOnce(world, desired);
  const wallMs = performance.now() - started;
  const calls = world.aws.eks.calls();
  const throttledByAction = world.aws.eks.throttled();
  const sum = (counts: Record<string, number>, reads: boolean): number =>
    Object.entries(counts).filter(([action]) => READ_ACTIONS.has(action) === reads).reduce((n, [, c]) => n + c, 0);
  const byAction = Object.entries(calls)
    .map(([action, n]) => `eks:${action} ${n}${throttledByAction[action] ? ` (${throttledByAction[action]} throttled)` : ''}`)
    .join(', ');
  return {
    reads: { calls: sum(calls, true), throttled: sum(throttledByAction, true) },
    writes: { calls: sum(calls, false), throttled: sum(throttledByAction, false) },
    byAction,
    wallMs,
    floorReads: floor.reads,
    floorMs: floor.ms,
    managedAfter: world.aws.eks.accessEntries(CLUSTER).filter((e) => e.tags[OWNED_TAG.key] === OWNED_TAG.value).length,
  };
}

/** The variables the SDK's default credential chain reads, set for the in-process client and put back after. */
const CREDENTIAL_VARIABLES = ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const;

/**
 * One run of the function's core, runSync, with `sync.target: accessEntries` on the API-mode
 * cluster: a static source holding the desired mappings, DescribeCluster, who we are (STS), then
 * the target's read, translation, plan and apply, with the function's clients (adaptive retry,
 * timeouts, the run's deadline).
 */
async function runOnce(world: AccessEntriesWorld, desired: MappingForAccessEntry[]): Promise<void> {
  const { aws } = world;
  const saved = CREDENTIAL_VARIABLES.map((k) => [k, process.env[k]] as const);
  const env = aws.env();
  for (const k of CREDENTIAL_VARIABLES) {
    const value = env[k];
    if (value === undefined) delete process.env[k];
    else process.env[k] = value;
  }
  try {
    const roles = desired.map((m) => ({
      rolearn: m.arn, username: m.username, groups: [...m.groups],
      accessPolicies: (m.accessPolicies ?? []).map((p) => ({ policy: p.policy, ...(p.namespaces ? { namespaces: [...p.namespaces] } : {}) })),
    }));
    const config = validateConfig({
      cluster: { name: CLUSTER, region: aws.region },
      aws: { endpoints: { eks: aws.eks.endpoint, iam: aws.iam.endpoint, sts: aws.sts.endpoint } },
      sync: { target: 'accessEntries', maxRemovals: CHANGE_MIX.removals },
      scanners: [{ type: 'static', name: 'bench', static: { roles } }],
    }, 'the access-entries bench config');
    const report = await runSync({ config, configDir: '.', commit: true, deadline: new Date(Date.now() + ACCESS_ENTRIES.runDeadlineMs) });
    if (report.target?.targets.join() !== 'accessEntries') throw new Error(`the bench run chose ${report.target?.targets.join(' + ') ?? 'no target'}, not accessEntries`);
  } finally {
    for (const [k, v] of saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
