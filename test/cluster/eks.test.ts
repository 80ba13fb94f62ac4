/**
 * DescribeCluster through the SDK's EKS client as clientFactory configures it, against the EKS
 * stand-in, which verifies every request's SigV4 signature as EKS does.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clientFactory } from '../../lambda/aws.js';
import { describeCluster } from '../../lambda/cluster/eks.js';
import {
  AwsCredentialsError,
  ClusterAccessDeniedError,
  ClusterEndpointError,
  ClusterNotFoundError,
  EksAuthSyncError,
} from '../../lambda/errors.js';
import { startEks, type EksStandin } from '../support/aws-standins/eks.js';
import { ServiceError, type StandinCredential } from '../support/aws-standins/index.js';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.js';
import { closeServer, listenLoopback } from '../support/listen.js';
import { generateTls } from '../support/tls.js';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const ARN = `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/prod`;
const API_ENDPOINT = 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com';
const TIMEOUTS = { connectionTimeout: 2_000, requestTimeout: 2_000 };

const KEY: StandinCredential = {
  accessKeyId: 'ASIAEKSTESTEXAMPLE01',
  secretAccessKey: 'eks/Test/Secret/not+a+real+one/000000000',
  sessionToken: 'IQoJb3JpZ2luX2VjEksTestSessionTokenNotReal',
  arn: `arn:aws:sts::${ACCOUNT}:assumed-role/eks-auth-sync/eks-auth-sync`,
};
const keyCredentials = async () => ({ accessKeyId: KEY.accessKeyId, secretAccessKey: KEY.secretAccessKey, sessionToken: KEY.sessionToken });

let caPem: string;
let eks: EksStandin;

beforeAll(async () => {
  caPem = generateTls('eks-test').caPem;
  eks = await startEks({ region: REGION, accountId: ACCOUNT, clusters: [], credentials: new Map([[KEY.accessKeyId, KEY]]) });
});
afterAll(async () => {
  await eks?.close();
});
beforeEach(() => {
  eks.reset();
  eks.intercept(undefined);
  eks.putCluster({ name: 'prod', endpoint: API_ENDPOINT, caPem, authenticationMode: 'API_AND_CONFIG_MAP' });
});
afterEach(() => {
  vi.unstubAllEnvs();
});

/** The EKS client of clientFactory pointed at the stand-in, with the stand-in's key unless told otherwise. */
function api(
  opts: { endpoint?: string; maxRetries?: number; credentials?: AwsCredentialIdentityProvider; timeouts?: typeof TIMEOUTS; deadline?: Date } = {},
): EKSClient {
  const settings = { endpoints: { eks: opts.endpoint ?? eks.endpoint }, ...(opts.maxRetries !== undefined && { maxRetries: opts.maxRetries }) };
  // Backoff in thousandths of the SDK's, so a long burst passes in milliseconds.
  const retry = { delayScale: 0.001, ...(opts.deadline !== undefined && { deadline: opts.deadline }) };
  const client = clientFactory(settings, { region: REGION, timeouts: opts.timeouts ?? TIMEOUTS, retry }).eks();
  client.config.credentials = opts.credentials ?? keyCredentials;
  return client;
}

/** Environment for the SDK's default credential chain: the stand-in's key, no shared files. */
function stubEnvCredentials(): void {
  vi.stubEnv('AWS_ACCESS_KEY_ID', KEY.accessKeyId);
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', KEY.secretAccessKey);
  vi.stubEnv('AWS_SESSION_TOKEN', KEY.sessionToken ?? '');
  vi.stubEnv('AWS_CONFIG_FILE', '/dev/null');
  vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/dev/null');
}

describe('describeCluster', () => {
  it('returns the https endpoint, the decoded CA and where the cluster lives, from a request EKS accepts', async () => {
    await expect(describeCluster(api(), 'prod')).resolves.toEqual({
      name: 'prod',
      arn: ARN,
      accountId: ACCOUNT,
      partition: 'aws',
      region: REGION,
      endpoint: API_ENDPOINT,
      caPem,
      status: 'ACTIVE',
      authenticationMode: 'API_AND_CONFIG_MAP',
    });
    expect(eks.calls()).toEqual({ DescribeCluster: 1 });
    expect(eks.authFailures()).toEqual({});
  });

  it('reads the partition and account of a China cluster from its ARN', async () => {
    const china = new EKSClient({ region: 'cn-north-1', credentials: keyCredentials });
    mockClient(china).on(DescribeClusterCommand, { name: 'prod' }).resolves({
      cluster: {
        arn: 'arn:aws-cn:eks:cn-north-1:444455556666:cluster/prod',
        endpoint: 'https://ABCDEF.yl4.cn-north-1.eks.amazonaws.com.cn',
        certificateAuthority: { data: Buffer.from(caPem).toString('base64') },
      },
    });
    const info = await describeCluster(china, 'prod');
    expect(info).toMatchObject({ partition: 'aws-cn', region: 'cn-north-1', accountId: '444455556666' });
    expect(info).not.toHaveProperty('authenticationMode');
  });

  it('signs with the credentials and region of the top-level aws settings and finds EKS through AWS_ENDPOINT_URL_EKS', async () => {
    stubEnvCredentials();
    vi.stubEnv('AWS_ENDPOINT_URL_EKS', eks.endpoint);
    const clients = clientFactory({ region: REGION }, {});
    const info = await describeCluster(clients.eks(), 'prod');
    expect(info.endpoint).toBe(API_ENDPOINT);
    expect(await clients.eks().config.credentials()).toMatchObject({ accessKeyId: KEY.accessKeyId });
    expect(clients.eks()).toBe(clients.eks());
  });

  it('prefers the configured aws.endpoints.eks to AWS_ENDPOINT_URL_EKS', async () => {
    stubEnvCredentials();
    vi.stubEnv('AWS_ENDPOINT_URL_EKS', 'http://127.0.0.1:9');
    const clients = clientFactory({ endpoints: { eks: eks.endpoint }, maxRetries: 0 }, { region: REGION });
    await expect(describeCluster(clients.eks(), 'prod')).resolves.toMatchObject({ arn: ARN });
  });

  it('URL-encodes the cluster name, so an odd name is looked up (and signed) as written', async () => {
    eks.putCluster({ name: 'team a+b', endpoint: API_ENDPOINT, caPem });
    await expect(describeCluster(api(), 'team a+b')).resolves.toMatchObject({ name: 'team a+b' });
    expect(eks.authFailures()).toEqual({});
  });

  it.each([
    ['http://ABCDEF.gr7.eu-west-1.eks.amazonaws.com', /"http:\/\/ABCDEF[^"]*", which is not an https URL/],
    ['ABCDEF.gr7.eu-west-1.eks.amazonaws.com', /not an https URL/],
    ['', /has no API endpoint yet \(status CREATING\).*wait until it is ACTIVE/],
  ])('refuses the cluster API endpoint %j', async (endpoint, message) => {
    eks.putCluster({ name: 'prod', endpoint, caPem, status: 'CREATING' });
    const failure = describeCluster(api(), 'prod');
    await expect(failure).rejects.toThrow(ClusterEndpointError);
    await expect(failure).rejects.toThrow(message);
  });

  it.each([
    ['not a PEM', 'not a certificate'],
    ['a PEM block with a corrupt body', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
  ])('refuses a CA that is %s', async (_label, badCa) => {
    eks.putCluster({ name: 'prod', endpoint: API_ENDPOINT, caPem: badCa });
    const failure = describeCluster(api(), 'prod');
    await expect(failure).rejects.toThrow(ClusterEndpointError);
    await expect(failure).rejects.toThrow(/EKS cluster "prod" in eu-west-1 .*not a base64-encoded PEM certificate/);
  });

  it('names the cluster and region when the cluster does not exist', async () => {
    const failure = describeCluster(api(), 'staging');
    await expect(failure).rejects.toThrow(ClusterNotFoundError);
    await expect(failure).rejects.toThrow(/"staging" was not found in region eu-west-1.*check the cluster name and the region/);
    expect(eks.calls()).toEqual({ DescribeCluster: 1 });
  });

  it('names eks:DescribeCluster and the cluster ARN AWS reported when access is denied', async () => {
    eks.intercept(
      () =>
        new ServiceError(
          403,
          'AccessDeniedException',
          `User: ${KEY.arn} is not authorized to perform: eks:DescribeCluster on resource: ${ARN}`,
        ),
    );
    const failure = describeCluster(api(), 'prod');
    await expect(failure).rejects.toThrow(ClusterAccessDeniedError);
    await expect(failure).rejects.toThrow(`grant the identity running eks-auth-sync eks:DescribeCluster on ${ARN}.`);
  });

  it('builds the cluster ARN from the region when AWS does not say which resource was denied', async () => {
    eks.intercept(() => new ServiceError(403, 'AccessDeniedException', 'Access denied'));
    await expect(describeCluster(api(), 'prod')).rejects.toThrow(
      'eks:DescribeCluster on arn:aws:eks:eu-west-1:<account-id>:cluster/prod',
    );
  });

  it.each([
    ['a wrong secret', { ...KEY, secretAccessKey: 'wrong' }, 'InvalidSignatureException'],
    ['an unknown key', { ...KEY, accessKeyId: 'AKIAUNKNOWNEXAMPLE01' }, 'UnrecognizedClientException'],
  ])('says to refresh credentials when EKS refuses %s', async (_label, key, code) => {
    const credentials = async () => ({ accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey, sessionToken: key.sessionToken });
    const failure = describeCluster(api({ credentials }), 'prod');
    await expect(failure).rejects.toThrow(AwsCredentialsError);
    await expect(failure).rejects.toThrow(`(${code}); refresh them`);
  });

  it('says to refresh credentials when EKS says they expired', async () => {
    eks.intercept(() => new ServiceError(403, 'ExpiredTokenException', 'The security token included in the request is expired'));
    await expect(describeCluster(api(), 'prod')).rejects.toThrow(/\(ExpiredTokenException\); refresh them/);
  });

  it('rides out throttling and returns the cluster', async () => {
    eks.throttleNext(1);
    await expect(describeCluster(api(), 'prod')).resolves.toMatchObject({ arn: ARN });
    expect(eks.throttled()).toEqual({ DescribeCluster: 1 });
    expect(eks.calls()).toEqual({ DescribeCluster: 2 });
  });

  it('rides out a reset connection and returns the cluster', async () => {
    const proxy: FaultProxy = await startFaultProxy(eks.endpoint);
    try {
      proxy.resetNext(1);
      await expect(describeCluster(api({ endpoint: proxy.url }), 'prod')).resolves.toMatchObject({ arn: ARN });
      expect(proxy.connections).toBe(2);
    } finally {
      await proxy.close();
    }
  });

  it('fails naming DescribeCluster when 5xx errors outlast the configured attempts', async () => {
    eks.failNext(10);
    const failure = describeCluster(api({ maxRetries: 1 }), 'prod');
    await expect(failure).rejects.toThrow(EksAuthSyncError);
    await expect(failure).rejects.toThrow(/^DescribeCluster for EKS cluster "prod" in eu-west-1 failed \(ServerException: An internal error/);
    expect(eks.calls()).toEqual({ DescribeCluster: 2 });
  });

  it('keeps retrying 5xx and throttling past the SDK default of three attempts while the deadline allows', async () => {
    eks.failNext(4);
    eks.throttleNext(4);
    await expect(describeCluster(api(), 'prod')).resolves.toMatchObject({ arn: ARN });
    expect(eks.calls()).toEqual({ DescribeCluster: 9 });
  });

  it('stops retrying when the backoff would end after the deadline, naming the call and the throttling', async () => {
    eks.throttleNext(1000);
    const failure = describeCluster(api({ deadline: new Date(Date.now() + 300) }), 'prod');
    await expect(failure).rejects.toThrow(
      /DescribeCluster for EKS cluster "prod" in eu-west-1 failed \(AwsRetriesExhaustedError: eks:DescribeCluster was throttled through \d+ attempts \(ThrottlingException: Rate exceeded\); a further retry would end after the run's deadline/,
    );
    expect(eks.throttled().DescribeCluster).toBeGreaterThan(3);
  });

  it('fails naming DescribeCluster when throttling outlasts the retries', async () => {
    eks.throttleNext(10);
    await expect(describeCluster(api({ maxRetries: 1 }), 'prod')).rejects.toThrow(
      /DescribeCluster for EKS cluster "prod" in eu-west-1 failed \(AwsRetriesExhaustedError: eks:DescribeCluster was throttled through 2 attempts \(ThrottlingException: Rate exceeded\); aws.maxRetries allows no more retries/,
    );
    expect(eks.throttled()).toEqual({ DescribeCluster: 2 });
  });

  it('abandons an attempt EKS never answers and fails with a timeout after its retries', async () => {
    let requests = 0;
    const hung = createHttpServer(() => {
      requests++;
    });
    const address = `127.0.0.1:${await listenLoopback(hung)}`;
    try {
      const timeouts = { connectionTimeout: 300, requestTimeout: 300 };
      await expect(describeCluster(api({ endpoint: `http://${address}`, maxRetries: 1, timeouts }), 'prod')).rejects.toThrow(
        /DescribeCluster for EKS cluster "prod" in eu-west-1 failed \(TimeoutError: .*exceeded the configured 300 ms requestTimeout/,
      );
      expect(requests).toBe(2);
    } finally {
      await closeServer(hung);
    }
  });

  it('verifies TLS to an https endpoint: a certificate from an unknown CA is refused, not retried', async () => {
    const tls = generateTls('not-eks');
    let requests = 0;
    const impostor = createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, (_req, res) => {
      requests++;
      res.end('{}');
    });
    const address = `127.0.0.1:${await listenLoopback(impostor)}`;
    try {
      await expect(describeCluster(api({ endpoint: `https://${address}` }), 'prod')).rejects.toThrow(
        /DescribeCluster for EKS cluster "prod" in eu-west-1 failed \(Error: .*certificate/,
      );
      expect(requests).toBe(0);
    } finally {
      await closeServer(impostor);
    }
  });
});
