/**
 * The deployed handler bundle on a cluster in API mode: it syncs EKS access entries over the EKS
 * API, never reaching the Kubernetes API server, and its response, logs and metrics name the target.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { OWNED_TAG } from '../../lambda/targets/access-entries/index.js';
import { clusterCreatorEntry } from '../support/aws-standins/index.js';
import { DEMO_CONFIG, expectNoSecrets, logLine, metric, startE2eWorld, type E2eWorld } from '../support/e2e.js';
import { SCHEDULED_EVENT } from '../support/events.js';

const A = '111122223333';
const CI = `arn:aws:iam::${A}:role/ci/github-actions-deploy`;
const CONFIG = {
  cluster: DEMO_CONFIG.cluster,
  scanners: [{ type: 'static', name: 'platform', static: { roles: [{ rolearn: `arn:aws:iam::${A}:role/github-actions-deploy`, username: 'ci-deployer', groups: ['deployers'] }] } }],
};
let world: E2eWorld;

beforeAll(async () => {
  world = await startE2eWorld(CONFIG, { authenticationMode: 'API', accessEntries: [clusterCreatorEntry(`arn:aws:iam::${A}:role/intern-wants-admin`)] });
});
afterAll(async () => {
  await world?.close();
});

it('a scheduled run on an API cluster creates the access entries, then finds them in step, without the Kubernetes API', async () => {
  // Any request to the API server would be refused: the access-entries target makes none.
  world.environment.kube.failNext(10, 403);
  const awsAuthBefore = world.awsAuth();
  const first = await world.invoke(SCHEDULED_EVENT);
  expectNoSecrets(world.environment, first);
  expect(first.error).toBeUndefined();
  expect(first.result).toMatchObject({
    committed: true,
    target: { targets: ['accessEntries'], reason: expect.stringMatching(/authentication mode API/) },
    change: null,
    accessEntries: { applied: 1, committed: true, steps: [expect.objectContaining({ action: 'create', principalArn: CI, source: 'platform' })] },
  });
  expect(logLine(first, 'access entries updated')).toBeDefined();
  expect(metric(first, 'AccessEntrySteps')).toBe(1);
  const created = world.environment.aws.eks.accessEntries(world.environment.clusterName).find((e) => e.principalArn === CI);
  expect(created).toMatchObject({ username: 'ci-deployer', kubernetesGroups: ['deployers'], tags: { [OWNED_TAG.key]: OWNED_TAG.value } });

  const second = await world.invoke(SCHEDULED_EVENT);
  expect(second.result).toMatchObject({ committed: false, accessEntries: { steps: [], applied: 0 } });
  expect(logLine(second, 'access entries already in step')).toBeDefined();
  expect(metric(second, 'ScheduledRunSucceeded')).toBe(1);
  expect(world.awsAuth()).toEqual(awsAuthBefore);
});
