/**
 * The handler's own behaviour, from its source with the core injected: which events commit,
 * what it returns, logs and measures, and how it fails. test/handler.bundle.test.ts runs the
 * bundle the stack deploys.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, test, vi } from 'vitest';
import type { PlannedEntry } from '../lambda/targets/awsauth/index.js';
import { parseConfig } from '../lambda/config.js';
import { ConfigError, EksAuthSyncError, GuardRefusalError, InvalidInvocationError } from '../lambda/errors.js';
import { createHandler, DEADLINE_SAFETY_MARGIN_MS, parseInvocation } from '../lambda/handler.js';
import { metricDimensions } from '../lambda/metric-names.js';
import type { RunOptions, SyncReport } from '../lambda/sync.js';
import { SCHEDULED_EVENT } from './support/events.js';
import { captureConsole, lambdaContext, printPowertoolsOutput, type Emitted } from './support/lambda-context.js';


describe('parseInvocation', () => {
  test.each([
    ['a scheduled EventBridge event commits', SCHEDULED_EVENT, false, { commit: true, trigger: 'schedule' }],
    ['an empty manual invoke is a dry run', {}, false, { commit: false, trigger: 'manual' }],
    ['an invoke without a payload is a dry run', null, false, { commit: false, trigger: 'manual' }],
    ['{"dryRun": true} is a dry run', { dryRun: true }, false, { commit: false, trigger: 'manual' }],
    ['{"dryRun": false} commits', { dryRun: false }, false, { commit: true, trigger: 'manual' }],
    ['DRY_RUN_ONLY turns a scheduled run into a dry run', SCHEDULED_EVENT, true, { commit: false, trigger: 'schedule' }],
    ['DRY_RUN_ONLY turns {"dryRun": false} into a dry run', { dryRun: false }, true, { commit: false, trigger: 'manual' }],
  ])('%s', (_name, event, dryRunOnly, expected) => {
    expect(parseInvocation(event, { dryRunOnly })).toEqual(expected);
  });

  test.each([
    ['"dryRun" that is not a boolean', { dryRun: 'no' }, /"dryRun" is "no", it must be true or false/],
    ['a misspelt field', { dryrun: false }, /unknown field\(s\) "dryrun"/],
    ['a string payload', 'commit', /Invalid invoke payload "commit"/],
    ['a list payload', [true], /Invalid invoke payload \[true\]/],
    ['an event from another source', { source: 'aws.s3', 'detail-type': 'Object Created' }, /unknown field/],
  ])('refuses %s and says what is accepted', (_name, event, message) => {
    const refusal = (): unknown => parseInvocation(event, { dryRunOnly: false });
    expect(refusal).toThrow(InvalidInvocationError);
    expect(refusal).toThrow(message);
    expect(refusal).toThrow(/expected a scheduled EventBridge event, \{\} or \{"dryRun": true\}.*\{"dryRun": false\} to commit/);
  });
});

const config = parseConfig('cluster: {name: prod}\nscanners: [{type: static, static: {}}]', 'test.yaml');
const entry = (arn: string, username: string): PlannedEntry => ({
  kind: 'role',
  arn,
  username,
  groups: ['developers'],
  source: 'static[0]',
});
const report: SyncReport = {
  committed: true,
  dryRun: false,
  created: false,
  desired: { roles: 3, users: 1 },
  mappings: { roles: [], users: [] },
  attempts: 1,
  accessEntries: null,
  targetErrors: {},
  change: {
    unchanged: 5,
    adopted: [],
    keptForeign: 2,
    added: [entry('arn:aws:iam::111122223333:role/new', 'new')],
    removed: [entry('arn:aws:iam::111122223333:role/gone', 'gone'), entry('arn:aws:iam::111122223333:role/old', 'old')],
    changed: [{ before: entry('arn:aws:iam::111122223333:role/c', 'c'), after: entry('arn:aws:iam::111122223333:role/c', 'c2') }],
    keptAgainstTags: [],
    selfEntryKept: null,
    ownershipRecordMissing: false,
  },
  warnings: [{ source: 'iam[1]', subject: 'arn:aws:iam::111122223333:role/bad', message: 'empty username tag' }],
};

/** A handler around `runSync`, with Powertools printing to the (spied) global console. */
function setup(runSync: (options: RunOptions) => Promise<SyncReport>, env: NodeJS.ProcessEnv = {}) {
  const emitted = captureConsole();
  let clock = 1_000_000;
  const run = vi.fn(runSync);
  const handler = createHandler({
    runSync: run,
    loadConfig: () => Promise.resolve({ config, configDir: '/var/task' }),
    env,
    now: () => (clock += 250),
    logger: new Logger({ serviceName: 'eks-auth-sync' }),
    metrics: new Metrics({ namespace: 'EksAuthSync', serviceName: 'eks-auth-sync' }),
  });
  return { handler, run, emitted };
}

function metricValues(emitted: Emitted): Record<string, unknown> {
  const [emf] = emitted.metrics;
  const names = ((emf?.['_aws'] as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]?.Metrics ?? []).map((m) => m.Name);
  return Object.fromEntries(names.map((name) => [name, emf?.[name]]));
}

describe('the handler', () => {
  printPowertoolsOutput();

  test('a scheduled run commits, with a deadline ahead of the Lambda timeout, and returns the change', async () => {
    const { handler, run } = setup(() => Promise.resolve(report));
    const response = await handler(SCHEDULED_EVENT, lambdaContext(120_000));
    expect(run).toHaveBeenCalledWith({
      config,
      configDir: '/var/task',
      commit: true,
      deadline: new Date(1_000_250 + 120_000 - DEADLINE_SAFETY_MARGIN_MS),
    });
    expect(response).toEqual({
      dryRun: false,
      committed: true,
      desired: { roles: 3, users: 1 },
      change: report.change,
      accessEntries: null,
      warnings: report.warnings,
    });
  });

  test('a manual invoke is passed on as a dry run', async () => {
    const { handler, run } = setup(() => Promise.resolve({ ...report, committed: false, dryRun: true }));
    const response = await handler({}, lambdaContext(60_000));
    expect(run.mock.calls[0]?.[0].commit).toBe(false);
    expect(response).toMatchObject({ dryRun: true, committed: false });
  });

  test('DRY_RUN_ONLY=true keeps even a scheduled run from committing', async () => {
    const { handler, run } = setup(() => Promise.resolve(report), { DRY_RUN_ONLY: 'true' });
    await handler(SCHEDULED_EVENT, lambdaContext(60_000));
    expect(run.mock.calls[0]?.[0].commit).toBe(false);
  });

  test('one log entry carries every added, removed and changed entry', async () => {
    const { handler, emitted } = setup(() => Promise.resolve(report));
    await handler(SCHEDULED_EVENT, lambdaContext(60_000));
    const changeLogs = emitted.logs.filter((log) => log['change'] !== undefined);
    expect(changeLogs).toHaveLength(1);
    expect(changeLogs[0]).toMatchObject({
      level: 'INFO',
      message: 'aws-auth updated',
      cluster: 'prod',
      trigger: 'schedule',
      change: report.change,
      warnings: report.warnings,
    });
  });

  test.each([
    ['a commit', { committed: true, dryRun: false }, 'aws-auth updated'],
    ['a dry run', { committed: false, dryRun: true }, 'dry run: aws-auth change planned'],
    ['a scheduled run with nothing to change', { committed: false, dryRun: false }, 'aws-auth already in step'],
  ])('the change log entry of %s says what happened', async (_name, outcome, message) => {
    const { handler, emitted } = setup(() => Promise.resolve({ ...report, ...outcome }));
    await handler(SCHEDULED_EVENT, lambdaContext(60_000));
    expect(emitted.logs.find((log) => log['change'] !== undefined)?.['message']).toBe(message);
  });

  test('metrics report desired mappings, each kind of change, the scheduled success and the duration, per cluster', async () => {
    const { handler, emitted } = setup(() => Promise.resolve(report));
    await handler(SCHEDULED_EVENT, lambdaContext(60_000));
    expect(emitted.metrics).toHaveLength(1);
    expect(emitted.metrics[0]?.['cluster']).toBe('prod');
    expect(JSON.stringify(emitted.metrics[0]?.['_aws'])).toContain('"Namespace":"EksAuthSync"');
    expect(metricValues(emitted)).toEqual({
      MappingsDesired: 4,
      EntriesAdded: 1,
      EntriesRemoved: 2,
      EntriesChanged: 1,
      ScheduledRunSucceeded: 1,
      AccessEntrySteps: 0,
      SelfEntryKept: 0,
      OwnershipRecordMissing: 0,
      ForeignEntriesKept: 0,
      DurationMs: 250,
    });
  });

  test('the metrics carry exactly the dimensions the stack\'s alarms watch', async () => {
    const { handler, emitted } = setup(() => Promise.resolve(report));
    await handler(SCHEDULED_EVENT, lambdaContext(60_000));
    const emf = emitted.metrics[0] ?? {};
    const [directive] = (emf['_aws'] as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics;
    const dimensions = Object.fromEntries((directive?.Dimensions[0] ?? []).map((name) => [name, emf[name]]));
    expect(dimensions).toEqual(metricDimensions('prod'));
  });

  test('a successful manual run is not counted as a scheduled success', async () => {
    const { handler, emitted } = setup(() => Promise.resolve(report));
    await handler({ dryRun: false }, lambdaContext(60_000));
    expect(metricValues(emitted)).not.toHaveProperty('ScheduledRunSucceeded');
  });

  test('an invalid mappings document fails the invocation and is counted as invalid config', async () => {
    const invalid = new ConfigError('ssm parameter /eks/prod/auth: roles[0].rolearn: expected an IAM role ARN');
    const { handler, emitted } = setup(() => Promise.reject(invalid));
    await expect(handler(SCHEDULED_EVENT, lambdaContext(60_000))).rejects.toBe(invalid);
    expect(metricValues(emitted)).toEqual({ Failures: 1, InvalidConfig: 1, DurationMs: 250 });
  });

  test('metrics count a kept self entry, a missing ownership record and foreign entries kept against tags', async () => {
    const node = entry('arn:aws:iam::111122223333:role/node', 'system:node:{{EC2PrivateDNSName}}');
    if (!report.change) throw new Error('the fixture report has a change');
    const change = { ...report.change, selfEntryKept: entry('arn:aws:iam::111122223333:role/deployer', 'deployer'), ownershipRecordMissing: true, keptAgainstTags: [node] };
    const { handler, emitted } = setup(() => Promise.resolve({ ...report, change }));
    await handler(SCHEDULED_EVENT, lambdaContext(60_000));
    expect(metricValues(emitted)).toMatchObject({ SelfEntryKept: 1, OwnershipRecordMissing: 1, ForeignEntriesKept: 1 });
  });

  test('a run that did not reach the cluster reports no change and zero changed entries', async () => {
    const { handler, emitted } = setup(() => Promise.resolve({ ...report, committed: false, dryRun: true, change: null }));
    const response = await handler({ dryRun: true });
    expect(response).toMatchObject({ change: null });
    expect(metricValues(emitted)).toMatchObject({ EntriesAdded: 0, EntriesRemoved: 0, EntriesChanged: 0 });
  });

  test('a guard refusal fails the invocation and is counted as a refusal and a failure', async () => {
    class TooManyRemovalsError extends GuardRefusalError {}
    const refusal = new TooManyRemovalsError('would remove 30 entries, more than sync.maxRemovals (20)');
    const { handler, emitted } = setup(() => Promise.reject(refusal));
    await expect(handler(SCHEDULED_EVENT, lambdaContext(60_000))).rejects.toBe(refusal);
    expect(metricValues(emitted)).toEqual({ Failures: 1, GuardRefusals: 1, DurationMs: 250 });
    expect(emitted.logs.filter((log) => log['level'] === 'ERROR')).toEqual([
      expect.objectContaining({ message: 'sync failed', error: expect.objectContaining({ message: refusal.message }) }),
    ]);
  });

  test('any other failure fails the invocation and is counted as a failure only', async () => {
    const failure = new EksAuthSyncError('scanner ssm[0]: parameter /eks/prod/auth not found');
    const { handler, emitted } = setup(() => Promise.reject(failure));
    await expect(handler(SCHEDULED_EVENT, lambdaContext(60_000))).rejects.toBe(failure);
    expect(metricValues(emitted)).toEqual({ Failures: 1, DurationMs: 250 });
  });

  test('an invalid payload fails before anything runs', async () => {
    const { handler, run, emitted } = setup(() => Promise.resolve(report));
    await expect(handler({ dryRun: 'no' })).rejects.toThrow(InvalidInvocationError);
    expect(run).not.toHaveBeenCalled();
    expect(metricValues(emitted)).toMatchObject({ Failures: 1 });
  });
});
