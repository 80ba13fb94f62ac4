/**
 * A minimal Kubernetes API client for the one object this tool touches: ConfigMaps (aws-auth).
 * node:https only, so the Lambda bundle carries no Kubernetes client library.
 */
import https from 'node:https';
import type { ConfigMap } from '../configmap.js';
import {
  DeadlineError,
  EksAuthSyncError,
  KubeConflictError,
  KubeConnectionError,
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeServerError,
  KubeTimeoutError,
  KubeUnauthorizedError,
} from '../errors.js';

export interface KubeClientOptions {
  /** The API server URL from DescribeCluster; must be https. */
  endpoint: string;
  /** The cluster CA (PEM). The server certificate is verified against it and nothing else. */
  caPem: string;
  /** Returns a bearer token; called before every request, so it should cache. */
  token: () => Promise<string>;
  /** Called on a 401 before a fresh token is fetched, e.g. `TokenProvider.invalidate`. */
  onUnauthorized?: () => void;
  /** The caller's ARN, named in 401/403 messages. */
  identity?: string;
  /** Per-attempt deadline. @default 10000 */
  timeoutMs?: number;
  /**
   * Every request ends by this moment (the Lambda's timeout less a margin): an attempt's timeout
   * is cut to the time left, and no retry starts after it. A write is not started at all with
   * less than one attempt's timeout left, so it is not cut short for want of time.
   * @default - none
   */
  deadline?: Date;
}

/** A Kubernetes `Status` body, as the API server returns with every error. */
interface KubeStatus {
  reason?: string;
  message?: string;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

interface Reply {
  status: number;
  body: string;
}

type Method = 'GET' | 'POST' | 'PUT';

/**
 * Why a request got no HTTP answer, and whether sending it again is safe. `always`: the
 * request never reached the server. `ifRead`: it may have reached the server, so only a
 * read may be repeated. `never`: repeating cannot help (TLS verification failed).
 */
class TransportFailure {
  constructor(
    readonly error: EksAuthSyncError,
    readonly retry: 'always' | 'ifRead' | 'never',
  ) {}
}

const MAX_ATTEMPTS = 4;
const FIELD_MANAGER = 'eks-auth-sync';
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL/;
const NEVER_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Reads and writes ConfigMaps with optimistic concurrency.
 *
 * @example
 * const kube = new KubeClient({ endpoint, caPem, token: () => tokens.get(), onUnauthorized: () => tokens.invalidate() });
 * const live = await kube.getConfigMap('kube-system', 'aws-auth');
 */
export class KubeClient {
  readonly #base: URL;
  readonly #agent: https.Agent;
  readonly #opts: KubeClientOptions;
  readonly #timeoutMs: number;

  constructor(opts: KubeClientOptions) {
    let base: URL;
    try {
      base = new URL(opts.endpoint);
    } catch {
      throw new KubeConnectionError(`The Kubernetes endpoint "${opts.endpoint}" is not a URL; use the cluster endpoint from DescribeCluster.`);
    }
    if (base.protocol !== 'https:') {
      throw new KubeConnectionError(
        `Refusing the Kubernetes endpoint ${opts.endpoint}: it must be https, so that the API server is verified against the cluster CA and the token is never sent in the clear.`,
      );
    }
    this.#base = base;
    this.#opts = opts;
    this.#timeoutMs = opts.timeoutMs ?? 10_000;
    this.#agent = new https.Agent({ keepAlive: true, ca: opts.caPem, maxSockets: 4 });
  }

  /** The ConfigMap, or null when it does not exist. */
  async getConfigMap(namespace: string, name: string): Promise<ConfigMap | null> {
    const reply = await this.#send(name, 'GET', objectPath(namespace, name));
    if (reply.status === 404) return null;
    return this.#expectConfigMap(reply, 'GET', namespace, name);
  }

  /** Creates the ConfigMap; KubeConflictError when it already exists. */
  async createConfigMap(cm: ConfigMap): Promise<ConfigMap> {
    const namespace = namespaceOf(cm);
    // A create has no precondition; the API server refuses a resourceVersion on create.
    const { resourceVersion: _ignored, ...metadata } = cm.metadata;
    const body = JSON.stringify({ ...cm, metadata: { ...metadata, namespace } });
    const reply = await this.#send(cm.metadata.name, 'POST', `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps`, body);
    return this.#expectConfigMap(reply, 'POST', namespace, cm.metadata.name);
  }

  /**
   * Replaces the ConfigMap on condition that it still has `cm.metadata.resourceVersion`;
   * KubeConflictError when someone changed it since it was read.
   */
  async replaceConfigMap(cm: ConfigMap): Promise<ConfigMap> {
    const namespace = namespaceOf(cm);
    if (!cm.metadata.resourceVersion) {
      throw new KubeInvalidError(
        `Refusing to replace configmaps/${cm.metadata.name} in ${namespace} without metadata.resourceVersion: an unconditional write could overwrite a concurrent edit. Read the object first and replace with its resourceVersion.`,
      );
    }
    const body = JSON.stringify({ ...cm, metadata: { ...cm.metadata, namespace } });
    const reply = await this.#send(cm.metadata.name, 'PUT', objectPath(namespace, cm.metadata.name), body);
    return this.#expectConfigMap(reply, 'PUT', namespace, cm.metadata.name);
  }

  /** Closes idle keep-alive connections. */
  close(): void {
    this.#agent.destroy();
  }

  /** `name`: the ConfigMap's, for messages. */
  async #send(name: string, method: Method, path: string, body?: string): Promise<Reply> {
    let refreshed = false;
    let attempt = 1;
    let sent = false;
    for (;;) {
      const timeoutMs = this.#attemptTimeout(name, method, path, sent);
      sent = true;
      let reply: Reply;
      try {
        reply = await this.#request(method, path, body, await this.#opts.token(), timeoutMs);
      } catch (failure) {
        if (!(failure instanceof TransportFailure)) throw failure;
        const safe = failure.retry === 'always' || (failure.retry === 'ifRead' && method === 'GET');
        if (!safe || attempt >= MAX_ATTEMPTS) throw failure.error;
        await this.#backoff(attempt++);
        continue;
      }
      // Authentication runs before anything is applied, so any request may be repeated after a
      // 401, with a fresh token in case the cached one died with its credentials.
      if (reply.status === 401 && !refreshed) {
        refreshed = true;
        this.#opts.onUnauthorized?.();
        continue;
      }
      if (retryable(method, reply.status) && attempt < MAX_ATTEMPTS) {
        await this.#backoff(attempt++);
        continue;
      }
      return reply;
    }
  }

  /**
   * The next attempt's timeout: the configured one, cut to the time left before the deadline.
   * Every attempt that is repeated was refused unapplied or never sent (see `retryable` and
   * TransportFailure), so stopping here never leaves a write half-known.
   * @throws DeadlineError when no time is left, or a write would start with less than one timeout.
   */
  #attemptTimeout(name: string, method: Method, path: string, retry: boolean): number {
    const deadline = this.#opts.deadline;
    if (deadline === undefined) return this.#timeoutMs;
    const left = deadline.getTime() - Date.now();
    const write = method !== 'GET';
    if (left <= 0 || (write && !retry && left < this.#timeoutMs)) {
      const why = left <= 0
        ? `the run's deadline (${deadline.toISOString()}) has passed`
        : `${Math.round(left)} ms are left before the run's deadline (${deadline.toISOString()}), less than one request's timeout (${this.#timeoutMs} ms)`;
      throw new DeadlineError(
        `stopped before writing ${name}: ${why}, so ${method} ${path} at ${this.#base.origin} was not sent; nothing was written. ` +
          "Raise the function's timeout or look for a slow source.",
      );
    }
    return Math.min(this.#timeoutMs, left);
  }

  /** Waits before a retry, never past the deadline (the next attempt then stops at once). */
  #backoff(attempt: number): Promise<void> {
    const ms = Math.min(2000, 100 * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    const left = this.#opts.deadline === undefined ? ms : this.#opts.deadline.getTime() - Date.now();
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(ms, left))));
  }

  #request(method: Method, path: string, body: string | undefined, token: string, timeoutMs: number): Promise<Reply> {
    const url = new URL(this.#base.pathname.replace(/\/$/, '') + path, this.#base);
    if (method !== 'GET') url.searchParams.set('fieldManager', FIELD_MANAGER);
    const headers: Record<string, string | number> = {
      Authorization: `Bearer ${token}`,
      Accept: 'application/json',
      'User-Agent': FIELD_MANAGER,
    };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = Buffer.byteLength(body);
    }
    return new Promise((resolve, reject) => {
      let timedOut = false;
      const req = https.request(url, { method, agent: this.#agent, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
        });
      });
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, timeoutMs);
      req.on('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(this.#transportFailure(method, err, timedOut ? timeoutMs : undefined, req.reusedSocket));
      });
      req.end(body);
    });
  }

  /** `timedOutAfterMs`: the attempt's timeout, when that is what ended it. */
  #transportFailure(method: Method, err: NodeJS.ErrnoException, timedOutAfterMs: number | undefined, reusedSocket: boolean): TransportFailure {
    const where = `${method} ${this.#base.origin}`;
    if (timedOutAfterMs !== undefined) {
      const cut = timedOutAfterMs < this.#timeoutMs ? `, the time left before the run's deadline (${this.#opts.deadline?.toISOString() ?? ''})` : '';
      return new TransportFailure(
        new KubeTimeoutError(
          `${where}: no answer within ${timedOutAfterMs} ms${cut}.` +
            (method === 'GET' ? '' : ' The write may or may not have been applied; the next run reads the live state first.') +
            ' Check that this network can reach the cluster endpoint (endpoint public/private access, security groups, VPC routing).',
        ),
        'ifRead',
      );
    }
    const code = err.code ?? '';
    if (TLS_ERROR.test(code)) {
      return new TransportFailure(
        new KubeConnectionError(
          `${where}: the server's TLS certificate did not verify against the cluster CA (${code}). Check that the CA is the cluster's certificateAuthority from DescribeCluster and the endpoint is that cluster's.`,
        ),
        'never',
      );
    }
    const error = new KubeConnectionError(`${where}: connection failed (${code || err.message}). Check that the cluster endpoint is reachable from here.`);
    // A keep-alive socket the server had already closed fails before the request is read
    // (Node documents this case); a refused or unresolvable connection never carried it.
    if (NEVER_SENT.has(code) || (reusedSocket && code === 'ECONNRESET')) return new TransportFailure(error, 'always');
    return new TransportFailure(error, 'ifRead');
  }

  #expectConfigMap(reply: Reply, method: Method, namespace: string, name: string): ConfigMap {
    if (reply.status >= 200 && reply.status < 300) {
      const parsed = parseJson(reply.body);
      if (isConfigMap(parsed)) return parsed;
      throw new KubeServerError(`${method} configmaps/${name} in ${namespace} at ${this.#base.origin}: HTTP ${reply.status} but the body is not a ConfigMap.`);
    }
    throw this.#errorFor(reply, method, namespace, name);
  }

  #errorFor(reply: Reply, method: Method, namespace: string, name: string): EksAuthSyncError {
    const status = parseStatus(reply.body);
    const target = `configmaps/${name} in namespace ${namespace}`;
    const said = status.message ? `: ${status.message}` : '';
    const who = this.#opts.identity ?? 'the identity of the current AWS credentials';
    const verb = method === 'GET' ? 'get' : method === 'POST' ? 'create' : 'update';
    switch (reply.status) {
      case 401:
        return new KubeUnauthorizedError(
          `The Kubernetes API at ${this.#base.origin} rejected the token of ${who} (401 Unauthorized) twice, the second time freshly minted. ` +
            'Check: the clock of this machine (tokens are rejected more than 15 minutes after signing), that the AWS credentials have not expired or been revoked, ' +
            'that the token was minted for this cluster name and region, and that the identity is mapped in aws-auth or has an EKS access entry.',
        );
      case 403:
        return new KubeForbiddenError(
          `${who} may not ${verb} ${target} (403 Forbidden${said}). ` +
            `It needs get, create, update and patch on configmaps/${name} in ${namespace}: an RBAC Role bound by a RoleBinding to a group its aws-auth entry maps it to, ` +
            'or an EKS access entry with an access policy that grants it (e.g. AmazonEKSClusterAdminPolicy).',
        );
      case 404:
        return new KubeNotFoundError(
          `${method} ${target} failed: not found${said}. ` +
            (method === 'PUT' ? 'It was deleted after it was read; read it again (the next run creates it).' : `Check that namespace ${namespace} exists.`),
        );
      case 409:
        return new KubeConflictError(`${method} ${target} conflicted (${status.reason ?? 'Conflict'}${said}). Read it again and re-plan.`);
      case 400:
      case 422: {
        const causes = (status.details?.causes ?? []).map((c) => `${c.field ?? ''}: ${c.message ?? c.reason ?? ''}`.trim());
        return new KubeInvalidError(
          `The API server refused ${method} ${target} as invalid (${reply.status}${said})` +
            (causes.length > 0 ? `; causes: ${causes.join('; ')}` : '') +
            '. Nothing was written; fix the content (aws-auth must stay under 1 MiB).',
        );
      }
      default:
        return new KubeServerError(
          `${method} ${target} failed with HTTP ${reply.status}${status.reason ? ` ${status.reason}` : ''}${said}. ` +
            'The API server is unhealthy or overloaded; run again later.' +
            (method === 'GET' ? '' : ' The write may or may not have been applied; the next run reads the live state first.'),
        );
    }
  }
}

function objectPath(namespace: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/configmaps/${encodeURIComponent(name)}`;
}

function namespaceOf(cm: ConfigMap): string {
  return cm.metadata.namespace ?? 'default';
}

/**
 * Reads may always be repeated. Writes only on 429: the API server's priority-and-fairness
 * filter refuses those before the request reaches storage. A write that failed with a 5xx or a
 * timeout may have been applied; replaying it would come back as a 409 that looks exactly like a
 * concurrent edit, so the ambiguity is reported instead and the next run starts from a fresh read.
 */
function retryable(method: Method, status: number): boolean {
  if (status === 429) return true;
  return method === 'GET' && (status === 500 || status === 502 || status === 503 || status === 504);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function parseStatus(text: string): KubeStatus {
  const parsed = parseJson(text);
  if (typeof parsed === 'object' && parsed !== null && (parsed as { kind?: unknown }).kind === 'Status') return parsed as KubeStatus;
  return {};
}

function isConfigMap(value: unknown): value is ConfigMap {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { kind?: unknown; metadata?: { name?: unknown } };
  return v.kind === 'ConfigMap' && typeof v.metadata?.name === 'string';
}
