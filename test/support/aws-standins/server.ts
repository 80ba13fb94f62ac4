import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeServer, listenLoopback } from '../listen.js';
import { verifySigV4, type SigV4FailureReason, type StandinCredential, type WireRequest } from './sigv4.js';

/** An error a stand-in answers with, in the service's own vocabulary. */
export class ServiceError extends Error {
  override name = 'ServiceError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra members some services put into their error bodies (EKS: `clusterName`). */
    readonly fields: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

/** A fully formed HTTP answer. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What an action handler knows about the call it serves. */
export interface CallContext {
  credential: StandinCredential;
  requestId: string;
}

/** How one service speaks: how it names actions, frames errors and says "slow down". */
export interface ServiceProtocol {
  /** The action the request asks for; throws a ServiceError for requests the service can't route. */
  action(req: WireRequest): string;
  errorReply(err: ServiceError, requestId: string): Reply;
  authError(reason: SigV4FailureReason, message: string): ServiceError;
  throttlingError(): ServiceError;
  serverError(): ServiceError;
}

export type ActionHandler = (req: WireRequest, ctx: CallContext) => Reply | Promise<Reply>;

/** A service as the generic server sees it. */
export interface ServiceDefinition {
  /** The SigV4 signing name: `iam`, `sts`, `ssm`, `eks`. */
  signingName: string;
  /** Signing regions accepted in the credential scope. */
  regions: readonly string[];
  protocol: ServiceProtocol;
  handlers: Readonly<Record<string, ActionHandler>>;
}

/** A request-rate limit, enforced with a token bucket. */
export interface RateLimit {
  requestsPerSecond: number;
  /** Requests that may arrive at once after a quiet spell. @default requestsPerSecond (at least 1) */
  burst?: number;
}

/** Misbehaviour a stand-in adds, so clients meet what they meet in AWS. */
export interface BehaviourOptions {
  /** Added before every answer, errors included. @default 0 */
  latencyMs?: number;
  /** Answer with the service's real throttling error above this rate. @default no limit */
  rateLimit?: RateLimit;
  /** Probability (0..1) that a call is answered with the service's 5xx error. @default 0 */
  failureRate?: number;
  /** Seed of the PRNG behind `failureRate`, so a failing run can be replayed. @default 1 */
  seed?: number;
}

/** Options every stand-in server takes. */
export interface ServerOptions extends BehaviourOptions {
  /** Keys accepted, by access key id. */
  credentials: ReadonlyMap<string, StandinCredential>;
  /** The stand-in's clock, for signature dates and the `Date` header. @default () => new Date() */
  now?: () => Date;
  /** @default 0 (any free port) */
  port?: number;
}

/** A call as an `intercept` hook sees it, before the handler runs. */
export interface InterceptedCall {
  action: string;
  /** How many times this action had been called before this one (0 for the first). */
  index: number;
  credential: StandinCredential;
  request: WireRequest;
}

/** Runs before each call's handler; returning a ServiceError answers the call with it. */
export type Interceptor = (call: InterceptedCall) => ServiceError | undefined | Promise<ServiceError | undefined>;

/** The knobs and counters every stand-in has. */
export interface StandinControls {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  /** Authenticated calls per action, every attempt counted (throttled and failed ones too). */
  calls(): Record<string, number>;
  /** Sum of `calls()`. */
  totalCalls(): number;
  /** Calls answered with the throttling error, per action. */
  throttled(): Record<string, number>;
  /** Calls answered with an injected 5xx, per action. */
  failed(): Record<string, number>;
  /** Requests refused for their signature or key, by reason. */
  authFailures(): Record<string, number>;
  /** Answer the next `n` authenticated calls with the service's 5xx error (or the given one). */
  failNext(n: number, error?: ServiceError): void;
  /** Answer the next `n` authenticated calls with the service's throttling error. */
  throttleNext(n: number): void;
  setLatency(ms: number): void;
  setRateLimit(limit: RateLimit | undefined): void;
  setFailureRate(probability: number, seed?: number): void;
  /** Install (or, with `undefined`, remove) a hook that runs before each handler. */
  intercept(fn: Interceptor | undefined): void;
  /** Zero the counters and drop pending injected failures; latency, limits and data stay. */
  reset(): void;
}

/** A running stand-in server. */
export interface StandinServer extends StandinControls {
  close(): Promise<void>;
}

/**
 * Starts one service on 127.0.0.1: verifies each request's SigV4 signature, then applies
 * throttling, injected failures and latency before the action handler answers.
 */
export async function startServer(def: ServiceDefinition, opts: ServerOptions): Promise<StandinServer> {
  const now = opts.now ?? (() => new Date());
  let latencyMs = opts.latencyMs ?? 0;
  let bucket = opts.rateLimit === undefined ? undefined : new TokenBucket(opts.rateLimit);
  let failureRate = opts.failureRate ?? 0;
  let random = mulberry32(opts.seed ?? 1);
  let interceptor: Interceptor | undefined;
  const pending: Array<ServiceError | 'throttle'> = [];
  const counters = { calls: new Map<string, number>(), throttled: new Map<string, number>(), failed: new Map<string, number>(), auth: new Map<string, number>() };
  const bump = (m: Map<string, number>, k: string): void => {
    m.set(k, (m.get(k) ?? 0) + 1);
  };

  const answer = async (wire: WireRequest, requestId: string): Promise<Reply> => {
    const p = def.protocol;
    try {
      const auth = verifySigV4(wire, { service: def.signingName, regions: def.regions, credentials: opts.credentials, now: now() });
      if (!auth.ok) {
        bump(counters.auth, auth.reason);
        throw p.authError(auth.reason, auth.message);
      }
      const action = p.action(wire);
      const handler = def.handlers[action];
      if (handler === undefined) throw new ServiceError(400, 'InvalidAction', `Could not find operation ${action}.`);
      const index = counters.calls.get(action) ?? 0;
      bump(counters.calls, action);
      const injected = pending.shift();
      if (injected === 'throttle' || (bucket !== undefined && !bucket.take())) {
        bump(counters.throttled, action);
        throw p.throttlingError();
      }
      if (injected !== undefined || (failureRate > 0 && random() < failureRate)) {
        bump(counters.failed, action);
        throw injected ?? p.serverError();
      }
      const hooked = await interceptor?.({ action, index, credential: auth.credential, request: wire });
      if (hooked !== undefined) throw hooked;
      return await handler(wire, { credential: auth.credential, requestId });
    } catch (err) {
      if (err instanceof ServiceError) return p.errorReply(err, requestId);
      return p.errorReply(p.serverError(), requestId);
    }
  };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const wire: WireRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks) };
      const requestId = randomUUID();
      void (async () => {
        const [reply] = await Promise.all([answer(wire, requestId), latencyMs > 0 ? sleep(latencyMs) : undefined]);
        res.writeHead(reply.status, { ...reply.headers, date: now().toUTCString(), 'content-length': Buffer.byteLength(reply.body) });
        res.end(reply.body);
      })();
    });
  });
  const port = await listenLoopback(server, opts.port ?? 0);
  const record = (m: Map<string, number>): Record<string, number> => Object.fromEntries(m);

  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls: () => record(counters.calls),
    totalCalls: () => [...counters.calls.values()].reduce((a, b) => a + b, 0),
    throttled: () => record(counters.throttled),
    failed: () => record(counters.failed),
    authFailures: () => record(counters.auth),
    failNext: (n, error) => {
      for (let i = 0; i < n; i++) pending.push(error ?? def.protocol.serverError());
    },
    throttleNext: (n) => {
      for (let i = 0; i < n; i++) pending.push('throttle');
    },
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setRateLimit: (limit) => {
      bucket = limit === undefined ? undefined : new TokenBucket(limit);
    },
    setFailureRate: (probability, seed) => {
      failureRate = probability;
      if (seed !== undefined) random = mulberry32(seed);
    },
    intercept: (fn) => {
      interceptor = fn;
    },
    reset: () => {
      for (const m of Object.values(counters)) m.clear();
      pending.length = 0;
    },
    close: () => closeServer(server),
  };
}

/** Refills continuously at `requestsPerSecond`, holding at most `burst` tokens. */
class TokenBucket {
  private readonly rate: number;
  private readonly capacity: number;
  private tokens: number;
  private last = performance.now();

  constructor(limit: RateLimit) {
    this.rate = limit.requestsPerSecond;
    this.capacity = limit.burst ?? Math.max(1, limit.requestsPerSecond);
    this.tokens = this.capacity;
  }

  take(): boolean {
    const t = performance.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same sequence, run after run. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
