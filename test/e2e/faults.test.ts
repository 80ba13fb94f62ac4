/**
 * The fault matrix, through the deployed handler bundle on a schedule (a committing run). For
 * every fault: what the run does, and that aws-auth is then either exactly what it was or
 * exactly the complete new content, never anything in between.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEADLINE_SAFETY_MARGIN_MS, type HandlerResponse } from '../../lambda/handler.js';
import { ServiceError, type StandinServer } from '../support/aws-standins/index.js';
import type { Invocation } from '../support/bundle.js';
import { expectNoSecrets, onKubeRequest, startE2eWorld, type AwsAuthContent, type E2eWorld } from '../support/e2e.js';
import { SCHEDULED_EVENT } from '../support/events.js';

let world: E2eWorld;
/** aws-auth after a clean scheduled run from the seed: the only other content a run may leave. */
let complete: AwsAuthContent;

beforeAll(async () => {
  world = await startE2eWorld();
  world.reset();
  const clean = await world.invoke(SCHEDULED_EVENT);
  expect(clean.error).toBeUndefined();
  const written = world.awsAuth();
  if (!written) throw new Error('the clean run left no aws-auth');
  complete = written;
  expect(complete.data).not.toEqual(world.seed.data);
});
afterAll(async () => {
  await world?.close();
});
beforeEach(() => {
  world.reset();
});

async function scheduledRun(opts: { remainingMs?: number } = {}): Promise<Invocation> {
  const invocation = await world.invoke(SCHEDULED_EVENT, opts);
  expectNoSecrets(world.environment, invocation);
  return invocation;
}

function expectUnchanged(): void {
  expect(world.awsAuth()).toEqual(world.seed);
}

function expectComplete(): void {
  expect(world.awsAuth()).toEqual(complete);
}

function expectCommitted(invocation: Invocation): void {
  expect(invocation.error).toBeUndefined();
  expect(invocation.result).toMatchObject({ committed: true });
  expectComplete();
}

function expectFailed(invocation: Invocation, name: string, message: RegExp): void {
  expect(invocation.error?.name).toBe(name);
  expect(invocation.error?.message).toMatch(message);
}

const server = (service: 'iam' | 'sts' | 'ssm' | 'eks'): StandinServer => world.environment.aws[service];

/** The AWS step each service serves in a run, as the failure names it. */
const AWS_STEPS = [
  { service: 'iam', step: /scanner "iam-tags"/ },
  { service: 'ssm', step: /scanner "ssm-param"/ },
  // The first STS call is the IAM scanner asking for the account.
  { service: 'sts', step: /scanner "iam-tags"/ },
  { service: 'eks', step: /DescribeCluster for EKS cluster "demo"/ },
] as const;

/** A run whose deadline comes a few seconds after it starts, so a burst that never ends is cut off quickly. */
const SHORT_RUN_MS = DEADLINE_SAFETY_MARGIN_MS + 4_000;

describe('a burst of IAM throttling', () => {
  it('of three in a row, which the SDK default of three attempts would not survive, is ridden out and the run commits', async () => {
    server('iam').throttleNext(3);
    expectCommitted(await scheduledRun());
    expect(server('iam').throttled()).toEqual({ GetAccountAuthorizationDetails: 3 });
  }, 60_000);
});

describe.each(AWS_STEPS)('$service faults', ({ service, step }) => {
  it('rides out a short throttling storm and commits', async () => {
    server(service).throttleNext(2);
    const run = await scheduledRun();
    expectCommitted(run);
    expect(Object.values(server(service).throttled()).reduce((a, b) => a + b, 0)).toBe(2);
  });

  it('rides out 5xx errors and commits', async () => {
    server(service).failNext(2);
    expectCommitted(await scheduledRun());
  });

  it('rides out reset connections and commits', async () => {
    world.proxy[service].resetNext(2);
    expectCommitted(await scheduledRun());
  });

  it('fails naming the step and the throttled call when throttling outlasts the deadline, leaving aws-auth as it was', async () => {
    server(service).throttleNext(1_000);
    const run = await scheduledRun({ remainingMs: SHORT_RUN_MS });
    expect(run.error?.message).toMatch(step);
    expect(run.error?.message).toMatch(new RegExp(`${service}:\\w+ was throttled through \\d+ attempts .*a further retry would end after the run's deadline`));
    expectUnchanged();
  });

  it('fails naming the step when 5xx errors outlast the deadline, leaving aws-auth as it was', async () => {
    server(service).failNext(1_000);
    const run = await scheduledRun({ remainingMs: SHORT_RUN_MS });
    expect(run.error?.message).toMatch(step);
    expectUnchanged();
  });
});

describe('STS GetCallerIdentity (asked once per run: the IAM scanner\'s account and the self-lockout guard\'s identity)', () => {
  const failConnectCalls = (count: number, error: () => ServiceError) =>
    server('sts').intercept(({ action, index }) => (action === 'GetCallerIdentity' && index < count ? error() : undefined));
  const internal = () => new ServiceError(500, 'InternalFailure', 'An internal error occurred.');

  it('rides out 5xx errors and commits', async () => {
    failConnectCalls(2, internal);
    expectCommitted(await scheduledRun());
  });

  it('fails naming the step when 5xx errors outlast the deadline, leaving aws-auth as it was', async () => {
    failConnectCalls(1_000, internal);
    const run = await scheduledRun({ remainingMs: SHORT_RUN_MS });
    expect(run.error?.message).toMatch(/GetCallerIdentity/);
    expectUnchanged();
  });
});

describe('AWS credentials', () => {
  it('that expired before DescribeCluster fail the run with a credentials error, aws-auth untouched', async () => {
    server('eks').intercept(() => new ServiceError(403, 'ExpiredTokenException', 'The security token included in the request is expired'));
    const run = await scheduledRun();
    expectFailed(run, 'AwsCredentialsError', /refresh them/);
    expectUnchanged();
  });

  it('that expire between the read and the write: the fresh token is still refused, the run fails and writes nothing', async () => {
    const writes = world.environment.kube.writes;
    const { accessKeyId } = world.environment.aws.credential;
    onKubeRequest(world, 1, () => world.environment.kube.expire(accessKeyId));
    try {
      const run = await scheduledRun();
      expectFailed(run, 'KubeUnauthorizedError', /credentials have not expired/);
      expect(run.error?.message).toContain('assumed-role/eks-auth-sync');
      expect(world.environment.kube.writes).toBe(writes);
      expectUnchanged();
    } finally {
      const { secretAccessKey, sessionToken, arn } = world.environment.aws.credential;
      world.environment.kube.addIdentity(accessKeyId, { secretAccessKey, arn, ...(sessionToken === undefined ? {} : { sessionToken }) });
    }
  });
});

describe('Kubernetes faults', () => {
  const kube = () => world.environment.kube;

  it('rides out 5xx on the read and commits', async () => {
    kube().failNext(2, 503);
    expectCommitted(await scheduledRun());
  });

  it('fails when the read keeps failing, naming the object, aws-auth untouched', async () => {
    // As many failures as the client makes attempts, so none is left over for the next test.
    const logged = kube().log.length;
    kube().failNext(4, 500);
    const run = await scheduledRun();
    expectFailed(run, 'KubeServerError', /configmaps\/aws-auth in namespace kube-system/);
    expect(kube().log.slice(logged).map((r) => `${r.method} ${r.status}`)).toEqual(Array(4).fill('GET 500'));
    expectUnchanged();
  });

  it('rides out a reset connection on the read and commits', async () => {
    world.proxy.kube.resetNext(1);
    expectCommitted(await scheduledRun());
  });

  it('rides out a read that times out and commits', async () => {
    world.proxy.kube.stallNext(1);
    expectCommitted(await scheduledRun());
  }, 60_000);

  it('retries a write refused with 429 and commits', async () => {
    onKubeRequest(world, 1, () => kube().failNext(1, 429));
    expectCommitted(await scheduledRun());
  });

  it('fails on a 5xx to the write that was not applied, leaving aws-auth as it was', async () => {
    onKubeRequest(world, 1, () => kube().failNext(1, 500));
    const run = await scheduledRun();
    expectFailed(run, 'KubeServerError', /may or may not have been applied/);
    expectUnchanged();
  });

  it('fails on a 5xx to a write that landed, leaves the complete new aws-auth, and the next run has nothing to do', async () => {
    onKubeRequest(world, 1, () => kube().failNext(1, 500, { afterApply: true }));
    const run = await scheduledRun();
    expectFailed(run, 'KubeServerError', /may or may not have been applied/);
    expectComplete();

    const writes = kube().writes;
    const next = await scheduledRun();
    expect(next.result).toMatchObject({ committed: false, change: { added: [], removed: [], changed: [] } });
    expect(kube().writes).toBe(writes);
  });

  it.each([
    ['before the write was applied', false],
    ['after the write was applied', true],
  ])('survives a connection reset on the write %s: aws-auth is the old or the complete new content, and the next run converges', async (_when, afterApply) => {
    onKubeRequest(world, 1, () => kube().failNext(1, 0, { reset: true, afterApply }));
    const run = await scheduledRun();
    if (run.error) {
      expect(run.error.name).toMatch(/^Kube(Connection|Server)Error$/);
      expect(world.awsAuth()).toEqual(afterApply ? complete : world.seed);
    } else {
      // Retried on the reused connection: either its write landed now, or the retry met the
      // landed write as a conflict and, reading it back, recognised it. Either way the report
      // says what this run changed.
      expectCommitted(run);
      const response = run.result as HandlerResponse;
      expect(response.change?.added.length).toBeGreaterThan(0);
      const lost = response.warnings.filter((w) => /answer to the write was lost/.test(w.message));
      expect(lost).toHaveLength(afterApply ? 1 : 0);
    }
    const next = await scheduledRun();
    expect(next.error).toBeUndefined();
    expectComplete();
    const writes = kube().writes;
    const again = await scheduledRun();
    expect(again.result).toMatchObject({ committed: false });
    expect(kube().writes).toBe(writes);
  });

  it('fails when the answer to a landed write never comes, without repeating the write', async () => {
    let landed: Promise<void> = Promise.resolve();
    kube().beforeWrite(() => {
      landed = sleep(10_500);
      return landed;
    });
    const writes = kube().writes;
    const run = await scheduledRun();
    await landed;
    expectFailed(run, 'KubeTimeoutError', /no answer within/);
    // The stand-in applies the write just after its delayed hook returns.
    await vi.waitFor(() => expect(kube().writes).toBe(writes + 1), { timeout: 2_000 });
    expectComplete();
  }, 60_000);

  it('gives up with a clear failure when every write meets a concurrent change, having written nothing', async () => {
    const writes = kube().writes;
    let rounds = 0;
    const editor = (): void => {
      kube().beforeWrite((k) => {
        const cm = k.get('kube-system', 'aws-auth');
        if (!cm) throw new Error('aws-auth missing');
        k.put({ ...cm, metadata: { ...cm.metadata, labels: { 'edited-round': String(++rounds) } } });
        editor();
      });
    };
    editor();
    const run = await scheduledRun();
    expectFailed(run, 'ConflictRetriesExhaustedError', /409 Conflict.*nothing was written/);
    expect(kube().writes).toBe(writes);
    expect(world.awsAuth()).toEqual(world.seed);
    expect(rounds).toBeGreaterThan(1);
  });

  it('re-reads and commits when aws-auth is deleted and re-created between its read and the write', async () => {
    kube().beforeWrite((k) => {
      const cm = k.get('kube-system', 'aws-auth');
      if (!cm) throw new Error('aws-auth missing');
      k.delete('kube-system', 'aws-auth');
      const { uid: _uid, resourceVersion: _rv, ...metadata } = cm.metadata;
      k.put({ ...cm, metadata });
    });
    const run = await scheduledRun();
    expectCommitted(run);
  });

  it('fails without writing when aws-auth is deleted between its read and the write (the tool is no longer mapped)', async () => {
    const writes = kube().writes;
    kube().beforeWrite((k) => {
      k.delete('kube-system', 'aws-auth');
    });
    const run = await scheduledRun();
    expectFailed(run, 'KubeUnauthorizedError', /assumed-role\/eks-auth-sync/);
    expect(kube().writes).toBe(writes);
    expect(world.awsAuth()).toBeUndefined();
  });

  it('mints a fresh token when the cluster rejects one mid-run, and commits', async () => {
    const failures = kube().authFailures.length;
    let seen = 0;
    // The write's authentication sees a clock 16 minutes on: the token it carries is too old.
    kube().setClock(() => new Date(Date.now() + (++seen === 2 ? 16 * 60_000 : 0)));
    expectCommitted(await scheduledRun());
    expect(kube().authFailures.slice(failures)).toEqual([expect.stringMatching(/expired|old/)]);
  });
});

describe('the Lambda deadline', () => {
  it('stops before the write when a slow source eats the remaining time, aws-auth untouched', async () => {
    const writes = world.environment.kube.writes;
    server('iam').setLatency(1_500);
    const run = await scheduledRun({ remainingMs: DEADLINE_SAFETY_MARGIN_MS + 500 });
    expectFailed(run, 'DeadlineError', /stopped before writing aws-auth.*nothing was written/);
    expect(world.environment.kube.writes).toBe(writes);
    expectUnchanged();
  });
});
