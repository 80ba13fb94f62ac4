/**
 * The handler with a `clusters:` config, its core running for real against the stand-ins: the
 * response has every cluster's outcome, each cluster's metrics carry its `cluster` dimension, and
 * the fleet-wide ones (the alarms') carry none.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { parseAnyConfig } from '../lambda/config.js';
import { FleetFailedError } from '../lambda/errors.js';
import { createHandler } from '../lambda/handler.js';
import { METRIC_NAMESPACE, METRIC_SERVICE } from '../lambda/metric-names.js';
import type { NotificationPayload, Notifier } from '../lambda/notify.js';
import { runSync } from '../lambda/sync.js';
import type { Environment } from './support/environment.js';
import { startFleetWorld } from './support/fleet-world.js';
import { SCHEDULED_EVENT } from './support/events.js';

const A = '111122223333';
let world: Environment;
let stop: () => Promise<void>;

beforeEach(async () => {
  ({ world, stop } = await startFleetWorld(['staging']));
  vi.stubEnv('POWERTOOLS_DEV', 'true');
  vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
});
afterEach(async () => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
  await stop();
});

/** One metric as an EMF record published it: its value and dimensions. */
interface Published { value: unknown; dimensions: Record<string, unknown> }

/** The handler over `clusters`, with what it logs and publishes captured from the console. */
function fleetHandler(clusters: unknown[], notify?: Notifier) {
  const config = parseAnyConfig(JSON.stringify({ clusters, sync: { target: 'accessEntries' }, scanners: [{ type: 'iam', iam: {} }] }), 'fleet.json');
  const records: Record<string, unknown>[] = [];
  const capture = (line?: unknown): void => void records.push(JSON.parse(String(line)) as Record<string, unknown>);
  vi.spyOn(console, 'log').mockImplementation(capture);
  vi.spyOn(console, 'info').mockImplementation(capture);
  vi.spyOn(console, 'warn').mockImplementation(capture);
  vi.spyOn(console, 'error').mockImplementation(capture);
  const handler = createHandler({
    runSync: (options) => runSync({ ...options, accessEntryNotFoundRetry: { attempts: 5, delayMs: 10 } }),
    loadConfig: () => Promise.resolve({ config, configDir: '.' }),
    env: {},
    now: () => Date.now(),
    logger: new Logger({ serviceName: METRIC_SERVICE }),
    metrics: new Metrics({ namespace: METRIC_NAMESPACE, serviceName: METRIC_SERVICE }),
    notify,
  });
  const published = (name: string): Published[] => records.filter((r) => r['_aws'] !== undefined && name in r).map((r) => {
    const [directive] = (r['_aws'] as { CloudWatchMetrics: { Dimensions: string[][] }[] }).CloudWatchMetrics;
    const keys = directive?.Dimensions[0] ?? [];
    return { value: r[name], dimensions: Object.fromEntries(keys.map((k) => [k, r[k]])) };
  });
  const logs = () => records.filter((r) => r['_aws'] === undefined);
  return { handler, published, logs };
}
const region = 'eu-west-1';

describe('the handler with a clusters: config', () => {
  it('returns each cluster\'s outcome and publishes its metrics under its cluster dimension, and the run\'s success fleet-wide', async () => {
    const { handler, published } = fleetHandler([{ name: 'demo', region }, { name: 'staging', region }]);
    const response = await handler(SCHEDULED_EVENT);
    expect(response).toMatchObject({
      dryRun: false,
      committed: true,
      failed: [],
      clusters: [
        { cluster: 'demo', outcome: 'succeeded', response: { committed: true, target: { targets: ['accessEntries'] } } },
        { cluster: 'staging', outcome: 'succeeded', response: { committed: true } },
      ],
    });
    const steps = published('AccessEntrySteps');
    expect(steps.map((m) => m.dimensions)).toEqual([{ service: METRIC_SERVICE, cluster: 'demo' }, { service: METRIC_SERVICE, cluster: 'staging' }]);
    expect(steps.every((m) => typeof m.value === 'number' && m.value > 0)).toBe(true);
    for (const name of ['SelfEntryKept', 'ForeignEntriesKept', 'OwnershipRecordMissing', 'GuardRefusals']) {
      expect(published(name).map((m) => m.dimensions['cluster'])).toEqual(['demo', 'staging']);
    }
    // The no-success alarm watches one fleet-wide series, without a cluster dimension.
    expect(published('ScheduledRunSucceeded')).toEqual([{ value: 1, dimensions: { service: METRIC_SERVICE } }]);
  });

  it('fails the invoke when one cluster fails, after the others ran, logging every outcome and counting the refusal fleet-wide', async () => {
    const qa = (roles: unknown[]) => ({ name: 'staging', region, scanners: [{ type: 'static', static: { roles } }] });
    await fleetHandler([qa([{ rolearn: `arn:aws:iam::${A}:role/github-actions-deploy`, username: 'ci', groups: ['deployers'] }])]).handler({ dryRun: false });
    vi.restoreAllMocks();

    const { handler, published, logs } = fleetHandler([{ name: 'demo', region }, qa([])]);
    await expect(handler(SCHEDULED_EVENT)).rejects.toBeInstanceOf(FleetFailedError);
    expect(published('ScheduledRunSucceeded')).toEqual([]);
    expect(published('GuardRefusals')).toEqual([
      { value: 0, dimensions: { service: METRIC_SERVICE, cluster: 'demo' } },
      { value: 1, dimensions: { service: METRIC_SERVICE, cluster: 'staging' } },
      { value: 1, dimensions: { service: METRIC_SERVICE } },
    ]);
    const outcome = logs().find((l) => String(l['message']).includes('clusters failed; the outcome of each'));
    expect(outcome).toMatchObject({
      message: '1 of 2 clusters failed; the outcome of each',
      failed: ['staging'],
      clusters: [{ cluster: 'demo', outcome: 'succeeded', response: { committed: true } }, { cluster: 'staging', outcome: 'failed' }],
    });
    expect(world.aws.eks.accessEntries('demo').length).toBeGreaterThan(1);
  });

  it('publishes each cluster\'s notification on a committing run, naming its cluster: one its changes, a refused one its refusal; a dry run publishes none', async () => {
    const sent: NotificationPayload[] = [];
    const notify: Notifier = (payload) => Promise.resolve(void sent.push(payload)).then(() => []);
    const qa = (roles: unknown[]) => ({ name: 'staging', region, scanners: [{ type: 'static', static: { roles } }] });
    await fleetHandler([qa([{ rolearn: `arn:aws:iam::${A}:role/github-actions-deploy`, username: 'ci', groups: ['deployers'] }])]).handler({ dryRun: false });
    vi.restoreAllMocks();

    // A dry run plans the same refusal, and publishes nothing.
    await expect(fleetHandler([{ name: 'demo', region }, qa([])], notify).handler({})).rejects.toBeInstanceOf(FleetFailedError);
    expect(sent).toEqual([]);
    vi.restoreAllMocks();

    await expect(fleetHandler([{ name: 'demo', region }, qa([])], notify).handler(SCHEDULED_EVENT)).rejects.toBeInstanceOf(FleetFailedError);
    expect(sent.map((p) => [p.cluster.name, p.detailType, p.trigger])).toEqual([['demo', 'Access Changed', 'schedule'], ['staging', 'Sync Refused', 'schedule']]);
    expect(sent[0]?.changes.length).toBeGreaterThan(0);
    expect(sent[1]?.refusals).toEqual([expect.objectContaining({ target: 'access entries' })]);
  });
});
