/**
 * The iamGroups and identityCenter sources through runSync and the CLI, against the IAM stand-in
 * (real SDK clients, SigV4, IAM's Query/XML wire format and pagination) and both targets: the
 * demo account's IAM groups `developers` (alice, bob) and `oncall` (bob, carol) and its
 * Identity Center roles.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { main } from '../lambda/cli.js';
import { validateConfig, type Config } from '../lambda/config.js';
import { runSync } from '../lambda/sync.js';
import { clusterCreatorEntry, nodeRoleEntry } from './support/aws-standins/index.js';
import { startEnvironment, type Environment, type EnvironmentOptions } from './support/environment.js';

const A = '111122223333';
const user = (pathAndName: string): string => `arn:aws:iam::${A}:user/${pathAndName}`;
const READ_ONLY = 'AWSReservedSSO_ReadOnlyAccess_1f2e3d4c5b6a7988';
const SSO_PATH = '/aws-reserved/sso.amazonaws.com/eu-west-1/';

const GROUPS = {
  type: 'iamGroups', name: 'groups',
  iamGroups: { groups: [{ name: 'oncall', username: 'oncall:{{UserName}}', groups: ['oncall'], accessPolicies: [{ policy: 'AmazonEKSViewPolicy' }] }, { name: 'developers', groups: ['developers'] }] },
};
const SSO = { type: 'identityCenter', name: 'sso', identityCenter: { permissionSets: [{ name: 'ReadOnlyAccess', groups: ['viewers'] }, { name: 'Gone' }] } };

function config(scanners: unknown[], sync: Record<string, unknown> = {}): Config {
  return validateConfig({ cluster: { name: 'demo', region: 'eu-west-1' }, sync, scanners }, 'test config');
}

let world: Environment;
const savedEnv = { ...process.env };
async function start(opts: EnvironmentOptions = {}): Promise<void> {
  world = await startEnvironment(opts);
  Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
}
afterEach(async () => {
  process.env = { ...savedEnv };
  await world.close();
});

/** Runs the CLI on `cfg` (written to a file), returning its exit status and output. */
async function cli(cfg: Config, ...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const path = join(mkdtempSync(join(tmpdir(), 'eas-groups-')), 'config.json');
  writeFileSync(path, JSON.stringify(cfg));
  let stdout = '';
  let stderr = '';
  const status = await main(['sync', '--config', path, ...args], {
    stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) }, stdin: process.stdin,
  });
  return { status, stdout, stderr };
}

describe('IAM groups and permission sets into aws-auth', () => {
  it('maps every group member and the permission set\'s current role, the plan naming each group and set', async () => {
    await start();
    const { status, stderr } = await cli(config([GROUPS, SSO]));
    expect(status).toBe(0);
    expect(stderr).toContain(`  + user ${user('engineering/bob')} → oncall:bob [oncall, developers]  (from groups: oncall + developers)`);
    expect(stderr).toContain(`  + user ${user('alice')} → alice [developers]  (from groups: developers)`);
    expect(stderr).toContain(`  + user ${user('carol')} → oncall:carol [oncall]  (from groups: oncall)`);
    // aws-auth gets the role without its path, and the person's name in the username.
    expect(stderr).toContain(`  + role arn:aws:iam::${A}:role/${READ_ONLY} → sso:ReadOnlyAccess:{{SessionName}} [viewers]  (from sso: ReadOnlyAccess)`);
    expect(stderr).toMatch(/warning: \[sso\] permission set Gone: no role AWSReservedSSO_Gone_<suffix>/);
    expect(stderr).toMatch(/warning: \[groups\] arn:aws:iam::111122223333:user\/engineering\/bob: in IAM groups oncall, developers, which name the user differently/);

    const report = await runSync({ config: config([GROUPS, SSO]), configDir: '.', commit: true });
    expect(report.committed).toBe(true);
    const live = world.awsAuth();
    expect(parse(live?.data?.mapRoles ?? '')).toContainEqual({ rolearn: `arn:aws:iam::${A}:role/${READ_ONLY}`, username: 'sso:ReadOnlyAccess:{{SessionName}}', groups: ['viewers'] });
    expect(live?.data?.mapRoles).not.toContain('aws-reserved');
    expect(parse(live?.data?.mapUsers ?? '')).toContainEqual({ userarn: user('carol'), username: 'oncall:carol', groups: ['oncall'] });
  });

  it('reports the precedence when a tag also maps a group member: the scanner listed first wins', async () => {
    await start();
    const report = await runSync({ config: config([{ type: 'iam', name: 'tags', iam: {} }, GROUPS]), configDir: '.', commit: false });
    expect(report.change?.added.find((e) => e.arn === user('alice'))).toMatchObject({ username: 'alice', groups: ['developers', 'viewers'], source: 'tags' });
    expect(report.warnings).toContainEqual(expect.objectContaining({
      source: 'groups: developers', subject: user('alice'), message: expect.stringMatching(/already mapped by "tags", which is listed earlier; this entry is ignored/),
    }));
  });

  it('in bulk mode adds no IAM call for the groups and none for the permission sets to the iam scanner\'s one read', async () => {
    await start();
    const tagsOnly = await runSync({ config: config([{ type: 'iam', name: 'tags', iam: {} }]), configDir: '.', commit: false });
    const alone = world.aws.iam.calls();
    world.aws.reset();
    const all = await runSync({ config: config([{ type: 'iam', name: 'tags', iam: {} }, GROUPS, SSO]), configDir: '.', commit: false });
    expect(world.aws.iam.calls()).toEqual(alone);
    expect(alone).toEqual({ GetAccountAuthorizationDetails: 1 });
    expect((all.change?.added.length ?? 0)).toBeGreaterThan(tagsOnly.change?.added.length ?? 0);
  });

  it('without a bulk read makes one GetGroup per group and one ListRoles for the permission sets, and maps the same', async () => {
    await start();
    const bulk = await runSync({ config: config([{ type: 'iam', iam: { disableRoleScan: true, disableUserScan: true } }, GROUPS, SSO]), configDir: '.', commit: false });
    const perIdentity = { ...GROUPS, iamGroups: { ...GROUPS.iamGroups, mode: 'perIdentity' } };
    world.aws.reset();
    const per = await runSync({ config: config([perIdentity, SSO, { ...SSO, name: 'sso-again', identityCenter: { mode: 'perIdentity', permissionSets: [{ name: 'PlatformAdmins' }] } }]), configDir: '.', commit: false });
    expect(world.aws.iam.calls()).toEqual({ GetGroup: 2, ListRoles: 1 });
    const view = (r: typeof bulk) => r.change?.added.filter((e) => e.source !== 'sso-again: PlatformAdmins').map((e) => `${e.arn} ${e.username} ${e.groups.join(',')} ${e.source}`);
    expect(view(per)).toEqual(view(bulk));
  });
});

describe('IAM groups and permission sets into access entries', () => {
  it('creates the entries with the role\'s path, the group\'s policies, and the plan naming each group and set', async () => {
    await start({ authenticationMode: 'API', accessEntries: [clusterCreatorEntry(`arn:aws:iam::${A}:role/intern-wants-admin`), nodeRoleEntry(`arn:aws:iam::${A}:role/demo-nodegroup-NodeInstanceRole`)] });
    const cfg = config([GROUPS, SSO], { target: 'accessEntries' });
    const dry = await cli(cfg);
    expect(dry.status).toBe(0);
    expect(dry.stderr).toContain(`+ create STANDARD arn:aws:iam::${A}:role${SSO_PATH}${READ_ONLY} → sso:ReadOnlyAccess:{{SessionName}} [viewers]  (from sso: ReadOnlyAccess)`);
    expect(dry.stderr).toContain(`+ associate ${user('carol')} AmazonEKSViewPolicy at cluster scope  (from groups: oncall)`);

    const report = await runSync({ config: cfg, configDir: '.', commit: true });
    expect(report.committed).toBe(true);
    const entries = world.aws.eks.accessEntries(world.clusterName);
    expect(entries.find((e) => e.principalArn === `arn:aws:iam::${A}:role${SSO_PATH}${READ_ONLY}`)).toMatchObject({ username: 'sso:ReadOnlyAccess:{{SessionName}}', kubernetesGroups: ['viewers'] });
    expect(entries.find((e) => e.principalArn === user('engineering/bob'))).toMatchObject({ username: 'oncall:bob', kubernetesGroups: ['oncall', 'developers'] });
  });
});
