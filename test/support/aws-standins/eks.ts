import { AccessEntryStore, type AccessEntry, type AssociatedPolicy, type IamDirectory, type SeedAccessEntry } from './access-entries.js';
import type { AccessEntryView, AccessScope } from './access-view.js';
import { restJsonProtocol, type RestRoute } from './protocols.js';
import { ServiceError, startServer, type ServerOptions, type StandinServer } from './server.js';
import type { WireRequest } from './sigv4.js';

/** A cluster the EKS stand-in describes. */
export interface EksClusterSpec {
  name: string;
  /** The API server URL, e.g. the Kubernetes stand-in's `https://127.0.0.1:PORT`. */
  endpoint: string;
  /** The cluster CA certificate, PEM; DescribeCluster returns it base64-encoded, as EKS does. */
  caPem: string;
  /** @default '1.31' */
  version?: string;
  /** @default 'ACTIVE' */
  status?: string;
  /** @default 'API_AND_CONFIG_MAP' */
  authenticationMode?: 'CONFIG_MAP' | 'API_AND_CONFIG_MAP' | 'API';
  /** Entries EKS created itself (see clusterCreatorEntry, nodeRoleEntry, fargateProfileEntry); seeded when missing. @default [] */
  accessEntries?: readonly SeedAccessEntry[];
}

/** Options for `startEks`. */
export interface EksStandinOptions extends ServerOptions {
  region: string;
  accountId: string;
  clusters: readonly EksClusterSpec[];
  /** @default 'aws' */
  partition?: string;
  /** IAM's roles and users, so CreateAccessEntry refuses principals IAM lacks or names without their path. @default no check */
  iam?: IamDirectory;
  /** How long an access-entry change takes to reach the clusters' authorisers (`accessView`). @default 0 */
  consistencyLagMs?: number;
}

/** The EKS stand-in: clusters can be added or changed once the Kubernetes stand-in is up. */
export interface EksStandin extends StandinServer {
  /** Adds or replaces a cluster; its access entries stay, and missing `spec.accessEntries` are seeded. */
  putCluster(spec: EksClusterSpec): void;
  /** Removes a cluster and its access entries. */
  deleteCluster(name: string): void;
  /** A cluster's access entries as the API has them now, sorted by principal ARN. */
  accessEntries(clusterName: string): AccessEntry[];
  /** Adds an entry as EKS itself does (cluster creator, node role), without a caller's checks. */
  seedAccessEntry(clusterName: string, seed: SeedAccessEntry): AccessEntry;
  /** What the cluster's authoriser sees, for the Kubernetes stand-in's `accessEntries` option. */
  accessView(clusterName: string): AccessEntryView;
  setConsistencyLag(ms: number): void;
}

const ROUTES: readonly RestRoute[] = [
  { action: 'ListAccessPolicies', method: 'GET', path: '/access-policies' },
  { action: 'CreateAccessEntry', method: 'POST', path: '/clusters/{name}/access-entries' },
  { action: 'ListAccessEntries', method: 'GET', path: '/clusters/{name}/access-entries' },
  { action: 'DescribeAccessEntry', method: 'GET', path: '/clusters/{name}/access-entries/{principalArn}' },
  { action: 'UpdateAccessEntry', method: 'POST', path: '/clusters/{name}/access-entries/{principalArn}' },
  { action: 'DeleteAccessEntry', method: 'DELETE', path: '/clusters/{name}/access-entries/{principalArn}' },
  { action: 'AssociateAccessPolicy', method: 'POST', path: '/clusters/{name}/access-entries/{principalArn}/access-policies' },
  { action: 'ListAssociatedAccessPolicies', method: 'GET', path: '/clusters/{name}/access-entries/{principalArn}/access-policies' },
  { action: 'DisassociateAccessPolicy', method: 'DELETE', path: '/clusters/{name}/access-entries/{principalArn}/access-policies/{policyArn}' },
  { action: 'TagResource', method: 'POST', path: '/tags/{resourceArn}' },
  { action: 'UntagResource', method: 'DELETE', path: '/tags/{resourceArn}' },
  { action: 'ListTagsForResource', method: 'GET', path: '/tags/{resourceArn}' },
  { action: 'DescribeCluster', method: 'GET', path: '/clusters/{name}' },
];

/**
 * Starts the EKS stand-in (REST-JSON): DescribeCluster (`GET /clusters/{name}`), the access-entry
 * and access-policy API, and tags on access entries.
 */
export async function startEks(opts: EksStandinOptions): Promise<EksStandin> {
  const protocol = restJsonProtocol(ROUTES);
  const clusters = new Map(opts.clusters.map((c) => [c.name, c]));
  const partition = opts.partition ?? 'aws';
  const store = new AccessEntryStore({
    region: opts.region,
    accountId: opts.accountId,
    partition,
    now: opts.now ?? (() => new Date()),
    cluster: (name) => {
      const c = clusters.get(name);
      return c && { name, authenticationMode: c.authenticationMode ?? 'API_AND_CONFIG_MAP' };
    },
    ...(opts.iam === undefined ? {} : { iam: opts.iam }),
  });
  const seedMissing = (spec: EksClusterSpec): void => {
    const present = new Set(store.list(spec.name).map((e) => e.principalArn));
    for (const seed of spec.accessEntries ?? []) if (!present.has(seed.principalArn)) store.seed(spec.name, seed);
  };
  opts.clusters.forEach(seedMissing);
  if (opts.consistencyLagMs !== undefined) store.setLag(opts.consistencyLagMs);
  const params = (req: WireRequest) => {
    const p = protocol.pathParams(req);
    return { clusterName: p['name'] ?? '', principalArn: p['principalArn'] ?? '', policyArn: p['policyArn'] ?? '', resourceArn: p['resourceArn'] ?? '' };
  };
  const paging = (req: WireRequest, clusterName: string) => {
    const q = protocol.query(req);
    const max = q.get('maxResults');
    const token = q.get('nextToken');
    const maxResults = max === null ? undefined : Number(max);
    if (maxResults !== undefined && !Number.isInteger(maxResults)) throw invalidParameter(`maxResults must be an integer; ${max ?? ''} was given.`, clusterName);
    return { ...(maxResults === undefined ? {} : { maxResults }), ...(token === null ? {} : { nextToken: token }) };
  };
  const ok = (value: unknown, requestId: string) => protocol.result(value, requestId);
  const server = await startServer(
    {
      signingName: 'eks',
      regions: [opts.region],
      protocol,
      handlers: {
        DescribeCluster: (req, ctx) => {
          const name = protocol.pathParams(req).name ?? '';
          const c = clusters.get(name);
          if (c === undefined) throw new ServiceError(404, 'ResourceNotFoundException', `No cluster found for name: ${name}.`, { clusterName: name });
          const arn = `arn:aws:eks:${opts.region}:${opts.accountId}:cluster/${c.name}`;
          const cluster = {
            name: c.name,
            arn,
            createdAt: Date.UTC(2024, 1, 1) / 1000,
            version: c.version ?? '1.31',
            endpoint: c.endpoint,
            roleArn: `arn:aws:iam::${opts.accountId}:role/${c.name}-cluster-role`,
            resourcesVpcConfig: { subnetIds: ['subnet-0a1b2c3d4e5f60718'], securityGroupIds: [], vpcId: 'vpc-0123456789abcdef0', endpointPublicAccess: true, endpointPrivateAccess: true, publicAccessCidrs: ['0.0.0.0/0'] },
            kubernetesNetworkConfig: { serviceIpv4Cidr: '10.100.0.0/16', ipFamily: 'ipv4' },
            logging: { clusterLogging: [{ types: ['api', 'audit', 'authenticator', 'controllerManager', 'scheduler'], enabled: false }] },
            identity: { oidc: { issuer: `https://oidc.eks.${opts.region}.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF` } },
            status: c.status ?? 'ACTIVE',
            certificateAuthority: { data: Buffer.from(c.caPem).toString('base64') },
            platformVersion: 'eks.10',
            tags: {},
            accessConfig: { authenticationMode: c.authenticationMode ?? 'API_AND_CONFIG_MAP' },
          };
          return protocol.result({ cluster }, ctx.requestId);
        },
        CreateAccessEntry: (req, ctx) => {
          const { clusterName } = params(req);
          const b = fields(protocol.body(req), clusterName);
          const principalArn = b.string('principalArn');
          if (principalArn === undefined) throw invalidParameter('principalArn is required.', clusterName);
          const input = {
            principalArn,
            ...defined('type', b.string('type')),
            ...defined('username', b.string('username')),
            ...defined('kubernetesGroups', b.strings('kubernetesGroups')),
            ...defined('tags', b.map('tags')),
            ...defined('clientRequestToken', b.string('clientRequestToken')),
          };
          return ok({ accessEntry: entryJson(store.create(clusterName, input)) }, ctx.requestId);
        },
        DescribeAccessEntry: (req, ctx) => {
          const { clusterName, principalArn } = params(req);
          return ok({ accessEntry: entryJson(store.describe(clusterName, principalArn)) }, ctx.requestId);
        },
        UpdateAccessEntry: (req, ctx) => {
          const { clusterName, principalArn } = params(req);
          const b = fields(protocol.body(req), clusterName);
          const change = { ...defined('kubernetesGroups', b.strings('kubernetesGroups')), ...defined('username', b.string('username')) };
          return ok({ accessEntry: entryJson(store.update(clusterName, principalArn, change)) }, ctx.requestId);
        },
        DeleteAccessEntry: (req, ctx) => {
          const { clusterName, principalArn } = params(req);
          store.delete(clusterName, principalArn);
          return ok({}, ctx.requestId);
        },
        ListAccessEntries: (req, ctx) => {
          const { clusterName } = params(req);
          const filter = protocol.query(req).get('associatedPolicyArn');
          const page = store.listEntries(clusterName, { ...paging(req, clusterName), ...(filter === null ? {} : { associatedPolicyArn: filter }) });
          return ok({ accessEntries: page.items, ...defined('nextToken', page.nextToken) }, ctx.requestId);
        },
        AssociateAccessPolicy: (req, ctx) => {
          const { clusterName, principalArn } = params(req);
          const b = fields(protocol.body(req), clusterName);
          const policyArn = b.string('policyArn');
          const scope = b.scope('accessScope');
          if (policyArn === undefined || scope === undefined) throw invalidParameter('policyArn and accessScope are required.', clusterName);
          const associated = store.associate(clusterName, principalArn, policyArn, scope);
          return ok({ clusterName, principalArn, associatedAccessPolicy: policyJson(associated) }, ctx.requestId);
        },
        DisassociateAccessPolicy: (req, ctx) => {
          const { clusterName, principalArn, policyArn } = params(req);
          store.disassociate(clusterName, principalArn, policyArn);
          return ok({}, ctx.requestId);
        },
        ListAssociatedAccessPolicies: (req, ctx) => {
          const { clusterName, principalArn } = params(req);
          const page = store.listAssociated(clusterName, principalArn, paging(req, clusterName));
          return ok({ clusterName, principalArn, associatedAccessPolicies: page.items.map(policyJson), ...defined('nextToken', page.nextToken) }, ctx.requestId);
        },
        ListAccessPolicies: (req, ctx) => {
          const page = store.listPolicies(paging(req, ''));
          const accessPolicies = page.items.map((arn) => ({ name: arn.slice(arn.lastIndexOf('/') + 1), arn }));
          return ok({ accessPolicies, ...defined('nextToken', page.nextToken) }, ctx.requestId);
        },
        TagResource: (req, ctx) => {
          const { resourceArn } = params(req);
          const tags = fields(protocol.body(req), '').map('tags');
          if (tags === undefined) throw new ServiceError(400, 'BadRequestException', 'tags is required.');
          store.tag(resourceArn, tags);
          return ok({}, ctx.requestId);
        },
        UntagResource: (req, ctx) => {
          const { resourceArn } = params(req);
          store.untag(resourceArn, protocol.query(req).getAll('tagKeys'));
          return ok({}, ctx.requestId);
        },
        ListTagsForResource: (req, ctx) => ok({ tags: store.byArn(params(req).resourceArn).tags }, ctx.requestId),
      },
    },
    opts,
  );
  return {
    ...server,
    putCluster: (c) => {
      clusters.set(c.name, c);
      seedMissing(c);
    },
    deleteCluster: (name) => {
      clusters.delete(name);
      store.dropCluster(name);
    },
    accessEntries: (clusterName) => store.list(clusterName),
    seedAccessEntry: (clusterName, seed) => store.seed(clusterName, seed),
    accessView: (clusterName) => store.view(clusterName),
    setConsistencyLag: (ms) => store.setLag(ms),
  };
}

function invalidParameter(message: string, clusterName: string): ServiceError {
  return new ServiceError(400, 'InvalidParameterException', message, clusterName === '' ? {} : { clusterName });
}

/** `{ [key]: value }`, or `{}` when the value is absent, so optional members stay absent (exactOptionalPropertyTypes). */
function defined<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/** Typed reads of a request body; a member of the wrong type is EKS's InvalidParameterException. */
function fields(body: Record<string, unknown>, clusterName: string) {
  const wrong = (name: string, what: string) => invalidParameter(`${name} must be ${what}.`, clusterName);
  const strings = (name: string, value: unknown = body[name]): string[] | undefined => {
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string')) throw wrong(name, 'a list of strings');
    return value;
  };
  return {
    string(name: string): string | undefined {
      const v = body[name];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'string') throw wrong(name, 'a string');
      return v;
    },
    strings,
    map(name: string): Record<string, string> | undefined {
      const v = body[name];
      if (v === undefined || v === null) return undefined;
      if (typeof v !== 'object' || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) throw wrong(name, 'a map of strings');
      return v as Record<string, string>;
    },
    scope(name: string): AccessScope | undefined {
      const v = body[name];
      if (v === undefined || v === null) return undefined;
      const s = v as { type?: unknown; namespaces?: unknown };
      if (typeof v !== 'object' || (s.type !== 'cluster' && s.type !== 'namespace')) throw wrong(`${name}.type`, 'cluster or namespace');
      return { type: s.type, namespaces: strings(`${name}.namespaces`, s.namespaces) ?? [] };
    },
  };
}

const epochSeconds = (d: Date): number => d.getTime() / 1000;

function entryJson(e: AccessEntry) {
  return {
    clusterName: e.clusterName,
    principalArn: e.principalArn,
    kubernetesGroups: e.kubernetesGroups,
    accessEntryArn: e.accessEntryArn,
    createdAt: epochSeconds(e.createdAt),
    modifiedAt: epochSeconds(e.modifiedAt),
    tags: e.tags,
    username: e.username,
    type: e.type,
  };
}

function policyJson(p: AssociatedPolicy) {
  return { policyArn: p.policyArn, accessScope: p.accessScope, associatedAt: epochSeconds(p.associatedAt), modifiedAt: epochSeconds(p.modifiedAt) };
}
