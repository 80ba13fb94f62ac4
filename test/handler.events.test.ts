/**
 * The handler with change events (lambda/events.ts): a relevant event commits like a scheduled
 * run once it has settled, an irrelevant or already-seen one returns at once with its reason and
 * no scan, and a burst delivered one invoke after another (reserved concurrency 1) makes one run.
 * The clock and the settle wait are injected; the events have AWS's shapes.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { parseConfig } from '../lambda/config.js';
import { SETTLE_MS } from '../lambda/events.js';
import { createHandler, parseInvocation } from '../lambda/handler.js';
import type { RunOptions, SyncReport } from '../lambda/sync.js';
import { iamCall, parameterStoreChange, tagRole } from './support/change-events.js';
import { buildBundle, invokeBundle, logLine, metric, type Bundle, type Invocation } from './support/bundle.js';
import { DEMO_CONFIG, startEnvironment, type Environment } from './support/environment.js';
import { SCHEDULED_EVENT } from './support/events.js';
import { captureConsole, lambdaContext, printPowertoolsOutput } from './support/lambda-context.js';

const T0 = '2026-03-04T05:00:00Z';
const T0_MS = Date.parse(T0);
const at = (seconds: number): string => new Date(T0_MS + seconds * 1_000).toISOString().replace('.000Z', 'Z');
const READ_TAG = 'eks/111122223333/prod/username';

const config = parseConfig(`
cluster: {name: prod, accountID: "111122223333"}
scanners:
  - {type: ssm, ssm: {path: /eks/prod/auth}}
  - {type: iam, iam: {}}
`, 'test.yaml');

const report: SyncReport = {
  committed: true,
  dryRun: false,
  created: false,
  desired: { roles: 2, users: 0 },
  mappings: { roles: [], users: [] },
  attempts: 1,
  accessEntries: null,
  targetErrors: {},
  change: {
    unchanged: 1,
    keptForeign: 0,
    added: [{ kind: 'role', arn: 'arn:aws:iam::111122223333:role/dev', username: 'dev', groups: ['developers'], source: 'iam[1]' }],
    removed: [],
    changed: [],
    adopted: [],
    keptAgainstTags: [],
    selfEntryKept: null,
    ownershipRecordMissing: false,
  },
  warnings: [],
};

/**
 * A handler whose clock starts at `start` and moves only when it waits or a run takes `runMs`;
 * `runSync` resolves with the report, or rejects when `fail` says so for that run.
 */
function setup(options: { start: number; env?: NodeJS.ProcessEnv; runMs?: number; fail?: (runIndex: number) => boolean }) {
  const { logs, metrics } = captureConsole();
  const clock = { now: options.start };
  const reads: { at: number; commit: boolean }[] = [];
  const waits: number[] = [];
  const runSync = vi.fn((run: RunOptions): Promise<SyncReport> => {
    const index = reads.length;
    reads.push({ at: clock.now, commit: run.commit });
    clock.now += options.runMs ?? 2_000;
    return options.fail?.(index) ? Promise.reject(new Error(`scanner iam[1]: IAM throttled the run ${index}`)) : Promise.resolve(report);
  });
  const handler = createHandler({
    runSync,
    loadConfig: () => Promise.resolve({ config, configDir: '/var/task' }),
    env: options.env ?? {},
    now: () => clock.now,
    sleep: (ms) => {
      waits.push(ms);
      clock.now += ms;
      return Promise.resolve();
    },
    logger: new Logger({ serviceName: 'eks-auth-sync' }),
    metrics: new Metrics({ namespace: 'EksAuthSync', serviceName: 'eks-auth-sync' }),
  });
  /** Delivers `event` at `deliveredAt` or when the previous invoke ended, whichever is later. */
  const deliver = async (event: unknown, deliveredAt: number, remainingMs = 120_000) => {
    clock.now = Math.max(clock.now, deliveredAt);
    try {
      return await handler(event, lambdaContext(remainingMs));
    } catch (error) {
      return error;
    }
  };
  return { handler, deliver, runSync, reads, waits, logs, metrics, clock };
}

describe('parseInvocation with change events', () => {
  test.each([
    ['a Parameter Store Change', parameterStoreChange('/eks/prod/auth', T0)],
    ['a CloudTrail TagRole', tagRole('dev', T0, { [READ_TAG]: 'dev' })],
  ])('%s commits, like a scheduled event', (_name, event) => {
    expect(parseInvocation(event, { dryRunOnly: false })).toMatchObject({ commit: true, trigger: 'event' });
  });

  test('DRY_RUN_ONLY turns an event-triggered run into a dry run', () => {
    expect(parseInvocation(parameterStoreChange('/eks/prod/auth', T0), { dryRunOnly: true })).toMatchObject({ commit: false, trigger: 'event' });
  });
});

describe('the handler, on change events', () => {
  printPowertoolsOutput();

  test('a change to the configured parameter commits once it has settled, and returns the change', async () => {
    const world = setup({ start: T0_MS + 2_000 });
    const response = await world.deliver(parameterStoreChange('/eks/prod/auth', T0), T0_MS + 2_000);
    expect(world.reads).toEqual([{ at: T0_MS + 1_000 + SETTLE_MS, commit: true }]);
    expect(world.waits).toEqual([SETTLE_MS - 1_000]);
    expect(response).toMatchObject({ committed: true, change: report.change });
    expect(world.logs).toContainEqual(expect.objectContaining({
      message: "event accepted: SSM parameter /eks/prod/auth (Update) is a configured ssm scanner's parameter",
      trigger: 'event',
      cluster: 'prod',
    }));
  });

  test('with a short timeout, the wait takes at most half the time left before the deadline', async () => {
    const world = setup({ start: T0_MS });
    // 24 s left: the deadline is 14 s away, so the run waits 7 s rather than the 11 s to settle.
    await world.deliver(parameterStoreChange('/eks/prod/auth', T0), T0_MS, 24_000);
    expect(world.waits).toEqual([7_000]);
  });

  test('an event that settled long ago runs at once', async () => {
    const world = setup({ start: T0_MS + 120_000 });
    await world.deliver(tagRole('dev', T0, { [READ_TAG]: 'dev' }), T0_MS + 120_000);
    expect(world.waits).toEqual([]);
    expect(world.reads).toEqual([{ at: T0_MS + 120_000, commit: true }]);
  });

  test.each([
    ['another parameter', parameterStoreChange('/eks/staging/auth', T0), /SSM parameter \/eks\/staging\/auth \(Update\) is not a configured ssm scanner's parameter/],
    ['an untagged role', tagRole('build-runner', T0, { team: 'ci' }), /IAM TagRole on role build-runner: no tag key an iam scanner reads/],
    ['a refused call', iamCall('UntagRole', T0, { roleName: 'dev', tagKeys: [READ_TAG] }, 'AccessDenied'), /IAM UntagRole on role dev failed, so nothing changed/],
  ])('%s is skipped at once with its reason, no scan and no wait', async (_name, event, reason) => {
    const world = setup({ start: T0_MS + 2_000 });
    const response = await world.deliver(event, T0_MS + 2_000);
    expect(world.runSync).not.toHaveBeenCalled();
    expect(world.waits).toEqual([]);
    expect(response).toEqual({ skipped: true, reason: expect.stringMatching(reason) });
    expect(world.logs).toContainEqual(expect.objectContaining({ level: 'INFO', message: expect.stringMatching(/^event skipped: /), trigger: 'event' }));
    expect(JSON.stringify(world.metrics)).toContain('"EventsSkipped"');
  });

  test('DRY_RUN_ONLY: a relevant event runs as a dry run', async () => {
    const world = setup({ start: T0_MS + 60_000, env: { DRY_RUN_ONLY: 'true' } });
    await world.deliver(parameterStoreChange('/eks/prod/auth', T0, 'Delete'), T0_MS + 60_000);
    expect(world.reads).toEqual([{ at: T0_MS + 60_000, commit: false }]);
  });

  test('a burst of thirty tag writes, delivered one invoke after another, makes one run after the burst settled', async () => {
    // Terraform tags thirty roles within five seconds; CloudTrail delivers each about 40 s later.
    const world = setup({ start: T0_MS });
    for (let i = 0; i < 30; i++) {
      await world.deliver(tagRole(`team-${i}`, at(Math.floor(i / 6)), { [READ_TAG]: `team-${i}` }), T0_MS + 40_000 + i * 200);
    }
    expect(world.reads).toEqual([{ at: T0_MS + 40_000, commit: true }]);
    const skipped = world.logs.filter((log) => String(log['message']).startsWith('event skipped: '));
    expect(skipped).toHaveLength(29);
    expect(skipped[0]?.['message']).toMatch(/already saw it$/);
  });

  test('after a failed run, the next event of the burst runs again', async () => {
    const world = setup({ start: T0_MS, fail: (run) => run === 0 });
    const first = await world.deliver(tagRole('a', T0, { [READ_TAG]: 'a' }), T0_MS + 40_000);
    await world.deliver(tagRole('b', T0, { [READ_TAG]: 'b' }), T0_MS + 40_100);
    await world.deliver(tagRole('c', T0, { [READ_TAG]: 'c' }), T0_MS + 40_200);
    expect(first).toBeInstanceOf(Error);
    // The second run waits a settle period after the first began, and covers the third event.
    expect(world.reads.map((r) => r.at)).toEqual([T0_MS + 40_000, T0_MS + 40_000 + SETTLE_MS]);
  });

  test('a scheduled run that started after the event settled makes the event\'s own run unnecessary', async () => {
    const world = setup({ start: T0_MS + 30_000 });
    await world.deliver(SCHEDULED_EVENT, T0_MS + 30_000);
    const response = await world.deliver(tagRole('dev', T0, { [READ_TAG]: 'dev' }), T0_MS + 45_000);
    expect(world.reads).toHaveLength(1);
    expect(response).toMatchObject({ skipped: true, reason: expect.stringMatching(/already saw it/) });
  });

  test('a manual invoke is still a dry run, and a dry run does not stand in for a committing event run', async () => {
    const world = setup({ start: T0_MS + 30_000 });
    await world.deliver({}, T0_MS + 30_000);
    await world.deliver(tagRole('dev', T0, { [READ_TAG]: 'dev' }), T0_MS + 45_000);
    expect(world.reads).toEqual([{ at: T0_MS + 30_000, commit: false }, { at: T0_MS + 45_000, commit: true }]);
  });
});

/**
 * The bundle the stack deploys, invoked as Lambda does (a fresh node process) against the AWS and
 * Kubernetes stand-ins: the events' real shapes go through the whole function. Each event is a
 * minute old, so it has settled and no wait happens.
 */
describe('the deployed bundle, on change events', { timeout: 120_000 }, () => {
  let bundle: Bundle;
  let world: Environment;
  // Bundling takes a few seconds idle and much longer on busy cores.
  beforeAll(() => {
    bundle = buildBundle({ config: DEMO_CONFIG });
  }, 180_000);
  afterAll(() => bundle.dispose());
  beforeEach(async () => {
    world = await startEnvironment();
  });
  afterEach(() => world.close());

  const aMinuteAgo = (): string => new Date(Math.floor(Date.now() / 1_000) * 1_000 - 60_000).toISOString().replace('.000Z', 'Z');
  const invoke = (event: unknown): Promise<Invocation> => invokeBundle(bundle, event, { env: world.env() });

  test('a change to the configured parameter commits aws-auth', async () => {
    const before = world.awsAuth()?.data?.['mapRoles'];
    const run = await invoke(parameterStoreChange('/eks/demo/auth', aMinuteAgo()));
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ dryRun: false, committed: true });
    expect(world.awsAuth()?.data?.['mapRoles']).not.toBe(before);
    expect(logLine(run, "event accepted: SSM parameter /eks/demo/auth (Update) is a configured ssm scanner's parameter")).toMatchObject({ trigger: 'event' });
  });

  test('a tag written for this cluster commits; a tag for another cluster is skipped and nothing is written', async () => {
    const before = world.awsAuth();
    const skipped = await invoke(tagRole('dev', aMinuteAgo(), { [`eks/${world.accountId}/staging/username`]: 'dev' }));
    expect(skipped.result).toEqual({ skipped: true, reason: expect.stringMatching(/^IAM TagRole on role dev: no tag key an iam scanner reads/) });
    expect(world.awsAuth()).toEqual(before);
    expect(metric(skipped, 'EventsSkipped')).toBe(1);
    const run = await invoke(tagRole('dev', aMinuteAgo(), { [`eks/${world.accountId}/demo/username`]: 'dev' }));
    expect(run.result).toMatchObject({ committed: true });
  });
});
