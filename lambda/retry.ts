/**
 * Retrying AWS calls for as long as the run may last.
 *
 * The SDK's default is three attempts, so a burst of IAM throttling longer than that failed the
 * run although IAM documents backoff as the answer. Here every client keeps the SDK's own
 * adaptive strategy (its error classification, retry quota and client-side rate limiter), with
 * the SDK's full-jitter backoff, but without the attempt cap unless `aws.maxRetries` sets one:
 * instead a retry is refused when its backoff would end after the run's deadline.
 */
import { AdaptiveRetryStrategy, DefaultRateLimiter, isThrottlingError, MAXIMUM_RETRY_DELAY } from '@smithy/core/retry';
import type {
  HandlerExecutionContext,
  InitializeHandler,
  InitializeHandlerArguments,
  InitializeMiddleware,
  MetadataBearer,
  RetryErrorInfo,
  RetryStrategyV2,
  RetryToken,
  SdkError,
  StandardRetryBackoffStrategy,
  StandardRetryToken,
} from '@smithy/types';
import { AwsRetriesExhaustedError } from './errors.js';

/** How long a run may keep retrying. */
export interface RetryBudget {
  /** No retry is started whose backoff would end after this moment. */
  deadline: Date;
  /** @default () => new Date() */
  clock?: () => Date;
  /**
   * Multiplies every backoff and rate-limiter wait, for tests that ride out long bursts in
   * milliseconds with the SDK's strategy still deciding. @default 1
   */
  delayScale?: number;
}

/** The SDK's rate limiter sends at least this many requests per second after throttling (its default). */
const MIN_FILL_RATE = 0.5;

/** Errors whose retry the deadline refused, so the outcome middleware can say so. */
const refusedAtDeadline = new WeakSet<object>();

/** Thrown inside the SDK's strategy to refuse a retry; the SDK then rethrows the call's own error. */
class PastDeadline extends Error {}

/** The SDK's backoff, full jitter over base × 2^retry capped at 20 s, refusing a wait that ends past the deadline. */
class DeadlineBackoff implements StandardRetryBackoffStrategy {
  #base = 0;
  constructor(private readonly budget: Required<RetryBudget>) {}

  setDelayBase(delayBase: number): void {
    this.#base = delayBase;
  }

  computeNextBackoffDelay(retry: number): number {
    const { clock, deadline, delayScale } = this.budget;
    const delay = Math.floor(Math.random() * Math.min(this.#base * 2 ** retry, MAXIMUM_RETRY_DELAY) * delayScale);
    if (clock().getTime() + delay > deadline.getTime()) throw new PastDeadline();
    return delay;
  }
}

/** The adaptive strategy, remembering which errors it stopped retrying because of the deadline. */
class DeadlineRetryStrategy implements RetryStrategyV2 {
  readonly mode = 'adaptive';
  readonly #inner: AdaptiveRetryStrategy;

  constructor(budget: Required<RetryBudget>, maxAttempts: number) {
    this.#inner = new AdaptiveRetryStrategy(maxAttempts, {
      backoff: new DeadlineBackoff(budget),
      rateLimiter: new DefaultRateLimiter({ minFillRate: MIN_FILL_RATE / budget.delayScale }),
    });
  }

  acquireInitialRetryToken(scope: string): Promise<RetryToken> {
    return this.#inner.acquireInitialRetryToken(scope);
  }

  async refreshRetryTokenForRetry(token: StandardRetryToken, errorInfo: RetryErrorInfo): Promise<RetryToken> {
    try {
      return await this.#inner.refreshRetryTokenForRetry(token, errorInfo);
    } catch (refusal) {
      if (refusal instanceof PastDeadline && errorInfo.error) refusedAtDeadline.add(errorInfo.error);
      throw refusal;
    }
  }

  recordSuccess(token: StandardRetryToken): void {
    this.#inner.recordSuccess(token);
  }
}

/**
 * A retry strategy for one SDK client: the SDK's adaptive strategy, retrying throttling, 5xx and
 * connection failures until `maxAttempts` (when given) or until a backoff would end past the deadline.
 * @example new IAMClient({ retryStrategy: deadlineRetryStrategy({ deadline }) })
 */
export function deadlineRetryStrategy(opts: RetryBudget & { maxAttempts?: number }): RetryStrategyV2 {
  const budget = { clock: () => new Date(), delayScale: 1, ...opts };
  return new DeadlineRetryStrategy(budget, opts.maxAttempts ?? Number.POSITIVE_INFINITY);
}

/**
 * Middleware around the retries: a call whose retries were stopped by the deadline, or that was
 * still throttled when its attempts ran out, fails with an AwsRetriesExhaustedError naming the
 * call (`iam:GetAccountAuthorizationDetails`); every other error passes unchanged.
 * @example client.middlewareStack.add(namingRetryOutcome('iam', { deadline }), { step: 'initialize' })
 */
export function namingRetryOutcome(
  service: string,
  limits: { deadline: Date; maxAttempts?: number },
): InitializeMiddleware<object, MetadataBearer> {
  return <Output extends MetadataBearer>(next: InitializeHandler<object, Output>, context: HandlerExecutionContext) =>
    async (args: InitializeHandlerArguments<object>) => {
      try {
        return await next(args);
      } catch (err) {
        if (!(err instanceof Error)) throw err;
        const atDeadline = refusedAtDeadline.has(err);
        const throttled = isThrottlingError(err as SdkError);
        if (!atDeadline && !throttled) throw err;
        const call = `${service}:${(context.commandName ?? 'call').replace(/Command$/, '')}`;
        const attempts = (err as SdkError).$metadata?.attempts;
        const what = throttled ? 'was throttled' : 'kept failing';
        const tries = attempts === undefined ? '' : ` through ${attempts} attempt${attempts === 1 ? '' : 's'}`;
        const why = atDeadline
          ? `a further retry would end after the run's deadline (${limits.deadline.toISOString()})`
          : attempts !== undefined && limits.maxAttempts !== undefined && attempts >= limits.maxAttempts
            ? 'aws.maxRetries allows no more retries'
            : "the SDK's retry quota for this client is spent";
        throw new AwsRetriesExhaustedError(`${call} ${what}${tries} (${err.name}: ${err.message}); ${why}`, { cause: err });
      }
    };
}
