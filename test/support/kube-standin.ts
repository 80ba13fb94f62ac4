/**
 * A local HTTPS Kubernetes API server on 127.0.0.1 that behaves like an EKS control plane for
 * ConfigMaps: it authenticates `k8s-aws-v1.` tokens the way aws-iam-authenticator and STS do,
 * authorises through its own live `aws-auth` (so a tool that drops its own mapping is locked
 * out on its next run) and, given a view of the EKS stand-in's access entries, through them as
 * EKS does in the cluster's authentication mode; it enforces resourceVersion preconditions and
 * answers with real `Status` bodies. kubectl works against it (see kube-standin.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, type ConfigMap, type ObjectMeta } from '../../lambda/configmap.js';
import type { AccessEntryView, AccessGrant, AccessScope } from './aws-standins/access-view.js';
import { closeServer, listenLoopback } from './listen.js';
import { verifyEksToken, type StsIdentity } from './sigv4-verify.js';
import { generateTls, type TlsMaterial } from './tls.js';

export interface KubeStandinOptions {
  /** The cluster name tokens must be signed for (their `x-k8s-aws-id`). */
  clusterName: string;
  /** Access key id → what STS knows about it. */
  identities: Record<string, StsIdentity>;
  /** Principals with cluster-admin regardless of aws-auth (the cluster creator, access entries). ARNs as GetCallerIdentity or canonical. */
  admins?: string[];
  /** Groups that may get, list, create, update and delete ConfigMaps (the RBAC binding for aws-auth). @default ['system:masters'] */
  writerGroups?: string[];
  /** Groups that may only get and list ConfigMaps. @default [] */
  readerGroups?: string[];
  /**
   * The cluster's access entries (e.g. `eks.accessView(name)`), consulted as EKS does: not in
   * CONFIG_MAP mode, before aws-auth in API_AND_CONFIG_MAP, instead of it in API.
   * @default none: aws-auth alone
   */
  accessEntries?: AccessEntryView;
  /** ConfigMaps present at start (e.g. an existing aws-auth). */
  configMaps?: ConfigMap[];
  /** The stand-in's clock, used for token expiry. @default () => new Date() */
  now?: () => Date;
  /** Delay before answering each request. @default 0 */
  delayMs?: number;
  /** Reuse TLS material; a fresh CA is generated otherwise. */
  tls?: TlsMaterial;
}

export interface RequestLogEntry {
  method: string;
  path: string;
  /** Canonical ARN of the authenticated caller. */
  principal?: string;
  status: number;
  /** For PUT: the resourceVersion in the body (undefined = an unconditional write). */
  resourceVersion?: string;
}

export interface FailOptions {
  /** Apply the write, then answer with the error (the client cannot know it landed). */
  afterApply?: boolean;
  /** Reset the connection instead of answering (the status is then unused). */
  reset?: boolean;
}

export interface KubeStandin {
  readonly url: string;
  readonly caPem: string;
  readonly clusterName: string;
  /** Every request answered, in order. */
  readonly log: RequestLogEntry[];
  /** Why each 401 was given, e.g. 'X-Amz-Date is more than 15 minutes old: token expired'. */
  readonly authFailures: string[];
  /** Writes applied through the API (hooks not counted). */
  readonly writes: number;
  delayMs: number;
  /** Stores a ConfigMap as another editor would: new resourceVersion, uid kept. Returns the stored object. */
  put(cm: ConfigMap): ConfigMap;
  get(namespace: string, name: string): ConfigMap | undefined;
  delete(namespace: string, name: string): boolean;
  /** Runs `fn` once, just before the next API write is checked and applied. */
  beforeWrite(fn: (standin: KubeStandin) => void | Promise<void>): void;
  /** The next `n` ConfigMap API requests fail with `status` (before authentication). */
  failNext(n: number, status?: number, opts?: FailOptions): void;
  setClock(now: Date | (() => Date)): void;
  /** Makes STS treat the access key's credentials as expired; tokens signed with it get 401. */
  expire(accessKeyId: string): void;
  addIdentity(accessKeyId: string, identity: StsIdentity): void;
  close(): Promise<void>;
}

interface KubeStatus {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; kind?: string; uid?: string; causes?: { reason: string; message: string; field: string }[] };
  code: number;
}

interface Principal {
  arn: string;
  canonical: string;
  username: string;
  groups: string[];
  admin: boolean;
  /** Access policies of the caller's access entry. */
  policies: AccessGrant['policies'];
}

interface Reply {
  status: number;
  body: unknown;
}

type Verb = 'get' | 'list' | 'create' | 'update' | 'delete';

const MAX_CONFIGMAP_BYTES = 1024 * 1024;
const REASON_BY_CODE: Record<number, string> = { 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const CONFIGMAP_KEY = /^[-._a-zA-Z0-9]+$/;
const OBJECT_PATH = /^\/api\/v1\/namespaces\/([^/]+)\/configmaps(?:\/([^/]+))?$/;

/** An `aws-auth` ConfigMap in kube-system with the given data, for seeding and hooks. */
export function awsAuthConfigMap(data: Record<string, string>): ConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: AWS_AUTH_NAME, namespace: AWS_AUTH_NAMESPACE }, data };
}

/** Starts the stand-in on a random port of 127.0.0.1. */
export async function startKubeStandin(opts: KubeStandinOptions): Promise<KubeStandin> {
  const standin = new Standin(opts);
  await standin.listen();
  return standin;
}

class Standin implements KubeStandin {
  readonly caPem: string;
  readonly clusterName: string;
  readonly log: RequestLogEntry[] = [];
  readonly authFailures: string[] = [];
  delayMs: number;
  #writes = 0;
  #url = '';
  #resourceVersion = 1000;
  readonly #server: Server;
  readonly #store = new Map<string, ConfigMap>();
  readonly #namespaces = new Set(['default', 'kube-system', 'kube-public', 'kube-node-lease']);
  readonly #identities: Map<string, StsIdentity>;
  readonly #expired = new Set<string>();
  readonly #admins: Set<string>;
  readonly #writerGroups: string[];
  readonly #readerGroups: string[];
  readonly #accessEntries: AccessEntryView | undefined;
  #now: () => Date;
  #beforeWrite: ((standin: KubeStandin) => void | Promise<void>) | undefined;
  #failures: { status: number; afterApply: boolean; reset: boolean }[] = [];

  constructor(opts: KubeStandinOptions) {
    const tls = opts.tls ?? generateTls();
    this.caPem = tls.caPem;
    this.clusterName = opts.clusterName;
    this.delayMs = opts.delayMs ?? 0;
    this.#identities = new Map(Object.entries(opts.identities));
    this.#admins = new Set((opts.admins ?? []).map((arn) => canonicalArn(arn).toLowerCase()));
    this.#writerGroups = opts.writerGroups ?? ['system:masters'];
    this.#readerGroups = opts.readerGroups ?? [];
    this.#accessEntries = opts.accessEntries;
    this.#now = opts.now ?? (() => new Date());
    for (const cm of opts.configMaps ?? []) this.put(cm);
    this.#server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
      this.#handle(req, res).catch((err: unknown) => {
        res.writeHead(500).end(String(err));
      });
    });
  }

  get url(): string {
    return this.#url;
  }

  get writes(): number {
    return this.#writes;
  }

  async listen(): Promise<void> {
    this.#url = `https://127.0.0.1:${await listenLoopback(this.#server)}`;
  }

  put(cm: ConfigMap): ConfigMap {
    const namespace = cm.metadata.namespace ?? 'default';
    const existing = this.#store.get(key(namespace, cm.metadata.name));
    const stored: ConfigMap = structuredClone(cm);
    stored.metadata = this.#stamp(stored.metadata, namespace, existing);
    this.#namespaces.add(namespace);
    this.#store.set(key(namespace, cm.metadata.name), stored);
    return structuredClone(stored);
  }

  get(namespace: string, name: string): ConfigMap | undefined {
    const cm = this.#store.get(key(namespace, name));
    return cm && structuredClone(cm);
  }

  delete(namespace: string, name: string): boolean {
    return this.#store.delete(key(namespace, name));
  }

  beforeWrite(fn: (standin: KubeStandin) => void | Promise<void>): void {
    this.#beforeWrite = fn;
  }

  failNext(n: number, status = 500, opts: FailOptions = {}): void {
    for (let i = 0; i < n; i++) this.#failures.push({ status, afterApply: opts.afterApply ?? false, reset: opts.reset ?? false });
  }

  setClock(now: Date | (() => Date)): void {
    this.#now = now instanceof Date ? () => now : now;
  }

  expire(accessKeyId: string): void {
    this.#expired.add(accessKeyId);
  }

  addIdentity(accessKeyId: string, identity: StsIdentity): void {
    this.#identities.set(accessKeyId, identity);
    this.#expired.delete(accessKeyId);
  }

  /** Closing an already closed stand-in is allowed (a test may stop it early to see clients fail). */
  close(): Promise<void> {
    return closeServer(this.#server).catch(() => undefined);
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs).unref());
    const method = req.method ?? 'GET';
    const path = new URL(req.url ?? '/', 'https://127.0.0.1').pathname;
    const entry: RequestLogEntry = { method, path, status: 0 };
    const reply = ({ status, body: payload }: Reply): void => {
      entry.status = status;
      this.log.push(entry);
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(payload));
    };

    const fail = (f: { status: number; reset: boolean }): void => {
      if (!f.reset) return reply(failureReply(f.status));
      entry.status = 0;
      this.log.push(entry);
      req.socket.destroy();
    };

    const objectPath = OBJECT_PATH.exec(path);
    const failure = objectPath ? this.#failures.shift() : undefined;
    const isWrite = method !== 'GET';
    if (failure && !(failure.afterApply && isWrite)) return fail(failure);

    const principal = this.#authenticate(req.headers.authorization);
    if (typeof principal === 'string') {
      this.authFailures.push(principal);
      return reply(status(401, 'Unauthorized', 'Unauthorized'));
    }
    entry.principal = principal.canonical;

    if (!objectPath) return reply(this.#discovery(method, path));
    const namespace = decodeURIComponent(objectPath[1] ?? '');
    const name = objectPath[2] === undefined ? undefined : decodeURIComponent(objectPath[2]);
    const verb = verbOf(method, name);
    if (verb === undefined) return reply(methodNotAllowed());
    if (!this.#allowed(principal, verb, namespace)) return reply(forbidden(principal.username, verb, namespace, name));

    if (verb === 'get' || verb === 'list') return reply(this.#read(namespace, name));
    let result: Reply;
    if (verb === 'delete') result = await this.#delete(namespace, name);
    else {
      const sent = parseObject(body);
      if (verb === 'update' && !(sent instanceof Array)) entry.resourceVersion = sent.metadata?.resourceVersion;
      result = await this.#write(verb, namespace, name, sent);
    }
    if (failure && result.status < 300) return fail(failure);
    return reply(result);
  }

  /** Authenticates like EKS: verify the token, then map the ARN through its access entry or aws-auth, as the mode says. */
  #authenticate(header: string | undefined): Principal | string {
    if (!header?.startsWith('Bearer ')) return 'no bearer token';
    const verified = verifyEksToken(header.slice('Bearer '.length), {
      clusterName: this.clusterName,
      now: this.#now(),
      identity: (id) => this.#identities.get(id),
      isExpired: (id) => this.#expired.has(id),
    });
    if (!verified.ok) return verified.reason;
    const canonical = canonicalArn(verified.arn);
    if (this.#admins.has(canonical.toLowerCase())) {
      return { arn: verified.arn, canonical, username: verified.arn, groups: [], admin: true, policies: [] };
    }
    const render = (username: string) => expandTemplate(username || verified.arn, verified.arn, verified.accessKeyId);
    const mode = this.#accessEntries?.authenticationMode() ?? 'CONFIG_MAP';
    // For a principal with both, the access entry wins; in API mode aws-auth is not read at all.
    const entry = mode === 'CONFIG_MAP' ? undefined : this.#accessEntries?.find(verified.arn);
    if (entry) {
      return { arn: verified.arn, canonical, username: render(entry.username), groups: entry.kubernetesGroups, admin: false, policies: entry.policies };
    }
    if (mode === 'API') return `ARN ${canonical} has no access entry (authentication mode API ignores aws-auth)`;
    const mapped = lookup(parseAwsAuth(this.#store.get(key(AWS_AUTH_NAMESPACE, AWS_AUTH_NAME))), canonical);
    if (!mapped) return `ARN ${canonical} is not mapped in aws-auth and has no access entry`;
    return { arn: verified.arn, canonical, username: render(mapped.username), groups: mapped.groups, admin: false, policies: [] };
  }

  /** RBAC for the aws-auth binding's groups, plus what the entry's access policies grant in `namespace`. */
  #allowed(principal: Principal, verb: Verb, namespace: string): boolean {
    if (principal.admin) return true;
    const read = verb === 'get' || verb === 'list';
    const has = (groups: string[]) => principal.groups.some((g) => groups.includes(g));
    if (has(this.#writerGroups) || (read && has(this.#readerGroups))) return true;
    return principal.policies.some((p) => {
      const name = p.policyArn.slice(p.policyArn.lastIndexOf('/') + 1);
      if (name === 'AmazonEKSClusterAdminPolicy') return true;
      if (!inScope(p.accessScope, namespace)) return false;
      return POLICY_WRITES.has(name) || (read && POLICY_READS.has(name));
    });
  }

  #read(namespace: string, name: string | undefined): Reply {
    if (name === undefined) {
      const items = [...this.#store.values()].filter((cm) => cm.metadata.namespace === namespace);
      return { status: 200, body: { kind: 'ConfigMapList', apiVersion: 'v1', metadata: { resourceVersion: String(this.#resourceVersion) }, items } };
    }
    const cm = this.#store.get(key(namespace, name));
    return cm ? { status: 200, body: cm } : notFound(name);
  }

  async #delete(namespace: string, name: string | undefined): Promise<Reply> {
    await this.#runBeforeWrite();
    const existing = name === undefined ? undefined : this.#store.get(key(namespace, name));
    if (!existing || name === undefined) return notFound(name ?? '');
    this.#store.delete(key(namespace, name));
    this.#writes++;
    return { status: 200, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: 'configmaps', uid: existing.metadata.uid }, code: 200 } };
  }

  /** Create and update of the decoded body, checked in the API server's order: decode, name, storage preconditions, validation. */
  async #write(verb: 'create' | 'update', namespace: string, name: string | undefined, sent: ConfigMap | [Reply]): Promise<Reply> {
    if (sent instanceof Array) return sent[0];
    if (sent.metadata.namespace !== undefined && sent.metadata.namespace !== namespace) {
      return status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (verb === 'update' && sent.metadata.name !== name) {
      return status(400, 'BadRequest', `the name of the object (${sent.metadata.name ?? ''}) does not match the name on the URL (${name ?? ''})`);
    }
    if (!this.#namespaces.has(namespace)) return status(404, 'NotFound', `namespaces "${namespace}" not found`, { name: namespace, kind: 'namespaces' });
    const objectName = sent.metadata.name ?? '';

    if (verb === 'create') {
      if (sent.metadata.resourceVersion) return status(500, 'InternalError', 'resourceVersion should not be set on objects to be created');
      const invalid = validate(sent, objectName);
      if (invalid) return invalid;
      await this.#runBeforeWrite();
      if (this.#store.has(key(namespace, objectName))) {
        return status(409, 'AlreadyExists', `configmaps "${objectName}" already exists`, { name: objectName, kind: 'configmaps' });
      }
      return { status: 201, body: this.#apply(sent, namespace, undefined) };
    }

    await this.#runBeforeWrite();
    const existing = this.#store.get(key(namespace, objectName));
    if (!existing) return notFound(objectName);
    // ConfigMaps allow unconditional updates: an empty resourceVersion overwrites whatever is there.
    const precondition = sent.metadata.resourceVersion;
    if (precondition && precondition !== existing.metadata.resourceVersion) {
      return status(
        409,
        'Conflict',
        `Operation cannot be fulfilled on configmaps "${objectName}": the object has been modified; please apply your changes to the latest version and try again`,
        { name: objectName, kind: 'configmaps' },
      );
    }
    const invalid = validate(sent, objectName);
    if (invalid) return invalid;
    return { status: 200, body: this.#apply(sent, namespace, existing) };
  }

  #apply(sent: ConfigMap, namespace: string, existing: ConfigMap | undefined): ConfigMap {
    const { uid: _uid, resourceVersion: _rv, creationTimestamp: _ct, ...metadata } = sent.metadata;
    const stored: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: this.#stamp(metadata, namespace, existing) };
    // The API server prunes unknown top-level fields.
    if (sent.data !== undefined) stored.data = sent.data;
    if (sent['binaryData'] !== undefined) stored['binaryData'] = sent['binaryData'];
    if (sent['immutable'] !== undefined) stored['immutable'] = sent['immutable'];
    this.#store.set(key(namespace, metadata.name), stored);
    this.#writes++;
    return structuredClone(stored);
  }

  /** `metadata` as stored: in `namespace`, with a new resourceVersion; uid and creationTimestamp kept from `existing`, or new. */
  #stamp(metadata: ObjectMeta, namespace: string, existing: ConfigMap | undefined): ObjectMeta {
    return {
      ...metadata,
      namespace,
      uid: existing?.metadata.uid ?? randomUUID(),
      resourceVersion: this.#nextResourceVersion(),
      creationTimestamp: existing?.metadata['creationTimestamp'] ?? this.#timestamp(),
    };
  }

  async #runBeforeWrite(): Promise<void> {
    const fn = this.#beforeWrite;
    this.#beforeWrite = undefined;
    await fn?.(this);
  }

  #discovery(method: string, path: string): Reply {
    if (method !== 'GET') return methodNotAllowed();
    const host = new URL(this.#url).host;
    switch (path) {
      case '/version':
        return { status: 200, body: { major: '1', minor: '31', gitVersion: 'v1.31.4-eks-standin', gitCommit: '0', gitTreeState: 'clean', buildDate: '2026-01-01T00:00:00Z', goVersion: 'go1.22.0', compiler: 'gc', platform: 'linux/amd64' } };
      case '/api':
        return { status: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress: host }] } };
      case '/apis':
        return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups: [] } };
      case '/api/v1':
        return {
          status: 200,
          body: {
            kind: 'APIResourceList',
            groupVersion: 'v1',
            resources: [
              { name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['create', 'delete', 'get', 'list', 'update'], shortNames: ['cm'] },
              { name: 'namespaces', singularName: 'namespace', namespaced: false, kind: 'Namespace', verbs: ['get', 'list'], shortNames: ['ns'] },
            ],
          },
        };
      default:
        return status(404, 'NotFound', 'the server could not find the requested resource');
    }
  }

  #nextResourceVersion(): string {
    this.#resourceVersion += 1;
    return String(this.#resourceVersion);
  }

  #timestamp(): string {
    return this.#now().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }
}

/** Access policies that map to the admin and edit ClusterRoles (ConfigMaps writable), and those that map to view. */
const POLICY_WRITES = new Set(['AmazonEKSAdminPolicy', 'AmazonEKSEditPolicy']);
const POLICY_READS = new Set(['AmazonEKSViewPolicy', 'AmazonEKSAdminViewPolicy']);

function inScope(scope: AccessScope, namespace: string): boolean {
  if (scope.type === 'cluster') return true;
  return scope.namespaces.some((n) => (n.endsWith('*') ? namespace.startsWith(n.slice(0, -1)) : n === namespace));
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function verbOf(method: string, name: string | undefined): Verb | undefined {
  if (name === undefined) return method === 'GET' ? 'list' : method === 'POST' ? 'create' : undefined;
  return ({ GET: 'get', PUT: 'update', DELETE: 'delete' } as Record<string, Verb>)[method];
}

function status(code: number, reason: string, message: string, details?: KubeStatus['details']): Reply {
  const body: KubeStatus = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
  if (details) body.details = details;
  return { status: code, body };
}

function methodNotAllowed(): Reply {
  return status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

function notFound(name: string): Reply {
  return status(404, 'NotFound', `configmaps "${name}" not found`, { name, kind: 'configmaps' });
}

function failureReply(code: number): Reply {
  return status(code, REASON_BY_CODE[code] ?? 'InternalError', `injected failure (HTTP ${code})`);
}

function forbidden(username: string, verb: Verb, namespace: string, name: string | undefined): Reply {
  const subject = name === undefined ? 'configmaps' : `configmaps "${name}"`;
  return status(
    403,
    'Forbidden',
    `${subject} is forbidden: User "${username}" cannot ${verb} resource "configmaps" in API group "" in the namespace "${namespace}"`,
    name === undefined ? { kind: 'configmaps' } : { name, kind: 'configmaps' },
  );
}

/** Decodes a request body into a ConfigMap, or the 400 the API server would give. */
function parseObject(body: string): ConfigMap | [Reply] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    return [status(400, 'BadRequest', `the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: ${(err as Error).message}`)];
  }
  const obj = parsed as Partial<ConfigMap> | null;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return [status(400, 'BadRequest', 'the object provided is unrecognized (must be of type ConfigMap)')];
  if (obj.kind !== 'ConfigMap' || obj.apiVersion !== 'v1') {
    return [status(400, 'BadRequest', `the object provided is unrecognized (must be of type ConfigMap): ${String(obj.apiVersion)}, Kind=${String(obj.kind)}`)];
  }
  if (typeof obj.metadata !== 'object' || obj.metadata === null) return [status(400, 'BadRequest', 'the object provided has no metadata')];
  return obj as ConfigMap;
}

/** ConfigMap validation as in k8s.io/kubernetes pkg/apis/core/validation. */
function validate(cm: ConfigMap, name: string): Reply | undefined {
  const causes: { reason: string; message: string; field: string }[] = [];
  if (name === '') causes.push({ reason: 'FieldValueRequired', message: 'Required value: name or generateName is required', field: 'metadata.name' });
  else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${name}": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`, field: 'metadata.name' });
  }
  let size = 0;
  for (const [k, v] of Object.entries(cm.data ?? {})) {
    if (!CONFIGMAP_KEY.test(k)) causes.push({ reason: 'FieldValueInvalid', message: `Invalid value: "${k}": a valid config key must consist of alphanumeric characters, '-', '_' or '.'`, field: `data[${k}]` });
    if (typeof v !== 'string') causes.push({ reason: 'FieldValueTypeInvalid', message: 'Invalid value: must be a string', field: `data[${k}]` });
    size += Buffer.byteLength(k) + Buffer.byteLength(typeof v === 'string' ? v : '');
  }
  if (size > MAX_CONFIGMAP_BYTES) causes.push({ reason: 'FieldValueTooLong', message: `Too long: must have at most ${MAX_CONFIGMAP_BYTES} bytes`, field: '[]' });
  if (causes.length === 0) return undefined;
  const message = `ConfigMap "${name}" is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`;
  return status(422, 'Invalid', message, { name, kind: 'ConfigMap', causes });
}

/** The ARN the authenticator matches on: assumed-role → role ARN without path; others unchanged. */
function canonicalArn(arn: string): string {
  const m = /^arn:([^:]+):sts::(\d+):assumed-role\/([^/]+)\/.+$/.exec(arn);
  return m ? `arn:${m[1]}:iam::${m[2]}:role/${m[3]}` : arn;
}

interface Mapping {
  username: string;
  groups: string[];
}

interface AwsAuthMaps {
  roles: Map<string, Mapping>;
  users: Map<string, Mapping>;
  accounts: Set<string>;
}

/**
 * Reads aws-auth the way the authenticator does: each key is a YAML string; entry fields are
 * matched case-insensitively; a syntax or type error anywhere in a key drops that key's every
 * mapping; an entry without its ARN is skipped alone; a later duplicate wins.
 */
function parseAwsAuth(cm: ConfigMap | undefined): AwsAuthMaps {
  return {
    roles: parseEntries(cm?.data?.['mapRoles'], 'rolearn'),
    users: parseEntries(cm?.data?.['mapUsers'], 'userarn'),
    accounts: new Set(parseList(cm?.data?.['mapAccounts']).map(String)),
  };
}

function parseEntries(text: string | undefined, arnField: 'rolearn' | 'userarn'): Map<string, Mapping> {
  const out = new Map<string, Mapping>();
  const entries = parseList(text);
  const parsed: [string, Mapping][] = [];
  for (const entry of entries) {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return out;
    const fields = new Map(Object.entries(entry).map(([k, v]) => [k.toLowerCase(), v as unknown]));
    const arn = fields.get(arnField);
    const username = fields.get('username') ?? '';
    const groups = fields.get('groups') ?? [];
    // A wrongly typed field fails Go's unmarshal of the whole list.
    if ((arn !== undefined && typeof arn !== 'string') || typeof username !== 'string') return out;
    if (!Array.isArray(groups) || !groups.every((g): g is string => typeof g === 'string')) return out;
    if (typeof arn === 'string' && arn !== '') parsed.push([arn.toLowerCase(), { username, groups }]);
  }
  for (const [arn, mapping] of parsed) out.set(arn, mapping);
  return out;
}

function parseList(text: string | undefined): unknown[] {
  if (text === undefined) return [];
  try {
    const value: unknown = parseYaml(text);
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}

function lookup(maps: AwsAuthMaps, canonical: string): Mapping | undefined {
  const lower = canonical.toLowerCase();
  const found = maps.roles.get(lower) ?? maps.users.get(lower);
  if (found) return found;
  const account = /^arn:[^:]+:iam::(\d+):/.exec(canonical)?.[1];
  return account !== undefined && maps.accounts.has(account) ? { username: canonical, groups: [] } : undefined;
}

function expandTemplate(username: string, arn: string, accessKeyId: string): string {
  const account = /^arn:[^:]+:[^:]+::(\d+):/.exec(arn)?.[1] ?? '';
  const session = /assumed-role\/[^/]+\/(.+)$/.exec(arn)?.[1] ?? '';
  return username
    .replaceAll('{{AccountID}}', account)
    .replaceAll('{{SessionNameRaw}}', session)
    .replaceAll('{{SessionName}}', session.replaceAll('@', '-'))
    .replaceAll('{{AccessKeyID}}', accessKeyId);
}
