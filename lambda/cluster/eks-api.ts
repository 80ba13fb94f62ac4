/**
 * The one EKS API call eks-auth-sync makes, DescribeCluster, as a SigV4-signed REST-JSON request.
 * The SDK's EKS client would add about 50 KB to the Lambda bundle, most of it schemas for
 * operations never called, and module compile time dominates the cold start; what the SDK
 * would do for this one call (endpoint, signing, retries, error codes) fits here.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { encodeRfc3986, regionPartition, Sha256 } from './token.js';

/** What eks-auth-sync reads of DescribeCluster's `cluster`; a member is undefined unless EKS sent a string. */
export interface EksCluster {
  arn?: string;
  endpoint?: string;
  status?: string;
  /** `certificateAuthority.data`: the cluster CA, PEM, base64-encoded. */
  certificateAuthorityData?: string;
  /** `accessConfig.authenticationMode`. */
  authenticationMode?: string;
}

/** The EKS API as eks-auth-sync uses it, with the region and credentials it signs with. */
export interface EksApi {
  /** The signing region (the SDK's region chain when the settings name none). */
  region(): Promise<string>;
  /** The credentials requests are signed with; the cluster token is signed with them too. */
  credentials: AwsCredentialIdentityProvider;
  /**
   * eks:DescribeCluster; the cluster, or `undefined` if the answer holds none. Fails, once the
   * retries are spent, with an Error named by the AWS error code (`ResourceNotFoundException`, …).
   */
  describeCluster(name: string): Promise<EksCluster | undefined>;
}

/** How to reach and call EKS; `clientFactory` fills it from an `aws` section. */
export interface EksApiOptions {
  region: () => Promise<string>;
  credentials: AwsCredentialIdentityProvider;
  /** The `aws.endpoint` setting, which wins over the environment's endpoint variables. */
  endpoint?: string;
  /** Attempts per call, the first included. @default 3, as in the SDK */
  maxAttempts?: number;
  /** Per attempt, as the SDK clients' `requestHandler` takes them. */
  timeouts: { connectionTimeout: number; requestTimeout: number };
}

/** An error answer from EKS, or a timeout, named by its AWS error code as the SDK names its errors. */
class EksApiError extends Error {
  constructor(
    code: string,
    message: string,
    /** The HTTP status, when EKS answered at all. */
    readonly status?: number,
  ) {
    super(message);
    this.name = code;
  }
}

const DEFAULT_MAX_ATTEMPTS = 3;
/** The SDK's backoff (util-retry): full jitter over base × 2^retry, capped at 20 s. */
const BACKOFF_BASE_MS = 50;
const THROTTLING_BACKOFF_BASE_MS = 1_000;
const MAX_BACKOFF_MS = 20_000;
const THROTTLING_CODES = new Set(['Throttling', 'ThrottlingException', 'TooManyRequestsException', 'RequestLimitExceeded']);
/** The socket error codes the SDK retries: the request may not have reached EKS at all. */
const RETRYABLE_SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The EKS endpoint, resolved as the SDK resolves it: the configured endpoint, then
 * `AWS_ENDPOINT_URL_EKS`, then `AWS_ENDPOINT_URL` (both skipped when
 * `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true`), then the regional endpoint in the region's partition.
 * The shared config file's `endpoint_url` is not read.
 * @example eksEndpoint({ region: 'cn-north-1', env: {} }) // 'https://eks.cn-north-1.amazonaws.com.cn'
 */
export function eksEndpoint(input: { endpoint?: string; region: string; env: NodeJS.ProcessEnv }): string {
  const { endpoint, region, env } = input;
  const fromEnv = env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true' ? undefined : env['AWS_ENDPOINT_URL_EKS'] || env['AWS_ENDPOINT_URL'];
  return endpoint ?? (fromEnv || `https://eks.${region}.${regionPartition(region).dnsSuffix}`);
}

/**
 * An EksApi that sends signed requests with node:https (node:http only for an `http:` endpoint
 * such as a local stand-in), retrying throttling, 5xx and connection failures with the SDK's
 * jittered exponential backoff.
 * @example const eks = eksApi({ region: async () => 'eu-west-1', credentials, timeouts: REQUEST_TIMEOUTS });
 */
export function eksApi(opts: EksApiOptions): EksApi {
  const maxAttempts = opts.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  return {
    region: opts.region,
    credentials: opts.credentials,
    async describeCluster(name) {
      const region = await opts.region();
      const base = new URL(eksEndpoint({ region, env: process.env, ...(opts.endpoint !== undefined && { endpoint: opts.endpoint }) }));
      const url = new URL(`${base.pathname.replace(/\/$/, '')}/clusters/${encodeRfc3986(name)}`, base);
      const signer = new SignatureV4({ credentials: opts.credentials, region, service: 'eks', sha256: Sha256 });
      for (let attempt = 1; ; attempt++) {
        let failure: Error;
        try {
          const signed = await signer.sign({
            method: 'GET',
            protocol: url.protocol,
            hostname: url.hostname,
            path: url.pathname,
            headers: { host: url.host, accept: 'application/json' },
          });
          const answer = await get(url, signed.headers, opts.timeouts);
          if (answer.status >= 200 && answer.status < 300) return clusterOf(answer.body);
          failure = errorOf(answer);
        } catch (err) {
          if (!(err instanceof Error)) throw err;
          failure = err;
        }
        if (attempt >= maxAttempts || !isRetryable(failure)) throw failure;
        const delayBase = failure instanceof EksApiError && isThrottling(failure) ? THROTTLING_BACKOFF_BASE_MS : BACKOFF_BASE_MS;
        await sleep(Math.floor(Math.random() * Math.min(delayBase * 2 ** (attempt - 1), MAX_BACKOFF_MS)));
      }
    },
  };
}

interface Answer {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One attempt: abandoned with a TimeoutError if it cannot connect or finish in time, as in the SDK. */
function get(url: URL, headers: Record<string, string>, timeouts: EksApiOptions['timeouts']): Promise<Answer> {
  const request = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    const timeout = (what: string, ms: number) => () =>
      req.destroy(new EksApiError('TimeoutError', `${url.origin} ${what} within ${ms} ms`));
    const attemptTimer = setTimeout(timeout('did not answer', timeouts.requestTimeout), timeouts.requestTimeout);
    let connectTimer: NodeJS.Timeout | undefined;
    req.on('socket', (socket) => {
      if (!socket.connecting) return;
      connectTimer = setTimeout(timeout('did not accept a connection', timeouts.connectionTimeout), timeouts.connectionTimeout);
      socket.once('connect', () => clearTimeout(connectTimer));
    });
    req.on('close', () => {
      clearTimeout(attemptTimer);
      clearTimeout(connectTimer);
    });
    req.on('error', reject);
    req.end();
  });
}

function clusterOf(body: string): EksCluster | undefined {
  const cluster = field(parseJson(body), 'cluster');
  if (typeof cluster !== 'object' || cluster === null) return undefined;
  return {
    arn: text(field(cluster, 'arn')),
    endpoint: text(field(cluster, 'endpoint')),
    status: text(field(cluster, 'status')),
    certificateAuthorityData: text(field(field(cluster, 'certificateAuthority'), 'data')),
    authenticationMode: text(field(field(cluster, 'accessConfig'), 'authenticationMode')),
  };
}

/** The REST-JSON error: the code from `x-amzn-errortype` or the body's `__type`/`code`, as the SDK reads it. */
function errorOf(answer: Answer): EksApiError {
  const body = parseJson(answer.body);
  const header = answer.headers['x-amzn-errortype'];
  const raw = [text(header), text(field(body, 'code')), text(field(body, '__type'))].find((c) => c !== undefined && c !== '');
  // `Code:http://internal.amazon.com/…` and `namespace#Code` both name `Code`.
  const code = raw?.split(':')[0]?.split('#').pop() || (answer.status === 429 ? 'TooManyRequestsException' : `Http${answer.status}Error`);
  const message = text(field(body, 'message')) ?? text(field(body, 'Message')) ?? `HTTP ${answer.status}`;
  return new EksApiError(code, message, answer.status);
}

function isThrottling(err: EksApiError): boolean {
  return err.status === 429 || THROTTLING_CODES.has(err.name);
}

function isRetryable(err: Error): boolean {
  if (err instanceof EksApiError) {
    return err.status === undefined || err.status >= 500 || isThrottling(err);
  }
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && RETRYABLE_SOCKET_CODES.has(code);
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
