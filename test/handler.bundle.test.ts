/**
 * The artifact `cdk deploy` uploads (built by test/support/bundle.ts through the construct):
 * what it carries and how it answers each kind of event when invoked the way
 * Lambda does (a fresh node process) against the AWS and Kubernetes stand-ins.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { parseConfig } from '../lambda/config.js';
import { awsAuthMap } from './support/awsauth-fixtures.js';
import { buildBundle, invokeBundle, metric, type Bundle, type Invocation } from './support/bundle.js';
import { expectNoSecrets } from './support/e2e.js';
import { SCHEDULED_EVENT } from './support/events.js';
import { startEnvironment, type Environment } from './support/environment.js';
import { ESM_REQUIRE_BANNER } from '../infra/bundling.js';

const examples = join(import.meta.dirname, '../examples');

describe('the deployed bundle', () => {
  /** A large static mapping list, to show where the config travels. */
  const roles = Array.from({ length: 3_000 }, (_, i) => ({
    rolearn: `arn:aws:iam::111122223333:role/team-${i}`,
    username: `team-${i}`,
    groups: ['developers'],
  }));
  let bundle: Bundle;
  beforeAll(() => {
    bundle = buildBundle({
      config: {
        cluster: { name: 'bundle-test' },
        scanners: [
          { type: 'static', name: 'admins', static: { roles } },
          { type: 'file', name: 'platform', file: { path: 'cdk-mappings.yaml' } },
        ],
      },
      configDir: examples,
    });
    // Synthesizing a stack around a 3,000-role config takes tens of seconds on a busy 2-core machine.
  }, 180_000);
  afterAll(() => bundle.dispose());

  test('carries the validated config and every file its file scanners name', () => {
    const shipped = readFileSync(join(bundle.dir, bundle.environment['CONFIG_PATH'] ?? ''), 'utf8');
    const config = parseConfig(shipped, 'config.json');
    expect(config.cluster.name).toBe('bundle-test');
    const file = config.scanners[1];
    expect(file?.type === 'file' && file.file.path).toBe('files/1-cdk-mappings.yaml');
    expect(readFileSync(join(bundle.dir, 'files/1-cdk-mappings.yaml'), 'utf8')).toBe(
      readFileSync(join(examples, 'cdk-mappings.yaml'), 'utf8'),
    );
  });

  // Its size (no target now) and cold-start load are measured and reported by `npm run bench`.
  test('is one ES module with a source map, giving CommonJS dependencies a require()', () => {
    expect(existsSync(`${bundle.entry}.map`)).toBe(true);
    const code = readFileSync(bundle.entry, 'utf8');
    expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
    expect(code).toMatch(/\bexport\{[^}]+\}/);
  });

  test('a large static mapping list travels in the asset, not in the environment', () => {
    const shipped = parseConfig(readFileSync(join(bundle.dir, 'config.json'), 'utf8'), 'config.json');
    const scanner = shipped.scanners[0];
    expect(scanner?.type === 'static' && scanner.static.roles.length).toBe(3_000);
    expect(JSON.stringify(bundle.environment).length).toBeLessThan(1_024);
  });
});


/** The static scanner's role; the shipped file adds one role and one user. */
const BREAK_GLASS = 'arn:aws:iam::111122223333:role/BreakGlassAdmin';

describe('the deployed bundle, invoked', () => {
  let bundle: Bundle;
  let world: Environment;
  beforeAll(() => {
    bundle = buildBundle({
      config: {
        cluster: { name: 'demo' },
        scanners: [
          { type: 'static', name: 'break-glass', static: { roles: [{ rolearn: BREAK_GLASS, username: 'break-glass', groups: ['cluster-admins'] }] } },
          { type: 'file', name: 'platform', file: { path: 'cdk-mappings.yaml' } },
        ],
      },
      configDir: examples,
    });
  });
  afterAll(() => bundle.dispose());
  beforeEach(async () => {
    world = await startEnvironment();
  });
  afterEach(() => world.close());

  const invoke = (event: unknown, env: Record<string, string> = {}): Promise<Invocation> =>
    invokeBundle(bundle, event, { env: { ...world.env(), ...env } });
  const mapRoles = (): string => world.awsAuth()?.data?.['mapRoles'] ?? '';
  const changeLog = (run: Invocation) => run.lines.filter((line) => line['change'] !== undefined);
  /** The EMF line, for its dimensions; metric() reads its values. */
  const metricsLine = (run: Invocation) => run.lines.find((line) => line['_aws'] !== undefined) ?? {};

  test('a manual invoke {} is a dry run: it reports the planned change and writes nothing', async () => {
    const run = await invoke({});
    expect(run.error).toBeUndefined();
    expect(run.result).toMatchObject({ dryRun: true, committed: false, desired: { roles: 2, users: 1 } });
    const added = (run.result as { change: { added: { arn: string; source: string }[] } }).change.added;
    expect(added).toContainEqual(expect.objectContaining({ arn: BREAK_GLASS, source: 'break-glass' }));
    expect(world.kube.writes).toBe(0);
    expect(mapRoles()).not.toContain(BREAK_GLASS);
  });

  test('{"dryRun": true} is a dry run too', async () => {
    const run = await invoke({ dryRun: true });
    expect(run.result).toMatchObject({ dryRun: true, committed: false });
    expect(world.kube.writes).toBe(0);
  });

  test('a scheduled event commits, and the next one finds nothing to change', async () => {
    const first = await invoke(SCHEDULED_EVENT);
    expect(first.result).toMatchObject({ dryRun: false, committed: true });
    expect(world.kube.writes).toBe(1);
    expect(mapRoles()).toContain(BREAK_GLASS);
    expect(mapRoles()).toContain('eks-managed-nodegroup-NodeInstanceRole');

    const second = await invoke(SCHEDULED_EVENT);
    expect(second.result).toMatchObject({ committed: false, change: { added: [], removed: [], changed: [] } });
    expect(world.kube.writes).toBe(1);
  });

  test('{"dryRun": false} commits', async () => {
    const run = await invoke({ dryRun: false });
    expect(run.result).toMatchObject({ dryRun: false, committed: true });
    expect(mapRoles()).toContain(BREAK_GLASS);
  });

  test('DRY_RUN_ONLY=true keeps a scheduled event from writing', async () => {
    const run = await invoke(SCHEDULED_EVENT, { DRY_RUN_ONLY: 'true' });
    expect(run.result).toMatchObject({ dryRun: true, committed: false });
    expect(world.kube.writes).toBe(0);
  });

  test('an invalid payload fails the invocation and says what is accepted', async () => {
    const run = await invoke({ dryRun: 'no' });
    expect(run.error).toEqual({
      name: 'InvalidInvocationError',
      message: expect.stringMatching(/"dryRun" is "no", it must be true or false; expected .*\{"dryRun": false\} to commit/),
    });
    expect(metric(run, 'Failures')).toBe(1);
  });

  test('a cluster that cannot be described fails the invocation, logged and counted', async () => {
    world.aws.eks.deleteCluster('demo');
    const run = await invoke({});
    expect(run.error?.message).toMatch(/demo/);
    expect(run.lines).toContainEqual(expect.objectContaining({ level: 'ERROR', message: 'sync failed' }));
    expect(metric(run, 'Failures')).toBe(1);
    expect(metricsLine(run)).toMatchObject({ cluster: 'demo' });
  });

  test('a guard refusing the write fails the invocation and is counted as a refusal', async () => {
    await world.close();
    const broken = awsAuthMap({ mapRoles: '- rolearn: [unclosed\n' });
    world = await startEnvironment({ awsAuth: broken, kube: { admins: ['arn:aws:iam::111122223333:role/eks-auth-sync'] } });
    const run = await invoke(SCHEDULED_EVENT);
    expect(run.error?.name).toBe('BrokenAwsAuthError');
    expect(metric(run, 'Failures')).toBe(1);
    expect(metric(run, 'GuardRefusals')).toBe(1);
    expect(world.kube.writes).toBe(0);
    expect(mapRoles()).toBe('- rolearn: [unclosed\n');
  });

  test('one structured log entry carries the change, and no credential or token is ever printed', async () => {
    const run = await invoke(SCHEDULED_EVENT);
    expect(changeLog(run)).toHaveLength(1);
    expect(changeLog(run)[0]).toMatchObject({ level: 'INFO', message: 'aws-auth updated', cluster: 'demo', trigger: 'schedule' });
    expect(metric(run, 'EntriesAdded')).toBe(3);
    expect(metric(run, 'EntriesRemoved')).toBe(0);
    expect(metric(run, 'MappingsDesired')).toBe(3);
    expectNoSecrets(world, run);
  });
});
