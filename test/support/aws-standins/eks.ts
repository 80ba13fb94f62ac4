import { restJsonProtocol } from './protocols.js';
import { ServiceError, startServer, type ServerOptions, type StandinServer } from './server.js';

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
}

/** Options for `startEks`. */
export interface EksStandinOptions extends ServerOptions {
  region: string;
  accountId: string;
  clusters: readonly EksClusterSpec[];
}

/** The EKS stand-in: clusters can be added or changed once the Kubernetes stand-in is up. */
export interface EksStandin extends StandinServer {
  putCluster(spec: EksClusterSpec): void;
  deleteCluster(name: string): void;
}

/** Starts the EKS stand-in (REST-JSON): DescribeCluster (`GET /clusters/{name}`). */
export async function startEks(opts: EksStandinOptions): Promise<EksStandin> {
  const protocol = restJsonProtocol([{ action: 'DescribeCluster', method: 'GET', path: '/clusters/{name}' }]);
  const clusters = new Map(opts.clusters.map((c) => [c.name, c]));
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
      },
    },
    opts,
  );
  return { ...server, putCluster: (c) => void clusters.set(c.name, c), deleteCluster: (name) => void clusters.delete(name) };
}
