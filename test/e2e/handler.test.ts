/**
 * The deployed handler bundle against the stand-ins: every guard refusal fails the invoke with
 * aws-auth unchanged and shows in the logs and metrics; the self-lockout guard keeps the tool's
 * own entry and applies the rest; a concurrent editor's change survives;
 * a bad SSM value fails the run naming the scanner. test/handler.bundle.test.ts covers the
 * triggers (schedule, manual, dry-run flags) and the broken-aws-auth refusal.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Invocation } from '../support/bundle.js';
import { DEMO_CONFIG, expectNoSecrets, logLine, metric, startE2eWorld, type E2eWorld } from '../support/e2e.js';
import { editBeforeNextWrite } from '../support/environment.js';
import { SCHEDULED_EVENT } from '../support/events.js';

const A = '111122223333';
let world: E2eWorld;

beforeAll(async () => {
  world = await startE2eWorld();
});
afterAll(async () => {
  await world?.close();
});
beforeEach(() => {
  world.reset();
});

async function invoke(event: unknown, config?: unknown, files?: Record<string, string>): Promise<Invocation> {
  const run = await world.invoke(event, config === undefined ? {} : { config: world.writeConfig(config, files) });
  expectNoSecrets(world.environment, run);
  return run;
}

async function commitDemo(): Promise<void> {
  const run = await invoke(SCHEDULED_EVENT);
  expect(run.result).toMatchObject({ committed: true });
}

const onlySsm = (path: string, sync: Record<string, unknown> = {}) => ({
  cluster: DEMO_CONFIG.cluster,
  sync,
  scanners: [{ type: 'ssm', name: 'ssm-only', ssm: { path } }],
});

function manyRoles(count: number): string {
  const roles = Array.from({ length: count }, (_, i) => ({
    rolearn: `arn:aws:iam::${A}:role/team-${String(i).padStart(5, '0')}-with-a-long-descriptive-name`,
    username: `team-${i}-user`,
    groups: ['developers', 'viewers'],
  }));
  return JSON.stringify({ roles });
}

interface GuardCase {
  guard: string;
  /** Brings aws-auth and the sources to where the guard must refuse; returns the invoke's config. */
  arrange: () => Promise<{ config: unknown; files?: Record<string, string> }>;
  message: RegExp;
}

const GUARDS: GuardCase[] = [
  {
    guard: 'EmptySourcesGuardError',
    arrange: async () => {
      await commitDemo();
      world.environment.aws.ssm.putParameter({ name: '/eks/emptied', type: 'String', value: 'roles: []\nusers: []\n' });
      return { config: onlySsm('/eks/emptied') };
    },
    message: /sources produced no mappings.*sync\.allowEmpty/,
  },
  {
    guard: 'MaxRemovalsGuardError',
    arrange: async () => {
      await commitDemo();
      return { config: onlySsm('/eks/demo/auth', { maxRemovals: 2 }) };
    },
    message: /more than the limit of 2 per run.*sync\.maxRemovals/,
  },
  {
    guard: 'ObjectTooLargeGuardError',
    arrange: async () => ({
      config: { cluster: DEMO_CONFIG.cluster, scanners: [{ type: 'file', name: 'huge', file: { path: 'roles.json' } }] },
      files: { 'roles.json': manyRoles(12_000) },
    }),
    message: /over the Kubernetes limit/,
  },
];

describe('a guard refusing the write, through the bundled handler', () => {
  it.each(GUARDS)('$guard fails the scheduled invoke, leaves aws-auth as it was, and is logged and counted as a refusal', async ({ guard, arrange, message }) => {
    const { config, files } = await arrange();
    const before = world.awsAuth();
    const writes = world.environment.kube.writes;

    const run = await invoke(SCHEDULED_EVENT, config, files);

    expect(run.error?.name).toBe(guard);
    expect(run.error?.message).toMatch(message);
    expect(world.awsAuth()).toEqual(before);
    expect(world.environment.kube.writes).toBe(writes);
    expect(logLine(run, 'sync failed')).toMatchObject({ level: 'ERROR', error: { name: guard } });
    expect(metric(run, 'GuardRefusals')).toBe(1);
    expect(metric(run, 'Failures')).toBe(1);
  });
});

describe('the self-lockout guard, through the bundled handler', () => {
  it('keeps its own entry when a replace would remove it, applies the rest, and reports it in the warnings and the SelfEntryKept metric', async () => {
    const self = `arn:aws:iam::${A}:role/eks-auth-sync`;
    const run = await invoke(SCHEDULED_EVENT, { ...DEMO_CONFIG, sync: { mode: 'replace', maxRemovals: 100 } });
    expect(run.result).toMatchObject({ committed: true, warnings: expect.arrayContaining([expect.objectContaining({ source: 'self-lockout guard', subject: self })]) });
    const roles = (parse(world.awsAuth()?.data?.['mapRoles'] ?? '[]') as { rolearn: string }[]).map((r) => r.rolearn);
    expect(roles).toContain(self);
    expect(roles).not.toContain(`arn:aws:iam::${A}:role/eks-managed-nodegroup-NodeInstanceRole`);
    expect(metric(run, 'SelfEntryKept')).toBe(1);
    expect(metric(run, 'GuardRefusals')).toBeUndefined();
  });
});

describe('a concurrent editor, through the bundled handler', () => {
  it('keeps both changes when someone edits aws-auth between the read and the write', async () => {
    const colleague = `arn:aws:iam::${A}:user/colleague`;
    editBeforeNextWrite(world.environment.kube, colleague);

    const run = await invoke(SCHEDULED_EVENT);

    expect(run.result).toMatchObject({ committed: true });
    const users = (parse(world.awsAuth()?.data?.['mapUsers'] ?? '[]') as { userarn: string }[]).map((u) => u.userarn);
    expect(users).toEqual(expect.arrayContaining([colleague, `arn:aws:iam::${A}:user/alice`]));
  });
});

describe('a bad SSM value, through the bundled handler', () => {
  const ssm = () => world.environment.aws.ssm;

  it.each([
    { problem: 'base64 of broken YAML', value: Buffer.from('roles: [unclosed\n').toString('base64'), message: /scanner "ssm-param".*\/eks\/demo\/auth \(base64-decoded\)/s },
    { problem: 'neither base64 nor YAML', value: '%%% {[not yaml', message: /scanner "ssm-param".*\/eks\/demo\/auth \(not base64/s },
    { problem: 'valid YAML of the wrong shape', value: 'roles: {rolearn: 1}\n', message: /scanner "ssm-param".*roles/s },
  ])('$problem fails the scheduled invoke naming the scanner and the parameter, aws-auth untouched', async ({ value, message }) => {
    ssm().putParameter({ name: '/eks/demo/auth', type: 'SecureString', value });
    const run = await invoke(SCHEDULED_EVENT);
    expect(run.error?.message).toMatch(message);
    expect(world.awsAuth()).toEqual(world.seed);
    expect(metric(run, 'Failures')).toBe(1);
    expect(metric(run, 'GuardRefusals')).toBeUndefined();
  });

  it('a missing parameter fails the scheduled invoke naming the scanner and the parameter, aws-auth untouched', async () => {
    ssm().deleteParameter('/eks/demo/auth');
    const run = await invoke(SCHEDULED_EVENT);
    expect(run.error?.name).toBe('ScannerError');
    expect(run.error?.message).toMatch(/scanner "ssm-param": SSM parameter \/eks\/demo\/auth: does not exist/);
    expect(world.awsAuth()).toEqual(world.seed);
  });
});
