import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AccessDeniedException,
  type Cluster,
  DescribeClusterCommand,
  EKSClient,
  ResourceNotFoundException,
} from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { describeCluster } from '../../lambda/cluster/eks.js';
import {
  AwsCredentialsError,
  ClusterAccessDeniedError,
  ClusterEndpointError,
  ClusterNotFoundError,
} from '../../lambda/errors.js';

/** A throwaway self-signed CA, made with openssl so nothing secret is committed. */
function generateCaPem(): string {
  const dir = mkdtempSync(join(tmpdir(), 'eks-ca-'));
  try {
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=kubernetes',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    return readFileSync(join(dir, 'ca.crt'), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ARN = 'arn:aws:eks:eu-west-1:111122223333:cluster/prod';
const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');

describe('describeCluster', () => {
  let caPem: string;
  const client = new EKSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' },
  });
  const eks = mockClient(client);
  const cluster = (overrides: Partial<Cluster> = {}): Cluster => ({
    name: 'prod',
    arn: ARN,
    endpoint: 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com',
    certificateAuthority: { data: b64(caPem) },
    status: 'ACTIVE',
    accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' },
    ...overrides,
  });

  beforeAll(() => {
    caPem = generateCaPem();
  });
  beforeEach(() => eks.reset());

  it('returns the https endpoint, the decoded CA and where the cluster lives', async () => {
    eks.on(DescribeClusterCommand, { name: 'prod' }).resolves({ cluster: cluster() });
    await expect(describeCluster(client, 'prod')).resolves.toEqual({
      name: 'prod',
      arn: ARN,
      accountId: '111122223333',
      partition: 'aws',
      region: 'eu-west-1',
      endpoint: 'https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com',
      caPem,
      status: 'ACTIVE',
      authenticationMode: 'API_AND_CONFIG_MAP',
    });
  });

  it('reads the partition and account of a China cluster from its ARN', async () => {
    eks.on(DescribeClusterCommand).resolves({
      cluster: cluster({ arn: 'arn:aws-cn:eks:cn-north-1:444455556666:cluster/prod', accessConfig: undefined }),
    });
    const info = await describeCluster(client, 'prod');
    expect(info).toMatchObject({ partition: 'aws-cn', region: 'cn-north-1', accountId: '444455556666' });
    expect(info).not.toHaveProperty('authenticationMode');
  });

  it.each([
    ['http://ABCDEF.gr7.eu-west-1.eks.amazonaws.com', /"http:\/\/ABCDEF[^"]*", which is not an https URL/],
    ['ABCDEF.gr7.eu-west-1.eks.amazonaws.com', /not an https URL/],
    ['', /has no API endpoint yet \(status CREATING\).*wait until it is ACTIVE/],
  ])('refuses the endpoint %j', async (endpoint, message) => {
    eks.on(DescribeClusterCommand).resolves({ cluster: cluster({ endpoint, status: 'CREATING' }) });
    const failure = describeCluster(client, 'prod');
    await expect(failure).rejects.toThrow(ClusterEndpointError);
    await expect(failure).rejects.toThrow(message);
  });

  it.each([
    ['missing', undefined],
    ['not base64 of a PEM', 'bm90IGEgY2VydGlmaWNhdGU='],
    ['a PEM block with a corrupt body', b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')],
  ])('refuses a CA that is %s', async (_label, data) => {
    eks.on(DescribeClusterCommand).resolves({ cluster: cluster({ certificateAuthority: { data } }) });
    const failure = describeCluster(client, 'prod');
    await expect(failure).rejects.toThrow(ClusterEndpointError);
    await expect(failure).rejects.toThrow(/EKS cluster "prod" in eu-west-1 .*not a base64-encoded PEM certificate/);
  });

  it('names the cluster and region when the cluster does not exist', async () => {
    eks.on(DescribeClusterCommand).rejects(
      new ResourceNotFoundException({ message: 'No cluster found for name: prod.', $metadata: {} }),
    );
    const failure = describeCluster(client, 'prod');
    await expect(failure).rejects.toThrow(ClusterNotFoundError);
    await expect(failure).rejects.toThrow(/"prod" was not found in region eu-west-1.*check the cluster name and the region/);
  });

  it('names eks:DescribeCluster and the cluster ARN AWS reported when access is denied', async () => {
    eks.on(DescribeClusterCommand).rejects(
      new AccessDeniedException({
        message:
          'User: arn:aws:sts::111122223333:assumed-role/sync/x is not authorized to perform: eks:DescribeCluster ' +
          `on resource: ${ARN}`,
        $metadata: {},
      }),
    );
    const failure = describeCluster(client, 'prod');
    await expect(failure).rejects.toThrow(ClusterAccessDeniedError);
    await expect(failure).rejects.toThrow(`grant the identity running eks-auth-sync eks:DescribeCluster on ${ARN}.`);
  });

  it('builds the cluster ARN from the region when AWS does not say which resource was denied', async () => {
    eks.on(DescribeClusterCommand).rejects(new AccessDeniedException({ message: 'Access denied', $metadata: {} }));
    await expect(describeCluster(client, 'prod')).rejects.toThrow(
      'eks:DescribeCluster on arn:aws:eks:eu-west-1:<account-id>:cluster/prod',
    );
  });

  it('says to refresh credentials when AWS rejects them', async () => {
    const expired = Object.assign(new Error('The security token included in the request is expired'), {
      name: 'ExpiredTokenException',
    });
    eks.on(DescribeClusterCommand).rejects(expired);
    const failure = describeCluster(client, 'prod');
    await expect(failure).rejects.toThrow(AwsCredentialsError);
    await expect(failure).rejects.toThrow(/refresh them/);
  });
});
