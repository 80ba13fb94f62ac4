/**
 * runSync with the access-entries target, against the EKS, IAM and STS stand-ins (real SDK
 * clients, SigV4, EKS's validation) and the Kubernetes stand-in, which authorises through access
 * entries as the cluster's authentication mode says.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../lambda/cli.js';
import { parseConfig } from '../lambda/config.js';
import {
  AccessEntryQuotaGuardError, EmptySourcesGuardError, KubeForbiddenError, MaxRemovalsGuardError, TargetModeError, TargetsFailedError,
} from '../lambda/errors.js';
import { OWNED_TAG } from '../lambda/targets/access-entries/index.js';
import { runSync, type RunOptions } from '../lambda/sync.js';
import { accessPolicyArn, clusterCreatorEntry, nodeRoleEntry, ServiceError, type AuthenticationMode, type SeedAccessEntry } from './support/aws-standins/index.js';
import { awsAuthMap } from './support/awsauth-fixtures.js';
import { startEnvironment, WRITER_GROUP, type Environment, type EnvironmentOptions } from './support/environment.js';

const A = '111122223333';
const role = (name: string, path = '/') => `arn:aws:iam::${A}:role${path}${name}`;
const SELF = role('eks-auth-sync');
// The role that created the cluster (any role IAM has will do).
const CREATOR = role('intern-wants-admin');
const NODE = role('demo-nodegroup-NodeInstanceRole');
const CI = role('github-actions-deploy', '/ci/');
const ALICE = `arn:aws:iam::${A}:user/alice`;
const BOB = `arn:aws:iam::${A}:user/engineering/bob`;
const ADMIN = accessPolicyArn('AmazonEKSClusterAdminPolicy');
const WRITES = ['CreateAccessEntry', 'UpdateAccessEntry', 'DeleteAccessEntry', 'AssociateAccessPolicy', 'DisassociateAccessPolicy'];

/** A static source, as an operator writes it: role ARNs without their path, as aws-auth wants them. */
function staticConfig(mappings: { roles?: unknown[]; users?: unknown[] }, sync: Record<string, unknown> = {}): RunOptions['config'] {
  return parseConfig(JSON.stringify({
    cluster: { name: 'demo', region: 'eu-west-1' },
    sync: { target: 'accessEntries', ...sync },
    scanners: [{ type: 'static', name: 'platform', static: { roles: mappings.roles ?? [], users: mappings.users ?? [] } }],
  }), 'test.json');
}

const CI_DEPLOYER = { rolearn: role('github-actions-deploy'), username: 'ci-deployer', groups: ['deployers'] };
const ALICE_ADMIN = { userarn: ALICE, username: 'alice', groups: ['system:masters'] };

let world: Environment;
const savedEnv = { ...process.env };

async function start(opts: EnvironmentOptions & { mode?: AuthenticationMode; seeds?: SeedAccessEntry[] } = {}): Promise<void> {
  world = await startEnvironment({ authenticationMode: opts.mode ?? 'API', accessEntries: opts.seeds ?? [clusterCreatorEntry(CREATOR), nodeRoleEntry(NODE)], ...opts });
  Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
}
afterEach(async () => {
  process.env = { ...savedEnv };
  await world.close();
});

const entries = () => world.aws.eks.accessEntries(world.clusterName);
const entry = (arn: string) => entries().find((e) => e.principalArn === arn);
const eksWrites = () => Object.entries(world.aws.eks.calls()).filter(([action]) => WRITES.includes(action));
/** Every EKS call from now on, in order, as `Action principal [policy]`. */
function recordCalls(): string[] {
  const log: string[] = [];
  world.aws.eks.intercept(({ action, request }) => {
    const parts = request.url.split('?')[0]?.split('/').map(decodeURIComponent) ?? [];
    const body = request.body.length > 0 ? (JSON.parse(request.body.toString()) as { principalArn?: string; policyArn?: string }) : {};
    const principal = body.principalArn ?? parts[4] ?? '';
    const policy = body.policyArn ?? parts[6];
    log.push(`${action} ${principal}${policy ? ` ${policy.slice(policy.lastIndexOf('/') + 1)}` : ''}`.trim());
    return undefined;
  });
  return log;
}
const writesIn = (log: string[]) => log.filter((l) => WRITES.some((w) => l.startsWith(`${w} `)));
const sync = (config: RunOptions['config'], commit: boolean) => runSync({ config, configDir: '.', commit, accessEntryNotFoundRetry: { attempts: 5, delayMs: 10 } });

describe('runSync, access-entries target', () => {
  beforeEach(async () => start());

  it('on an API cluster, auto chooses access entries, says why, and never reaches the Kubernetes API', async () => {
    world.kube.failNext(5, 403);
    const report = await sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'auto' }), false);
    expect(report.target).toMatchObject({ setting: 'auto', authenticationMode: 'API', targets: ['accessEntries'] });
    expect(report.target?.reason).toMatch(/API, which reads access entries only/);
    expect(report.change).toBeNull();
    // The Kubernetes stand-in would have refused any request: none was made (the failures are still pending).
    await expect(sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'auto' }), false)).resolves.toBeDefined();
  });

  it('shows in a dry run each planned step with its source and why, and writes nothing', async () => {
    const report = await sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }), false);
    const plan = report.accessEntries?.plan;
    expect(plan?.creates).toEqual([
      expect.objectContaining({ principalArn: CI, username: 'ci-deployer', kubernetesGroups: ['deployers'], source: 'platform', why: [expect.stringMatching(/role path \/ci\/ added/)] }),
      expect.objectContaining({ principalArn: ALICE, kubernetesGroups: [], source: 'platform', why: [expect.stringMatching(/system:masters → AmazonEKSClusterAdminPolicy/)] }),
    ]);
    expect(plan?.associations).toEqual([expect.objectContaining({ principalArn: ALICE, policyArn: ADMIN, scope: { type: 'cluster' } })]);
    expect(report.committed).toBe(false);
    expect(eksWrites()).toEqual([]);
    expect(entry(CI)).toBeUndefined();
  });

  it('creates entries with the ownership tag, then a run with nothing to change makes no write call', async () => {
    const first = await sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }), true);
    expect(first.committed).toBe(true);
    expect(first.accessEntries?.applied).toBe(3);
    expect(entry(CI)).toMatchObject({ username: 'ci-deployer', kubernetesGroups: ['deployers'], tags: { [OWNED_TAG.key]: OWNED_TAG.value } });
    expect([...(entry(ALICE)?.policies.keys() ?? [])]).toEqual([ADMIN]);

    world.aws.eks.reset();
    const second = await sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }), true);
    expect(second.committed).toBe(false);
    expect(second.accessEntries?.plan.steps).toEqual([]);
    expect(second.accessEntries?.plan.unchanged).toHaveLength(2);
    expect(eksWrites()).toEqual([]);
  });

  it('updates and deletes only its own entries; the cluster creator and node entries are never touched, and a source mapping one is reported', async () => {
    await sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }), true);
    const foreignBefore = [entry(CREATOR), entry(NODE)];
    const report = await sync(staticConfig({
      roles: [{ ...CI_DEPLOYER, groups: ['deployers', 'viewers'] }, { rolearn: CREATOR, username: 'creator', groups: ['viewers'] }],
    }), true);
    expect(report.accessEntries?.plan.updates).toEqual([expect.objectContaining({ principalArn: CI, kubernetesGroups: ['deployers', 'viewers'] })]);
    expect(report.accessEntries?.plan.deletes).toEqual([expect.objectContaining({ principalArn: ALICE, reason: 'not desired' })]);
    expect(entry(CI)?.kubernetesGroups).toEqual(['deployers', 'viewers']);
    expect(entry(ALICE)).toBeUndefined();
    expect([entry(CREATOR), entry(NODE)]).toEqual(foreignBefore);
    expect(report.accessEntries?.plan.keptForeign).toContainEqual(expect.objectContaining({ principalArn: CREATOR, source: 'platform' }));
    expect(report.warnings).toContainEqual(expect.objectContaining({ source: 'platform', subject: CREATOR, message: expect.stringMatching(/does not own/) }));
  });

  it('replaces an entry whose type changes (delete, then create, last) and counts it as a removal', async () => {
    // An earlier run made CI's entry a node entry; the source now maps it as a user of the cluster.
    world.aws.eks.seedAccessEntry(world.clusterName, { principalArn: CI, type: 'EC2_LINUX', tags: { [OWNED_TAG.key]: OWNED_TAG.value } });
    const before = entries();
    await expect(sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }, { maxRemovals: 0 }), true)).rejects.toThrow(MaxRemovalsGuardError);
    expect(entries()).toEqual(before);

    const log = recordCalls();
    const report = await sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }, { maxRemovals: 1 }), true);
    expect(report.accessEntries?.plan.deletes).toEqual([expect.objectContaining({ principalArn: CI, reason: 'type change' })]);
    expect(entry(CI)).toMatchObject({ type: 'STANDARD', username: 'ci-deployer', tags: { [OWNED_TAG.key]: OWNED_TAG.value } });
    // The new principal's grants come first; the replacement last, delete then create back to back.
    expect(writesIn(log)).toEqual([
      `CreateAccessEntry ${ALICE}`,
      `AssociateAccessPolicy ${ALICE} AmazonEKSClusterAdminPolicy`,
      `DeleteAccessEntry ${CI}`,
      `CreateAccessEntry ${CI}`,
    ]);
  });

  it('grants before it revokes: creates, associations, updates, disassociations, deletes (the stand-in\'s call order)', async () => {
    const staging = role('staging-cluster-viewer');
    await sync(staticConfig({
      roles: [CI_DEPLOYER, { rolearn: staging, username: 'viewer', groups: ['viewers'] }],
      users: [ALICE_ADMIN],
    }), true);
    const log = recordCalls();
    // CI becomes admin, alice a viewer, bob is new, staging is no longer mapped.
    await sync(staticConfig({
      roles: [{ ...CI_DEPLOYER, groups: ['system:masters'] }],
      users: [{ userarn: ALICE, username: 'alice', groups: ['viewers'] }, { userarn: BOB, username: 'bob', groups: ['developers'] }],
    }), true);
    expect(writesIn(log)).toEqual([
      `CreateAccessEntry ${BOB}`,
      `AssociateAccessPolicy ${CI} AmazonEKSClusterAdminPolicy`,
      `UpdateAccessEntry ${CI}`,
      `UpdateAccessEntry ${ALICE}`,
      `DisassociateAccessPolicy ${ALICE} AmazonEKSClusterAdminPolicy`,
      `DeleteAccessEntry ${staging}`,
    ]);
  });

  it('retries a step that meets NotFound on an entry it has just created, and reports no failure', async () => {
    world.aws.eks.intercept(({ action, index }) =>
      action === 'AssociateAccessPolicy' && index < 2 ? new ServiceError(404, 'ResourceNotFoundException', `No access entry found for principal ${ALICE}.`) : undefined);
    const report = await sync(staticConfig({ users: [ALICE_ADMIN] }), true);
    expect(report.accessEntries?.applied).toBe(2);
    expect(world.aws.eks.calls()['AssociateAccessPolicy']).toBe(3);
    expect([...(entry(ALICE)?.policies.keys() ?? [])]).toEqual([ADMIN]);
  });

  it.each([
    ['empty sources', { roles: [] }, {}, EmptySourcesGuardError],
    ['maxRemovals', { roles: [] }, { allowEmpty: true, maxRemovals: 1 }, MaxRemovalsGuardError],
  ] as [string, { roles: unknown[] }, Record<string, unknown>, typeof EmptySourcesGuardError][])('refuses before any write: %s', async (_name, mappings, settings, error) => {
    await sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }), true);
    world.aws.eks.reset();
    await expect(sync(staticConfig(mappings, settings), true)).rejects.toThrow(error);
    await expect(sync(staticConfig(mappings, settings), true)).rejects.toThrow(/No access entry was changed/);
    expect(eksWrites()).toEqual([]);
  });

  it('refuses before any write a plan over the 3,000-entry quota', async () => {
    for (let i = 0; i < 2999; i++) world.aws.eks.seedAccessEntry(world.clusterName, { principalArn: role(`other-tool-${i}`) });
    world.aws.eks.reset();
    await expect(sync(staticConfig({ roles: [CI_DEPLOYER], users: [ALICE_ADMIN] }), true)).rejects.toThrow(AccessEntryQuotaGuardError);
    expect(eksWrites()).toEqual([]);
  }, 60_000);

  it('configMap on an API cluster is refused before anything is written: aws-auth is ignored there', async () => {
    const before = world.awsAuth();
    await expect(sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'configMap' }), true)).rejects.toThrow(TargetModeError);
    await expect(sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'configMap' }), true)).rejects.toThrow(/ignores aws-auth/);
    expect(world.awsAuth()).toEqual(before);
    expect(eksWrites()).toEqual([]);
  });
});

describe('runSync on an API_AND_CONFIG_MAP cluster', () => {
  beforeEach(async () => start({ mode: 'API_AND_CONFIG_MAP' }));

  it('auto keeps aws-auth, with a note that accessEntries or both is available', async () => {
    const report = await sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'auto' }), false);
    expect(report.target).toMatchObject({ targets: ['configMap'], note: expect.stringMatching(/accessEntries, or both/) });
    expect(report.change?.added.map((e) => e.arn)).toEqual([role('github-actions-deploy')]);
    expect(report.accessEntries).toBeNull();
  });

  it('configMap warns once per mapping whose access policies aws-auth cannot hold; accessEntries associates them', async () => {
    const viewer = { ...CI_DEPLOYER, accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }] };
    const asConfigMap = await sync(staticConfig({ roles: [viewer], users: [ALICE_ADMIN] }, { target: 'configMap' }), false);
    const policyWarnings = asConfigMap.warnings.filter((w) => /cannot be expressed in aws-auth/.test(w.message));
    expect(policyWarnings).toEqual([expect.objectContaining({ source: 'platform', subject: role('github-actions-deploy'), message: expect.stringMatching(/AmazonEKSViewPolicy/) })]);

    const asEntries = await sync(staticConfig({ roles: [viewer], users: [ALICE_ADMIN] }), true);
    expect(asEntries.warnings.filter((w) => /cannot be expressed in aws-auth/.test(w.message))).toEqual([]);
    expect(entry(CI)?.policies.get(accessPolicyArn('AmazonEKSViewPolicy'))?.accessScope).toEqual({ type: 'namespace', namespaces: ['dev', 'team-*'] });
  });

  it('both: one target refusing does not hide the other; the run still fails, naming the refusal', async () => {
    for (const name of ['old-a', 'old-b', 'old-c']) {
      world.aws.eks.seedAccessEntry(world.clusterName, { principalArn: role(name), tags: { [OWNED_TAG.key]: OWNED_TAG.value } });
    }
    const before = entries();
    const failure = await sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'both', maxRemovals: 2 }), true).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TargetsFailedError);
    const { report, guardRefused } = failure as TargetsFailedError;
    expect(guardRefused).toBe(true);
    // aws-auth was brought in step and says so ...
    expect(report.committed).toBe(true);
    expect(report.change?.added.map((e) => e.arn)).toEqual([role('github-actions-deploy')]);
    expect(world.awsAuth()?.data?.['mapRoles']).toContain('github-actions-deploy');
    // ... while the access entries, refused, are untouched, and the report says why.
    expect(report.accessEntries).toBeNull();
    expect(report.targetErrors.accessEntries).toMatch(/remove 3 access entries.*No access entry was changed/);
    expect((failure as Error).message).toMatch(/^access entries: The plan would remove 3/);
    expect(entries()).toEqual(before);
  });

  it('keeps its own access entry when the sources drop it, so its next run still reaches aws-auth', async () => {
    // The tool gets into the API server through its access entry only: aws-auth does not map it.
    world.kube.put(awsAuthMap({ mapRoles: `- rolearn: ${NODE}\n  username: system:node:{{EC2PrivateDNSName}}\n  groups: [system:nodes]\n` }));
    world.aws.eks.seedAccessEntry(world.clusterName, { principalArn: SELF, kubernetesGroups: [WRITER_GROUP], tags: { [OWNED_TAG.key]: OWNED_TAG.value } });
    const config = staticConfig({ roles: [CI_DEPLOYER] }, { target: 'both' });

    const first = await sync(config, true);
    expect(first.accessEntries?.plan.selfEntryKept).toMatchObject({ principalArn: SELF });
    expect(first.accessEntries?.plan.deletes).toEqual([]);
    expect(first.warnings).toContainEqual(expect.objectContaining({ source: 'self-lockout guard', subject: SELF, message: expect.stringMatching(/remove the entry/) }));
    expect(entry(SELF)?.kubernetesGroups).toEqual([WRITER_GROUP]);
    await expect(sync(config, true)).resolves.toMatchObject({ committed: false });

    // What the guard prevents: without that entry the next run cannot read aws-auth at all.
    world.aws.eks.seedAccessEntry(world.clusterName, { principalArn: SELF, kubernetesGroups: [], tags: { [OWNED_TAG.key]: OWNED_TAG.value } });
    const lockedOut = await sync(config, true).catch((e: unknown) => e);
    expect(lockedOut).toBeInstanceOf(TargetsFailedError);
    expect((lockedOut as TargetsFailedError).failures.get('aws-auth')).toBeInstanceOf(KubeForbiddenError);
  });

  it('both, dry run: shows for every aws-auth entry whether an access entry covers it', async () => {
    // The demo's aws-auth maps this node role; EKS made its node entry when the mode allowed it.
    const managedNode = role('eks-managed-nodegroup-NodeInstanceRole');
    world.aws.eks.seedAccessEntry(world.clusterName, nodeRoleEntry(managedNode));
    const report = await sync(staticConfig({ roles: [CI_DEPLOYER] }, { target: 'both' }), false);
    const rows = Object.fromEntries((report.migration ?? []).map((r) => [r.arn, r]));
    expect(rows[managedNode]).toMatchObject({ accessEntry: { principalArn: managedNode, type: 'EC2_LINUX', status: 'exists', managed: false }, note: expect.stringMatching(/access entry wins/) });
    expect(rows[role('github-actions-deploy')]).toMatchObject({ accessEntry: { principalArn: CI, status: 'planned', managed: true } });
    expect(rows[role('hand-added-admin')]).toMatchObject({ accessEntry: null, note: expect.stringMatching(/loses its access when the cluster switches to API mode/) });
    expect(rows[SELF]).toMatchObject({ accessEntry: null });
    expect(Object.keys(rows)).toHaveLength(4);
    expect(eksWrites()).toEqual([]);
  });
});

describe('eks-auth-sync sync (CLI), access entries', () => {
  beforeEach(async () => start());

  it('dry run prints the target and why, then each step with its source and why, on stderr', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eas-ae-'));
    const path = join(dir, 'config.json');
    writeFileSync(path, JSON.stringify({
      cluster: { name: 'demo', region: 'eu-west-1' },
      scanners: [{ type: 'static', name: 'platform', static: { roles: [CI_DEPLOYER], users: [ALICE_ADMIN] } }],
    }));
    let stdout = '';
    let stderr = '';
    const status = await main(['sync', '--config', path], {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      stdin: process.stdin,
    });
    expect(status).toBe(0);
    expect(stdout).toContain(`rolearn: ${role('github-actions-deploy')}`);
    expect(stderr).toContain('target: accessEntries (auto: cluster demo is in authentication mode API, which reads access entries only)');
    expect(stderr).toContain(`access entries of cluster demo (as arn:aws:sts::${A}:assumed-role/eks-auth-sync/eks-auth-sync):`);
    expect(stderr).toContain(`  + create STANDARD ${CI} → ci-deployer [deployers]  (from platform; role path /ci/ added (iam:GetRole): access entries need the ARN with its path)`);
    expect(stderr).toContain(`  + associate ${ALICE} AmazonEKSClusterAdminPolicy at cluster scope  (from platform)`);
    expect(stderr).toContain('2 to create, 0 to update, 0 to delete, 1 to associate, 0 to disassociate; 0 unchanged; 2 not managed by eks-auth-sync (kept)');
    expect(stderr).toContain('dry run: nothing written; run again with --commit to apply.');
    expect(stderr).not.toContain('aws-auth in cluster');
    expect(eksWrites()).toEqual([]);
  });
});
