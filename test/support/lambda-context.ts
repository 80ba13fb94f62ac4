/** What the handler tests give the handler in place of Lambda: its context and its console. */
import type { Context } from 'aws-lambda';
import { afterEach, beforeEach, vi } from 'vitest';

/** A Lambda context with `remainingMs` left before the timeout. */
export function lambdaContext(remainingMs: number): Context {
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'eks-auth-sync',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:eks-auth-sync',
    memoryLimitInMB: '256',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/eks-auth-sync',
    logStreamName: '2026/03/04/[$LATEST]abc',
    getRemainingTimeInMillis: () => remainingMs,
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** What Powertools printed: log entries, and EMF metric lines (those with `_aws`). */
export interface Emitted {
  logs: Record<string, unknown>[];
  metrics: Record<string, unknown>[];
}

/** Spies on the global console, where Powertools prints, and collects each JSON line it prints. */
export function captureConsole(): Emitted {
  const emitted: Emitted = { logs: [], metrics: [] };
  const capture = (line: unknown): void => {
    const record = JSON.parse(String(line)) as Record<string, unknown>;
    (record['_aws'] ? emitted.metrics : emitted.logs).push(record);
  };
  vi.spyOn(console, 'log').mockImplementation(capture);
  vi.spyOn(console, 'info').mockImplementation(capture);
  vi.spyOn(console, 'warn').mockImplementation(capture);
  vi.spyOn(console, 'error').mockImplementation(capture);
  return emitted;
}

/**
 * For the enclosing describe block: Powertools prints logs and metrics (as in Lambda, not
 * silenced as under a test runner), and every spy and stubbed variable is restored after each test.
 */
export function printPowertoolsOutput(): void {
  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
  });
}
