/**
 * Where the cluster's API server is and which CA its TLS certificate must chain to.
 */
import { X509Certificate } from 'node:crypto';
import { DescribeClusterCommand, type Cluster, type EKSClient } from '@aws-sdk/client-eks';
import {
  AwsCredentialsError,
  ClusterAccessDeniedError,
  ClusterEndpointError,
  ClusterNotFoundError,
  EksAuthSyncError,
} from '../errors.js';
import { isRejectedCredentials } from '../aws.js';
import { regionPartition } from './token.js';

/** What eks-auth-sync needs to reach a cluster, checked: an https endpoint and a PEM CA. */
export interface ClusterInfo {
  name: string;
  arn: string;
  accountId: string;
  partition: string;
  region: string;
  /** `https://…`, never anything else. */
  endpoint: string;
  /** The cluster CA as PEM; TLS to `endpoint` is verified against it and nothing else. */
  caPem: string;
  status?: string;
  /** CONFIG_MAP, API_AND_CONFIG_MAP or API (in API mode aws-auth is ignored). */
  authenticationMode?: string;
}

/**
 * Calls eks:DescribeCluster and returns the cluster's endpoint and CA, refusing an endpoint
 * that is not https or a CA that is not a PEM certificate.
 * @example const cluster = await describeCluster(clientFactory(config.aws, {}).eks(), 'prod');
 */
export async function describeCluster(eks: EKSClient, name: string): Promise<ClusterInfo> {
  const region = await eks.config.region();
  let cluster: Cluster | undefined;
  try {
    cluster = (await eks.send(new DescribeClusterCommand({ name }))).cluster;
  } catch (err) {
    throw describeError(err, name, region);
  }
  const where = `EKS cluster "${name}" in ${region}`;
  const arnMatch = /^arn:([^:]+):eks:([^:]+):(\d{12}):cluster\/(.+)$/.exec(cluster?.arn ?? '');
  if (!cluster || !arnMatch) {
    throw new EksAuthSyncError(`DescribeCluster for ${where} returned no cluster ARN; retry, and report it if it persists.`);
  }
  const [arn, partition = '', arnRegion = '', accountId = ''] = arnMatch;
  const status = cluster.status;

  if (!cluster.endpoint) {
    throw new ClusterEndpointError(
      `${where} has no API endpoint yet (status ${status ?? 'unknown'}); wait until it is ACTIVE and retry.`,
    );
  }
  let endpointUrl: URL | undefined;
  try {
    endpointUrl = new URL(cluster.endpoint);
  } catch {
    endpointUrl = undefined;
  }
  if (endpointUrl?.protocol !== 'https:') {
    throw new ClusterEndpointError(
      `${where} reports the API endpoint "${cluster.endpoint}", which is not an https URL; ` +
        'eks-auth-sync only talks to the API server over verified TLS.',
    );
  }

  const caPem = decodeCa(cluster.certificateAuthority?.data, where);
  return {
    name,
    arn,
    accountId,
    partition,
    region: arnRegion,
    endpoint: cluster.endpoint,
    caPem,
    ...(status !== undefined && { status }),
    ...(cluster.accessConfig?.authenticationMode !== undefined && { authenticationMode: cluster.accessConfig.authenticationMode }),
  };
}

function decodeCa(data: string | undefined, where: string): string {
  const pem = Buffer.from(data ?? '', 'base64').toString('utf8');
  const problem = `${where} reports a certificate authority that is not a base64-encoded PEM certificate`;
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new ClusterEndpointError(`${problem}; TLS cannot be verified, so nothing is sent to the cluster.`);
  }
  try {
    new X509Certificate(pem);
  } catch (err) {
    throw new ClusterEndpointError(
      `${problem} (${(err as Error).message}); TLS cannot be verified, so nothing is sent to the cluster.`,
    );
  }
  return pem;
}

function describeError(err: unknown, name: string, region: string): unknown {
  if (!(err instanceof Error)) return err;
  if (err.name === 'ResourceNotFoundException') {
    return new ClusterNotFoundError(
      `EKS cluster "${name}" was not found in region ${region}; check the cluster name and the region ` +
        '(a cluster is only visible in the region it was created in).',
    );
  }
  if (err.name === 'AccessDeniedException' || err.name === 'AccessDenied') {
    const resource =
      /on resource: (arn:\S+)/.exec(err.message)?.[1] ??
      `arn:${regionPartition(region).partition}:eks:${region}:<account-id>:cluster/${name}`;
    return new ClusterAccessDeniedError(
      `Not allowed to describe EKS cluster "${name}" in ${region}: grant the identity running eks-auth-sync ` +
        `eks:DescribeCluster on ${resource}. AWS said: ${err.message}`,
    );
  }
  if (isRejectedCredentials(err)) {
    return new AwsCredentialsError(
      `AWS rejected the credentials used to describe EKS cluster "${name}" in ${region} (${err.name}); ` +
        'refresh them (e.g. `aws sso login`, or check the role the Lambda runs as) and retry.',
    );
  }
  // Throttling, 5xx and connection errors that outlasted the retries: the bare message would not say which call failed.
  return new EksAuthSyncError(
    `DescribeCluster for EKS cluster "${name}" in ${region} failed (${err.name}: ${err.message}); run again later, and report it if it persists.`,
    { cause: err },
  );
}
