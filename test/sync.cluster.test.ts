import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig } from '../lambda/config.js';
import type { ConfigMap } from '../lambda/configmap.js';
import { DeadlineError, EmptySourcesGuardError, KubeUnauthorizedError, MaxRemovalsGuardError } from '../lambda/errors.js';
import { runSync } from '../lambda/sync.js';
import { demoConfig, editBeforeNextWrite, seedAwsAuth, startEnvironment, type Environment } from './support/environment.js';

interface Entry {
  rolearn?: string;
  userarn?: string;
  username: string;
  groups?: string[];
}

function entries(cm: ConfigMap | undefined, key: 'mapRoles' | 'mapUsers'): Entry[] {
  return (parse(cm?.data?.[key] ?? '[]') as Entry[] | null) ?? [];
}

const arnsOf = (list: Entry[]) => list.map((e) => e.rolearn ?? e.userarn ?? '').sort();

let world: Environment;
const savedEnv = { ...process.env };

beforeAll(async () => {
  world = await startEnvironment();
});
afterAll(async () => {
  await world.close();
});
beforeEach(() => {
  Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
  world.kube.put(seedAwsAuth(world.accountId));
});
afterEach(() => {
  process.env = { ...savedEnv };
});

const A = '111122223333';

describe('runSync against a cluster', () => {
  it('shows in a dry run what a commit would change, each entry with its source, and writes nothing', async () => {
    const writes = world.kube.writes;
    const report = await runSync({ config: demoConfig(), configDir: '.', commit: false });

    expect(report.dryRun).toBe(true);
    expect(report.committed).toBe(false);
    expect(world.kube.writes).toBe(writes);
    expect(report.identity).toBe(`arn:aws:sts::${A}:assumed-role/eks-auth-sync/eks-auth-sync`);
    const added = report.change?.added.map((e) => `${e.arn} <- ${e.source}`);
    expect(added).toEqual(
      expect.arrayContaining([
        `arn:aws:iam::${A}:role/AWSReservedSSO_PlatformAdmins_8d3f0c2a91b7e645 <- iam-tags`,
        `arn:aws:iam::${A}:role/github-actions-deploy <- iam-tags`,
        `arn:aws:iam::${A}:role/breakglass <- ssm-param`,
        `arn:aws:iam::${A}:user/engineering/bob <- iam-tags`,
      ]),
    );
    expect(report.change?.removed).toEqual([]);
    expect(report.change?.keptForeign).toBe(3);
    // The tag asking for system:masters was refused and reported, not mapped.
    expect(added?.some((a) => a.includes('intern-wants-admin'))).toBe(false);
    expect(report.warnings.some((w) => w.subject?.includes('intern-wants-admin') && /system:masters/.test(w.message))).toBe(true);
  });

  it('commits the change keeping EKS node roles, hand-added entries and mapAccounts, then does not write again', async () => {
    const first = await runSync({ config: demoConfig(), configDir: '.', commit: true });
    expect(first.committed).toBe(true);
    const live = world.awsAuth();
    const roles = arnsOf(entries(live, 'mapRoles'));
    expect(roles).toEqual(
      expect.arrayContaining([
        `arn:aws:iam::${A}:role/eks-managed-nodegroup-NodeInstanceRole`,
        `arn:aws:iam::${A}:role/hand-added-admin`,
        `arn:aws:iam::${A}:role/eks-auth-sync`,
        `arn:aws:iam::${A}:role/AWSReservedSSO_PlatformAdmins_8d3f0c2a91b7e645`,
        `arn:aws:iam::${A}:role/demo-nodegroup-NodeInstanceRole`,
      ]),
    );
    expect(roles.some((arn) => arn.includes('aws-reserved'))).toBe(false);
    expect(live?.data?.['mapAccounts']).toBe(`- "${A}"\n`);

    const writes = world.kube.writes;
    const second = await runSync({ config: demoConfig(), configDir: '.', commit: true });
    expect(second.committed).toBe(false);
    expect(second.change).toMatchObject({ added: [], removed: [], changed: [] });
    expect(world.kube.writes).toBe(writes);
  });

  it('removes an entry it wrote once its source no longer produces it, and names where it came from', async () => {
    await runSync({ config: demoConfig(), configDir: '.', commit: true });
    const bob = world.aws.dataset.account.users.find((u) => u.name === 'bob');
    if (!bob) throw new Error('the demo dataset has no bob');
    world.aws.iam.deleteUser('bob');
    try {
      const report = await runSync({ config: demoConfig(), configDir: '.', commit: true });
      expect(report.change?.removed.map((e) => [e.arn, e.source])).toEqual([[`arn:aws:iam::${A}:user/engineering/bob`, 'aws-auth (previously synced)']]);
      expect(arnsOf(entries(world.awsAuth(), 'mapUsers'))).not.toContain(`arn:aws:iam::${A}:user/engineering/bob`);
      expect(arnsOf(entries(world.awsAuth(), 'mapRoles'))).toContain(`arn:aws:iam::${A}:role/hand-added-admin`);
    } finally {
      world.aws.iam.putUser(bob);
    }
  });

  it('keeps a concurrent editor’s change: re-reads after the 409 and writes both', async () => {
    editBeforeNextWrite(world.kube, `arn:aws:iam::${A}:user/colleague`);
    const report = await runSync({ config: demoConfig(), configDir: '.', commit: true });
    expect(report.committed).toBe(true);
    expect(report.attempts).toBe(2);
    expect(arnsOf(entries(world.awsAuth(), 'mapUsers'))).toContain(`arn:aws:iam::${A}:user/colleague`);
    expect(arnsOf(entries(world.awsAuth(), 'mapUsers'))).toContain(`arn:aws:iam::${A}:user/alice`);
  });

  it('refuses to wipe its entries when the sources come back empty, leaving aws-auth as it was', async () => {
    await runSync({ config: demoConfig(), configDir: '.', commit: true });
    const before = world.awsAuth();
    const onlySsm = parseConfig(`cluster: {name: demo, region: eu-west-1}\nscanners: [{type: ssm, ssm: {path: /eks/emptied}}]`, 'x.yaml');
    world.aws.ssm.putParameter({ name: '/eks/emptied', type: 'String', value: 'roles: []\nusers: []\n' });
    await expect(runSync({ config: onlySsm, configDir: '.', commit: true })).rejects.toBeInstanceOf(EmptySourcesGuardError);
    expect(world.awsAuth()).toEqual(before);
  });

  it('keeps its own mapping when a replace would remove it (self-lockout), applies the rest, and can still authenticate', async () => {
    const config = demoConfig({ sync: { mode: 'replace', maxRemovals: 100 } });
    const dry = await runSync({ config, configDir: '.', commit: false });
    expect(dry.change?.selfEntryKept?.arn).toBe(`arn:aws:iam::${A}:role/eks-auth-sync`);
    const report = await runSync({ config, configDir: '.', commit: true });
    expect(report.committed).toBe(true);
    expect(report.change?.selfEntryKept?.arn).toBe(`arn:aws:iam::${A}:role/eks-auth-sync`);
    expect(report.warnings).toEqual(expect.arrayContaining([expect.objectContaining({ source: 'self-lockout guard' })]));
    expect(arnsOf(entries(world.awsAuth(), 'mapRoles'))).toContain(`arn:aws:iam::${A}:role/eks-auth-sync`);
    const again = await runSync({ config, configDir: '.', commit: true });
    expect(again.committed).toBe(false);
    expect(again.change?.selfEntryKept?.arn).toBe(`arn:aws:iam::${A}:role/eks-auth-sync`);
  });

  it('refuses to remove more than maxRemovals entries in one run', async () => {
    await runSync({ config: demoConfig(), configDir: '.', commit: true });
    const before = world.awsAuth();
    const onlySsm = parseConfig(`cluster: {name: demo, region: eu-west-1}\nsync: {maxRemovals: 2}\nscanners: [{type: ssm, ssm: {path: /eks/demo/auth}}]`, 'x.yaml');
    await expect(runSync({ config: onlySsm, configDir: '.', commit: true })).rejects.toBeInstanceOf(MaxRemovalsGuardError);
    expect(world.awsAuth()).toEqual(before);
  });

  it('stops before the write when the deadline has passed', async () => {
    const before = world.awsAuth();
    const writes = world.kube.writes;
    await expect(runSync({ config: demoConfig(), configDir: '.', commit: true, deadline: new Date(0) })).rejects.toBeInstanceOf(DeadlineError);
    expect(world.kube.writes).toBe(writes);
    expect(world.awsAuth()).toEqual(before);
  });

  it('fails with the identity named when the cluster does not know it, writing nothing', async () => {
    world.kube.delete('kube-system', 'aws-auth');
    // No aws-auth and no access entry: EKS cannot map the tool's role, so it answers 401.
    const error = await runSync({ config: demoConfig(), configDir: '.', commit: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(KubeUnauthorizedError);
    expect(String(error)).toContain(`arn:aws:sts::${A}:assumed-role/eks-auth-sync/eks-auth-sync`);
    expect(world.awsAuth()).toBeUndefined();
  });
});

describe('runSync on a cluster without aws-auth', () => {
  it('creates aws-auth when the tool is let in by an access entry', async () => {
    const fresh = await startEnvironment({ awsAuth: null, kube: { admins: [`arn:aws:iam::${A}:role/eks-auth-sync`] } });
    Object.assign(process.env, fresh.env());
    try {
      const report = await runSync({ config: demoConfig(), configDir: '.', commit: true });
      expect(report).toMatchObject({ committed: true, created: true });
      expect(arnsOf(entries(fresh.awsAuth(), 'mapUsers'))).toEqual([
        `arn:aws:iam::${A}:user/alice`,
        `arn:aws:iam::${A}:user/contractors/mallory`,
        `arn:aws:iam::${A}:user/engineering/bob`,
      ]);
    } finally {
      await fresh.close();
    }
  });
});
