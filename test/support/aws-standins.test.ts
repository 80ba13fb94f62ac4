import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  AssociateAccessPolicyCommand,
  CreateAccessEntryCommand,
  DeleteAccessEntryCommand,
  DescribeAccessEntryCommand,
  DescribeClusterCommand,
  DisassociateAccessPolicyCommand,
  EKSClient,
  ListAccessEntriesCommand,
  ListAssociatedAccessPoliciesCommand,
  ListTagsForResourceCommand,
  paginateListAccessEntries,
  paginateListAccessPolicies,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateAccessEntryCommand,
  type CreateAccessEntryCommandInput,
} from '@aws-sdk/client-eks';
import {
  GetAccountAuthorizationDetailsCommand,
  IAMClient,
  ListRolesCommand,
  ListRoleTagsCommand,
  ListUserTagsCommand,
  paginateGetAccountAuthorizationDetails,
  paginateListRoles,
  paginateListRoleTags,
  paginateListUsers,
  type RoleDetail,
  type UserDetail,
} from '@aws-sdk/client-iam';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  accessPolicyArn,
  clusterCreatorEntry,
  demoDataset,
  fargateProfileEntry,
  generateDataset,
  MAX_ACCESS_ENTRIES,
  nodeRoleEntry,
  roleArn,
  ServiceError,
  startAwsStandins,
  trustPolicy,
  type AwsStandins,
  type EksClusterSpec,
} from './aws-standins/index.js';

const run = promisify(execFile);
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBstandinCAforTests\n-----END CERTIFICATE-----\n';
const CLUSTER = { name: 'demo', endpoint: 'https://127.0.0.1:6443', caPem: CA_PEM };

type Service = 'iam' | 'sts' | 'ssm' | 'eks';
interface Overrides {
  secretAccessKey?: string;
  accessKeyId?: string;
  sessionToken?: string | undefined;
  region?: string;
}

/** One representative call to `service` with a single attempt, signed as `overrides` say. */
function callOnce(aws: AwsStandins, service: Service, overrides: Overrides = {}): Promise<unknown> {
  const base = aws.clientConfig(service);
  const { region, ...keys } = overrides;
  const config = { ...base, region: region ?? base.region, credentials: { ...base.credentials, ...keys }, maxAttempts: 1 };
  switch (service) {
    case 'iam':
      return new IAMClient(config).send(new ListRolesCommand({}));
    case 'sts':
      return new STSClient(config).send(new GetCallerIdentityCommand({}));
    case 'ssm':
      return new SSMClient(config).send(new GetParameterCommand({ Name: '/eks/demo/auth' }));
    case 'eks':
      return new EKSClient(config).send(new DescribeClusterCommand({ name: 'demo' }));
  }
}

/** The SDK error a promise rejects with, so tests can read its name and status. */
async function rejection(p: Promise<unknown>): Promise<{ name: string; status: number | undefined; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the call to fail');
}

describe('AWS stand-ins with the demo account', () => {
  let aws: AwsStandins;
  let iam: IAMClient;
  beforeAll(async () => {
    aws = await startAwsStandins({ clusters: [CLUSTER] });
    iam = new IAMClient({ ...aws.clientConfig('iam'), maxAttempts: 1 });
  });
  afterAll(() => aws.close());
  afterEach(() => {
    aws.reset();
    for (const s of [aws.iam, aws.sts, aws.ssm, aws.eks]) s.intercept(undefined);
  });

  it('lists roles without tags, with their paths in the ARN, as IAM does', async () => {
    const roles = [];
    for await (const page of paginateListRoles({ client: iam, pageSize: 3 }, {})) roles.push(...(page.Roles ?? []));
    expect(roles.map((r) => r.RoleName)).toEqual(aws.dataset.account.roles.map((r) => r.name));
    expect(roles.every((r) => r.Tags === undefined)).toBe(true);
    expect(roles.find((r) => r.RoleName === 'github-actions-deploy')?.Arn).toBe('arn:aws:iam::111122223333:role/ci/github-actions-deploy');
    expect(roles[0]?.CreateDate).toEqual(new Date('2024-02-01T09:00:00Z'));
    expect(aws.iam.calls()).toEqual({ ListRoles: Math.ceil(roles.length / 3) });
  });

  it('filters roles and users by path prefix', async () => {
    const sso = await iam.send(new ListRolesCommand({ PathPrefix: '/aws-reserved/sso.amazonaws.com/' }));
    expect(sso.Roles?.map((r) => r.RoleName)).toEqual(['AWSReservedSSO_PlatformAdmins_8d3f0c2a91b7e645', 'AWSReservedSSO_ReadOnlyAccess_1f2e3d4c5b6a7988']);
    const users = [];
    for await (const page of paginateListUsers({ client: iam }, { PathPrefix: '/engineering/' })) users.push(...(page.Users ?? []));
    expect(users.map((u) => u.Arn)).toEqual(['arn:aws:iam::111122223333:user/engineering/bob']);
  });

  it('pages through a role’s tags one at a time', async () => {
    const tags = [];
    for await (const page of paginateListRoleTags({ client: iam, pageSize: 1 }, { RoleName: 'github-actions-deploy' })) tags.push(...(page.Tags ?? []));
    expect(tags).toEqual([
      { Key: 'eks/111122223333/demo/username', Value: 'ci-deployer' },
      { Key: 'eks/111122223333/demo/groups', Value: 'deployers' },
      { Key: 'Team', Value: 'platform' },
    ]);
    expect(aws.iam.calls()).toEqual({ ListRoleTags: 3 });
  });

  it('answers NoSuchEntity for an identity that does not exist', async () => {
    const err = await rejection(iam.send(new ListUserTagsCommand({ UserName: 'nobody' })));
    expect(err).toMatchObject({ name: 'NoSuchEntityException', status: 404, message: 'The user with name nobody cannot be found.' });
  });

  it('returns users and roles with tags and empty policy lists from GetAccountAuthorizationDetails', async () => {
    const out = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User', 'Role'] }));
    expect(out.IsTruncated).toBe(false);
    expect(out.UserDetailList?.map((u) => u.UserName)).toEqual(['alice', 'bob', 'carol']);
    const sso = out.RoleDetailList?.find((r) => r.RoleName?.startsWith('AWSReservedSSO_PlatformAdmins'));
    expect(sso).toMatchObject({
      Path: '/aws-reserved/sso.amazonaws.com/eu-west-1/',
      Arn: 'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_PlatformAdmins_8d3f0c2a91b7e645',
      RoleId: 'AROAQDEMO0000000SSOPA',
      RolePolicyList: [],
      AttachedManagedPolicies: [],
      InstanceProfileList: [],
      Tags: [
        { Key: 'eks/111122223333/demo/username', Value: 'platform-admin:{{SessionName}}' },
        { Key: 'eks/111122223333/demo/groups', Value: 'platform-admins' },
      ],
    });
    expect(out.GroupDetailList).toEqual([]);
    expect(out.Policies).toEqual([]);
  });

  it('leaves roles out of GetAccountAuthorizationDetails when the filter asks only for users', async () => {
    const out = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['User'] }));
    expect(out.UserDetailList).toHaveLength(3);
    expect(out.RoleDetailList).toEqual([]);
  });

  it('reports the identity of the signing key from GetCallerIdentity', async () => {
    const sts = new STSClient(aws.clientConfig('sts'));
    const id = await sts.send(new GetCallerIdentityCommand({}));
    expect(id).toMatchObject({ Account: '111122223333', Arn: 'arn:aws:sts::111122223333:assumed-role/eks-auth-sync/eks-auth-sync' });
    expect(id.UserId).toMatch(/^AROA[A-Z2-7]{17}:eks-auth-sync$/);
  });

  it('decrypts a SecureString only when asked to', async () => {
    const ssm = new SSMClient(aws.clientConfig('ssm'));
    const clear = await ssm.send(new GetParameterCommand({ Name: '/eks/demo/auth', WithDecryption: true }));
    expect(Buffer.from(clear.Parameter?.Value ?? '', 'base64').toString()).toContain('rolearn: arn:aws:iam::111122223333:role/breakglass');
    expect(clear.Parameter).toMatchObject({ Type: 'SecureString', Version: 1, ARN: 'arn:aws:ssm:eu-west-1:111122223333:parameter/eks/demo/auth' });
    const sealed = await ssm.send(new GetParameterCommand({ Name: '/eks/demo/auth' }));
    expect(sealed.Parameter?.Value).not.toBe(clear.Parameter?.Value);
    expect(sealed.Parameter?.Value).not.toContain(clear.Parameter?.Value);
  });

  it('finds a parameter by ARN and bumps its version when it is overwritten', async () => {
    const ssm = new SSMClient(aws.clientConfig('ssm'));
    aws.ssm.putParameter({ name: 'plain', type: 'String', value: 'one' });
    aws.ssm.putParameter({ name: 'plain', type: 'String', value: 'two' });
    const out = await ssm.send(new GetParameterCommand({ Name: 'arn:aws:ssm:eu-west-1:111122223333:parameter/plain' }));
    expect(out.Parameter).toMatchObject({ Name: 'plain', Value: 'two', Version: 2 });
  });

  it('answers ParameterNotFound for a missing parameter', async () => {
    const ssm = new SSMClient(aws.clientConfig('ssm'));
    const err = await rejection(ssm.send(new GetParameterCommand({ Name: '/nope' })));
    expect(err).toMatchObject({ name: 'ParameterNotFound', status: 400 });
  });

  it('describes a cluster with the configured endpoint and CA, and 404s an unknown one', async () => {
    const eks = new EKSClient(aws.clientConfig('eks'));
    const { cluster } = await eks.send(new DescribeClusterCommand({ name: 'demo' }));
    expect(cluster).toMatchObject({ name: 'demo', arn: 'arn:aws:eks:eu-west-1:111122223333:cluster/demo', endpoint: CLUSTER.endpoint, status: 'ACTIVE', accessConfig: { authenticationMode: 'API_AND_CONFIG_MAP' } });
    expect(Buffer.from(cluster?.certificateAuthority?.data ?? '', 'base64').toString()).toBe(CA_PEM);
    const err = await rejection(eks.send(new DescribeClusterCommand({ name: 'other' })));
    expect(err).toMatchObject({ name: 'ResourceNotFoundException', status: 404, message: 'No cluster found for name: other.' });
  });

  describe('refuses requests not signed by a known key', () => {
    const wrongSecret = { secretAccessKey: 'wrong/secret/wrong/secret/wrong/secret/00' };
    const unknownKey = { accessKeyId: 'ASIAUNKNOWNKEY000000' };
    const noToken = { sessionToken: undefined };
    it.each([
      ['iam', 'a wrong secret', 'SignatureDoesNotMatch', 403, wrongSecret],
      ['sts', 'a wrong secret', 'SignatureDoesNotMatch', 403, wrongSecret],
      ['ssm', 'a wrong secret', 'InvalidSignatureException', 400, wrongSecret],
      ['eks', 'a wrong secret', 'InvalidSignatureException', 403, wrongSecret],
      ['iam', 'an unknown key', 'InvalidClientTokenId', 403, unknownKey],
      ['sts', 'an unknown key', 'InvalidClientTokenId', 403, unknownKey],
      ['ssm', 'an unknown key', 'UnrecognizedClientException', 400, unknownKey],
      ['eks', 'an unknown key', 'UnrecognizedClientException', 403, unknownKey],
      ['iam', 'a missing session token', 'InvalidClientTokenId', 403, noToken],
      ['ssm', 'a missing session token', 'UnrecognizedClientException', 400, noToken],
      ['ssm', 'a signature for another region', 'InvalidSignatureException', 400, { region: 'us-west-2' }],
      ['eks', 'a signature for another region', 'InvalidSignatureException', 403, { region: 'us-west-2' }],
    ] as const)('%s refuses %s with %s (HTTP %d)', async (service, _what, name, status, change) => {
      const err = await rejection(callOnce(aws, service, change));
      expect(err).toMatchObject({ name, status });
      expect(aws[service].authFailures()).not.toEqual({});
      expect(aws[service].totalCalls()).toBe(0);
    });
  });

  it('refuses a request signed for another service, as AWS checks the credential scope', async () => {
    const signer = new SignatureV4({ credentials: aws.credential, region: 'us-east-1', service: 'sts', sha256: Hash.bind(null, 'sha256') });
    const url = new URL(aws.iam.endpoint);
    const body = 'Action=ListRoles&Version=2010-05-08';
    const signed = await signer.sign({
      method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: {},
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body,
    });
    const res = await fetch(aws.iam.endpoint, { method: 'POST', headers: signed.headers, body });
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("<Code>SignatureDoesNotMatch</Code>\n    <Message>Credential should be scoped to correct service: 'iam'.</Message>");
  });

  it('lets the SDK retry injected server errors until the call succeeds', async () => {
    const retrying = new IAMClient({ ...aws.clientConfig('iam'), maxAttempts: 3 });
    aws.iam.failNext(2);
    const out = await retrying.send(new ListRolesCommand({}));
    expect(out.Roles).toHaveLength(aws.dataset.account.roles.length);
    expect(aws.iam.failed()).toEqual({ ListRoles: 2 });
    expect(aws.iam.calls()).toEqual({ ListRoles: 3 });
  });

  it.each([
    ['iam', 'ServiceFailureException', 500],
    ['ssm', 'InternalServerError', 500],
    ['eks', 'ServerException', 500],
    ['sts', 'InternalFailure', 500],
  ] as const)('surfaces an injected %s failure as %s once retries are spent', async (service, name, status) => {
    aws[service].failNext(1);
    expect(await rejection(callOnce(aws, service))).toMatchObject({ name, status });
  });

  it.each([
    ['iam', 'Throttling', 400],
    ['ssm', 'ThrottlingException', 400],
    ['eks', 'ThrottlingException', 429],
  ] as const)('answers throttling on %s with its real %s error', async (service, name, status) => {
    aws[service].throttleNext(1);
    expect(await rejection(callOnce(aws, service))).toMatchObject({ name, status, message: 'Rate exceeded' });
    expect(aws[service].throttled()).not.toEqual({});
  });

  it('lets a test answer a chosen call with its own error through intercept', async () => {
    aws.iam.intercept(({ action, index }) => (action === 'ListRoleTags' && index === 1 ? new ServiceError(403, 'AccessDenied', 'not allowed') : undefined));
    const tags = () => iam.send(new ListRoleTagsCommand({ RoleName: 'github-actions-deploy' }));
    expect((await tags()).Tags).toHaveLength(3);
    expect(await rejection(tags())).toMatchObject({ name: 'AccessDenied', status: 403, message: 'not allowed' });
    expect((await tags()).Tags).toHaveLength(3);
  });

  it('hands a child process the SDK’s standard endpoint variables and credentials', async () => {
    const script = `import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
      import { SSMClient, GetParameterCommand } from '@aws-sdk/client-ssm';
      const id = await new STSClient({}).send(new GetCallerIdentityCommand({}));
      const p = await new SSMClient({}).send(new GetParameterCommand({ Name: '/eks/demo/auth', WithDecryption: true }));
      console.log(id.Arn, p.Parameter.Version);`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '', ...aws.env() }, cwd: process.cwd() });
    expect(stdout.trim()).toBe('arn:aws:sts::111122223333:assumed-role/eks-auth-sync/eks-auth-sync 1');
    expect(aws.calls()).toMatchObject({ sts: { GetCallerIdentity: 1 }, ssm: { GetParameter: 1 } });
  });
});

describe('AWS stand-ins under load and with a generated account', () => {
  const dataset = generateDataset({ roles: 2500, users: 600, seed: 3, clusterName: 'bench' });
  let aws: AwsStandins;
  beforeAll(async () => {
    aws = await startAwsStandins({ dataset });
  });
  afterAll(() => aws.close());
  afterEach(() => {
    aws.reset();
    aws.iam.setRateLimit(undefined);
    aws.iam.setFailureRate(0);
  });

  it('walks every identity through the GetAccountAuthorizationDetails paginator, 1,000 per page', async () => {
    const iam = new IAMClient(aws.clientConfig('iam'));
    const users: UserDetail[] = [];
    const roles: RoleDetail[] = [];
    for await (const page of paginateGetAccountAuthorizationDetails({ client: iam, pageSize: 1000 }, { Filter: ['User', 'Role'] })) {
      users.push(...(page.UserDetailList ?? []));
      roles.push(...(page.RoleDetailList ?? []));
    }
    expect(aws.iam.calls()).toEqual({ GetAccountAuthorizationDetails: 4 });
    expect(users).toHaveLength(600);
    expect(roles.map((r) => r.Arn)).toEqual(dataset.account.roles.map((r) => roleArn(dataset.account, r)));
    const tagged = dataset.account.roles.find((r) => r.tags.some((t) => t.Key.startsWith('eks/123456789012/bench/')));
    expect(roles.find((r) => r.RoleName === tagged?.name)?.Tags).toEqual(tagged?.tags);
  });

  it('pages ListRoles 100 at a time by default, as IAM does', async () => {
    const iam = new IAMClient(aws.clientConfig('iam'));
    let count = 0;
    for await (const page of paginateListRoles({ client: iam }, {})) count += page.Roles?.length ?? 0;
    expect(count).toBe(2500);
    expect(aws.iam.calls()).toEqual({ ListRoles: 25 });
  });

  it('refuses a MaxItems above 1,000 with a validation error', async () => {
    const iam = new IAMClient({ ...aws.clientConfig('iam'), maxAttempts: 1 });
    const err = await rejection(iam.send(new GetAccountAuthorizationDetailsCommand({ MaxItems: 1001 })));
    expect(err).toMatchObject({ name: 'ValidationError', status: 400 });
  });

  it('throttles calls above the rate limit, and the SDK’s adaptive retry gets every one through', async () => {
    aws.iam.setRateLimit({ requestsPerSecond: 5, burst: 1 });
    const iam = new IAMClient({ ...aws.clientConfig('iam'), retryMode: 'adaptive', maxAttempts: 20 });
    const names = dataset.account.roles.slice(0, 8).map((r) => r.name);
    const results = await Promise.all(names.map((RoleName) => iam.send(new ListRoleTagsCommand({ RoleName }))));
    expect(results.map((r) => r.Tags)).toEqual(dataset.account.roles.slice(0, 8).map((r) => r.tags));
    expect(aws.iam.throttled().ListRoleTags).toBeGreaterThan(0);
    expect(aws.iam.calls().ListRoleTags).toBe(8 + (aws.iam.throttled().ListRoleTags ?? 0));
  });

  it('injects the same server errors for the same seed, so a failing run can be replayed', async () => {
    const iam = new IAMClient({ ...aws.clientConfig('iam'), maxAttempts: 1 });
    const pattern = async (): Promise<string> => {
      aws.iam.setFailureRate(0.3, 42);
      let out = '';
      for (let i = 0; i < 20; i++) out += await iam.send(new ListUserTagsCommand({ UserName: dataset.account.users[0]?.name })).then(() => '.', () => 'x');
      return out;
    };
    const first = await pattern();
    expect(first).toMatch(/x/);
    expect(first).toMatch(/\./);
    expect(await pattern()).toBe(first);
  });

  it('answers a presigned GetCallerIdentity as EKS’s authenticator sends it, in JSON', async () => {
    const url = new URL(aws.sts.endpoint);
    const signer = new SignatureV4({ credentials: aws.credential, region: 'us-east-1', service: 'sts', sha256: Hash.bind(null, 'sha256') });
    const presign = (signingDate: Date) =>
      signer.presign(
        { method: 'GET', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: { Action: 'GetCallerIdentity', Version: '2011-06-15' }, headers: { host: url.host, 'x-k8s-aws-id': 'demo' } },
        { expiresIn: 60, signingDate },
      );
    const get = async (signingDate: Date, clusterId = 'demo') => {
      const req = await presign(signingDate);
      const query = new URLSearchParams(req.query as Record<string, string>).toString().replace(/\+/g, '%20');
      return fetch(`${aws.sts.endpoint}/?${query}`, { headers: { 'x-k8s-aws-id': clusterId, accept: 'application/json' } });
    };
    const ok = await get(new Date());
    expect(ok.status).toBe(200);
    expect(await ok.json()).toMatchObject({ GetCallerIdentityResponse: { GetCallerIdentityResult: { Account: '123456789012', Arn: aws.credential.arn } } });
    const expired = await get(new Date(Date.now() - 120_000));
    expect(expired.status).toBe(403);
    expect(await expired.text()).toContain('Signature expired');
    const otherCluster = await get(new Date(), 'another-cluster');
    expect(otherCluster.status).toBe(403);
    expect(await otherCluster.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
  });
});

describe('AWS stand-ins with their own clock', () => {
  it('tell a client whose clock is 20 minutes slow, and the SDK corrects itself from the Date header', async () => {
    const aws = await startAwsStandins({ now: () => new Date(Date.now() + 20 * 60_000) });
    try {
      const sts = new STSClient({ ...aws.clientConfig('sts'), maxAttempts: 3 });
      const id = await sts.send(new GetCallerIdentityCommand({}));
      expect(id.Account).toBe('111122223333');
      expect(aws.sts.authFailures()).toEqual({ expired: 1 });
    } finally {
      await aws.close();
    }
  });
});

describe('temporary credentials', () => {
  let aws: AwsStandins;
  beforeAll(async () => {
    const dataset = demoDataset();
    // A role the default key (the function's role session) is trusted to assume; trust.ts has the rules.
    const trust = trustPolicy({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:role/eks-auth-sync' }, Action: 'sts:AssumeRole' });
    dataset.account.roles.push({ name: 'scanner', path: '/ci/', id: 'AROAQDEMO000SCANNER1', createDate: new Date('2025-01-01T00:00:00Z'), tags: [], assumeRolePolicyDocument: trust });
    aws = await startAwsStandins({ dataset });
  });
  afterAll(() => aws.close());

  it('are issued by AssumeRole for a role in the account whose trust policy names the caller, and accepted by every stand-in', async () => {
    const credentials = fromTemporaryCredentials({
      params: { RoleArn: 'arn:aws:iam::111122223333:role/ci/scanner', RoleSessionName: 'cross-account-scan' },
      clientConfig: aws.clientConfig('sts'),
    });
    const sts = new STSClient({ ...aws.clientConfig('sts'), credentials });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe('arn:aws:sts::111122223333:assumed-role/scanner/cross-account-scan');
    const ssm = new SSMClient({ ...aws.clientConfig('ssm'), credentials });
    expect((await ssm.send(new GetParameterCommand({ Name: '/eks/demo/auth' }))).Parameter?.Name).toBe('/eks/demo/auth');
    expect(aws.sts.calls().AssumeRole).toBeGreaterThan(0);
  });

  it('are refused by AssumeRole for a role that does not exist', async () => {
    const sts = new STSClient({ ...aws.clientConfig('sts'), maxAttempts: 1 });
    const err = await rejection(sts.send(new AssumeRoleCommand({ RoleArn: 'arn:aws:iam::111122223333:role/nope', RoleSessionName: 's1' })));
    expect(err).toMatchObject({ name: 'AccessDenied', status: 403 });
  });

  it('stop working once they expire, with each service’s ExpiredToken error', async () => {
    const expired = { accessKeyId: 'ASIAEXPIREDKEY000001', secretAccessKey: 'expired/secret/expired/secret/expired/000', sessionToken: 'tok', arn: 'arn:aws:sts::111122223333:assumed-role/r/s', expiration: new Date(Date.now() - 1000) };
    const old = await startAwsStandins({ credentials: [expired] });
    try {
      expect(await rejection(callOnce(old, 'iam'))).toMatchObject({ name: 'ExpiredToken', status: 403 });
      expect(await rejection(callOnce(old, 'ssm'))).toMatchObject({ name: 'ExpiredTokenException', status: 400 });
      expect(await rejection(callOnce(old, 'eks'))).toMatchObject({ name: 'ExpiredTokenException', status: 403 });
    } finally {
      await old.close();
    }
  });
});

describe('generated datasets', () => {
  it('are the same for the same seed and differ for another', () => {
    const a = generateDataset({ roles: 300, users: 100, seed: 9 });
    expect(JSON.stringify(generateDataset({ roles: 300, users: 100, seed: 9 }))).toBe(JSON.stringify(a));
    expect(JSON.stringify(generateDataset({ roles: 300, users: 100, seed: 10 }))).not.toBe(JSON.stringify(a));
  });

  it('hold the benchmark’s mix: about one in ten tagged, node, Fargate and Identity Center roles, paths, and refusable tags', () => {
    const { account, summary } = generateDataset({ roles: 5000, users: 2000 });
    expect(summary.roles + summary.users).toBe(7000);
    const share = (summary.taggedRoles + summary.taggedUsers) / 7000;
    expect(share).toBeGreaterThan(0.08);
    expect(share).toBeLessThan(0.12);
    expect(summary.taggedRolesByType.node).toBeGreaterThan(10);
    expect(summary.taggedRolesByType.fargateNode).toBeGreaterThan(5);
    expect(summary.taggedSsoRoles).toBeGreaterThan(5);
    expect(summary.invalidTagged).toBeGreaterThan(0);
    expect(summary.taggedForOthers).toBeGreaterThan(0);
    expect(summary.withPath).toBeGreaterThan(500);
    const sso = account.roles.filter((r) => r.path.startsWith('/aws-reserved/'));
    expect(sso.length).toBe(summary.ssoRoles);
    for (const r of sso) {
      expect(r.path).toBe('/aws-reserved/sso.amazonaws.com/eu-west-1/');
      expect(r.name).toMatch(/^AWSReservedSSO_[A-Za-z]+_[0-9a-f]{16}$/);
    }
    expect(new Set(account.roles.map((r) => r.name)).size).toBe(5000);
    expect(new Set(account.users.map((u) => u.name)).size).toBe(2000);
  });

  it('describe the demo account by what it holds', () => {
    expect(demoDataset().summary).toEqual({
      roles: 8,
      users: 3,
      taggedRoles: 5,
      taggedUsers: 2,
      taggedRolesByType: { node: 1, fargateNode: 1, user: 3 },
      invalidTagged: 1,
      ssoRoles: 2,
      taggedSsoRoles: 1,
      withPath: 5,
      taggedForOthers: 1,
    });
  });
});

describe('the EKS stand-in’s access entries through the SDK', () => {
  const ACCT = '111122223333';
  const role = (pathAndName: string) => `arn:aws:iam::${ACCT}:role/${pathAndName}`;
  const CREATOR = role('github-actions-deploy');
  const CREATOR_WITH_PATH = role('ci/github-actions-deploy');
  const NODE_ROLE = role('demo-nodegroup-NodeInstanceRole');
  const ADMIN_POLICY = accessPolicyArn('AmazonEKSClusterAdminPolicy');
  const VIEW_POLICY = accessPolicyArn('AmazonEKSViewPolicy');
  let aws: AwsStandins;
  let eks: EKSClient;
  let clusters = 0;
  beforeAll(async () => {
    aws = await startAwsStandins();
    eks = new EKSClient({ ...aws.clientConfig('eks'), maxAttempts: 1 });
  });
  afterAll(() => aws.close());
  afterEach(() => aws.reset());

  /** A new cluster for one test, so entries never leak between tests. */
  function freshCluster(spec: Partial<EksClusterSpec> = {}): string {
    const name = `c${++clusters}`;
    aws.eks.putCluster({ name, endpoint: 'https://127.0.0.1:6443', caPem: CA_PEM, ...spec });
    return name;
  }

  it.each([
    ['an IAM user', userArnOf('alice'), 'STANDARD', `arn:aws:iam::${ACCT}:user/alice`, []],
    ['a role with a path (the path dropped from the session ARN)', CREATOR_WITH_PATH, 'STANDARD', `arn:aws:sts::${ACCT}:assumed-role/github-actions-deploy/{{SessionName}}`, []],
    ['an EC2_LINUX node role', NODE_ROLE, 'EC2_LINUX', 'system:node:{{EC2PrivateDNSName}}', ['system:nodes']],
    ['an EC2_WINDOWS node role', NODE_ROLE, 'EC2_WINDOWS', 'system:node:{{EC2PrivateDNSName}}', ['system:nodes']],
    ['a FARGATE_LINUX pod execution role', role('demo-fargate-pod-execution'), 'FARGATE_LINUX', 'system:node:{{SessionName}}', ['system:nodes']],
    ['a HYBRID_LINUX node role', NODE_ROLE, 'HYBRID_LINUX', 'system:node:{{SessionName}}', ['system:nodes']],
  ])('gives %s EKS’s default username', async (_name, principalArn, type, username, groups) => {
    const clusterName = freshCluster();
    const created = await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn, type }));
    expect(created.accessEntry).toMatchObject({ clusterName, principalArn, type, username, kubernetesGroups: groups });
    expect((await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry).toEqual(created.accessEntry);
    expect(created.accessEntry?.createdAt).toBeInstanceOf(Date);
  });

  const refusals: [string, Omit<CreateAccessEntryCommandInput, 'clusterName'>, RegExp][] = [
    ['a system: group', { principalArn: CREATOR_WITH_PATH, kubernetesGroups: ['developers', 'system:masters'] }, /^The kubernetes group name system:masters is invalid, it cannot start with system:$/],
    ...['system:', 'eks:', 'aws:', 'amazon:', 'iam:'].map((p): [string, Omit<CreateAccessEntryCommandInput, 'clusterName'>, RegExp] => [`a username starting with ${p}`, { principalArn: CREATOR_WITH_PATH, username: `${p}deployer` }, new RegExp(`^The username must not begin with ${p}$`)]),
    ['a template with no colon before it', { principalArn: CREATOR_WITH_PATH, username: '{{SessionName}}' }, /template must follow a colon/],
    ['the path-less ARN of a role that has a path', { principalArn: CREATOR }, /^The specified principalArn is invalid: invalid principal\.$/],
    ['a role IAM does not have', { principalArn: role('no-such-role') }, /invalid principal/],
    ['an STS session ARN', { principalArn: `arn:aws:sts::${ACCT}:assumed-role/github-actions-deploy/ci` }, /invalid principal/],
    ['a service-linked role', { principalArn: role('aws-service-role/eks.amazonaws.com/AWSServiceRoleForAmazonEKS') }, /service-linked role/],
    ['a node entry for a user', { principalArn: userArnOf('alice'), type: 'EC2_LINUX' }, /invalid principal/],
    ['a node entry for another account’s role', { principalArn: 'arn:aws:iam::444455556666:role/nodes', type: 'EC2_LINUX' }, /invalid principal/],
    ['groups on a node entry', { principalArn: NODE_ROLE, type: 'EC2_LINUX', kubernetesGroups: ['nodes'] }, /can't have kubernetesGroups or a username/],
    ['a username on a node entry', { principalArn: NODE_ROLE, type: 'FARGATE_LINUX', username: 'node:{{SessionName}}' }, /can't have kubernetesGroups or a username/],
    ['an unknown type', { principalArn: NODE_ROLE, type: 'EC2_MAC' }, /type EC2_MAC is invalid/],
    ['a tag with the aws: prefix', { principalArn: CREATOR_WITH_PATH, tags: { 'aws:owner': 'me' } }, /aws: prefix is reserved/],
  ];
  it.each(refusals)('refuses %s with InvalidParameterException', async (_name, input, message) => {
    const clusterName = freshCluster();
    expect(await rejection(eks.send(new CreateAccessEntryCommand({ clusterName, ...input })))).toEqual({ name: 'InvalidParameterException', status: 400, message: expect.stringMatching(message) });
    expect(aws.eks.accessEntries(clusterName)).toEqual([]);
  });

  it('accepts a template after a colon, and a cross-account STANDARD role it cannot check', async () => {
    const clusterName = freshCluster();
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, username: 'ci:{{SessionName}}' }));
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: 'arn:aws:iam::444455556666:role/auditors' }));
    expect(aws.eks.accessEntries(clusterName).map((e) => e.username)).toEqual(['ci:{{SessionName}}', 'arn:aws:sts::444455556666:assumed-role/auditors/{{SessionName}}']);
  });

  it('keeps one entry per principal: a second create is a 409 and leaves the first as it was', async () => {
    const clusterName = freshCluster();
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, kubernetesGroups: ['deployers'] }));
    const again = eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, type: 'EC2_LINUX' }));
    expect(await rejection(again)).toEqual({ name: 'ResourceInUseException', status: 409, message: 'The specified access entry resource is already in use on this cluster.' });
    expect(aws.eks.accessEntries(clusterName)).toMatchObject([{ type: 'STANDARD', kubernetesGroups: ['deployers'] }]);
  });

  it('updates groups (replaced) and username, never type, principal or tags; node entries take neither', async () => {
    const clusterName = freshCluster();
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, kubernetesGroups: ['a', 'b'], tags: { team: 'ci' } }));
    const updated = await eks.send(new UpdateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, kubernetesGroups: ['c'], username: 'ci' }));
    expect(updated.accessEntry).toMatchObject({ principalArn: CREATOR_WITH_PATH, type: 'STANDARD', kubernetesGroups: ['c'], username: 'ci', tags: { team: 'ci' } });
    expect(await rejection(eks.send(new UpdateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, kubernetesGroups: ['system:masters'] })))).toMatchObject({ name: 'InvalidParameterException' });
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: NODE_ROLE, type: 'EC2_LINUX' }));
    expect(await rejection(eks.send(new UpdateAccessEntryCommand({ clusterName, principalArn: NODE_ROLE, username: 'node' })))).toEqual({
      name: 'InvalidParameterException',
      status: 400,
      message: 'This operation can only be performed on Access Entries with a type of "STANDARD".',
    });
  });

  it('refuses every access-entry call on a CONFIG_MAP cluster and 404s an unknown cluster', async () => {
    const clusterName = freshCluster({ authenticationMode: 'CONFIG_MAP' });
    expect(await rejection(eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH })))).toEqual({
      name: 'InvalidRequestException',
      status: 400,
      message: "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.",
    });
    expect(await rejection(eks.send(new ListAccessEntriesCommand({ clusterName })))).toMatchObject({ name: 'InvalidRequestException' });
    expect(await rejection(eks.send(new ListAccessEntriesCommand({ clusterName: 'nope' })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
  });

  it('associates policies with cluster or namespace scope, changes the scope on re-association, and disassociates', async () => {
    const clusterName = freshCluster();
    const associate = (policyArn: string, accessScope: { type: 'cluster' | 'namespace'; namespaces?: string[] }) =>
      eks.send(new AssociateAccessPolicyCommand({ clusterName, principalArn: CREATOR_WITH_PATH, policyArn, accessScope }));
    expect(await rejection(associate(VIEW_POLICY, { type: 'cluster' }))).toEqual({
      name: 'ResourceNotFoundException',
      status: 404,
      message: "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.",
    });
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    await associate(VIEW_POLICY, { type: 'cluster' });
    const moved = await associate(VIEW_POLICY, { type: 'namespace', namespaces: ['dev-*'] });
    expect(moved.associatedAccessPolicy).toMatchObject({ policyArn: VIEW_POLICY, accessScope: { type: 'namespace', namespaces: ['dev-*'] } });
    expect(await rejection(associate(accessPolicyArn('MyOwnPolicy'), { type: 'cluster' }))).toMatchObject({ name: 'InvalidParameterException' });
    expect(await rejection(associate(VIEW_POLICY, { type: 'namespace', namespaces: [] }))).toMatchObject({ name: 'InvalidParameterException' });
    const listed = await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    expect(listed.associatedAccessPolicies?.map((p) => [p.policyArn, p.accessScope])).toEqual([[VIEW_POLICY, { type: 'namespace', namespaces: ['dev-*'] }]]);
    await eks.send(new DisassociateAccessPolicyCommand({ clusterName, principalArn: CREATOR_WITH_PATH, policyArn: VIEW_POLICY }));
    expect((await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn: CREATOR_WITH_PATH }))).associatedAccessPolicies).toEqual([]);
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: NODE_ROLE, type: 'EC2_LINUX' }));
    expect(await rejection(eks.send(new AssociateAccessPolicyCommand({ clusterName, principalArn: NODE_ROLE, policyArn: VIEW_POLICY, accessScope: { type: 'cluster' } })))).toMatchObject({
      message: 'This operation can only be performed on Access Entries with a type of "STANDARD".',
    });
  });

  it('seeds the entries EKS creates itself: the creator with cluster admin, node and Fargate roles', async () => {
    const clusterName = freshCluster({ accessEntries: [clusterCreatorEntry(CREATOR_WITH_PATH), nodeRoleEntry(NODE_ROLE), fargateProfileEntry(role('demo-fargate-pod-execution'))] });
    const listed = await eks.send(new ListAccessEntriesCommand({ clusterName }));
    expect(listed.accessEntries).toEqual([CREATOR_WITH_PATH, NODE_ROLE, role('demo-fargate-pod-execution')].sort());
    const admins = await eks.send(new ListAccessEntriesCommand({ clusterName, associatedPolicyArn: ADMIN_POLICY }));
    expect(admins.accessEntries).toEqual([CREATOR_WITH_PATH]);
    const policies = await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    expect(policies.associatedAccessPolicies).toMatchObject([{ policyArn: ADMIN_POLICY, accessScope: { type: 'cluster', namespaces: [] } }]);
    expect((await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn: NODE_ROLE }))).accessEntry).toMatchObject({ type: 'EC2_LINUX', username: 'system:node:{{EC2PrivateDNSName}}' });
  });

  it('pages ListAccessEntries at most 100 at a time, and refuses a larger page', async () => {
    const clusterName = freshCluster();
    const arns = Array.from({ length: 230 }, (_, i) => `arn:aws:iam::444455556666:role/team-${String(i).padStart(3, '0')}`);
    for (const principalArn of arns) aws.eks.seedAccessEntry(clusterName, { principalArn });
    const pages: number[] = [];
    const seen: string[] = [];
    for await (const page of paginateListAccessEntries({ client: eks }, { clusterName })) {
      pages.push(page.accessEntries?.length ?? 0);
      seen.push(...(page.accessEntries ?? []));
    }
    expect(pages).toEqual([100, 100, 30]);
    expect(seen).toEqual(arns);
    expect(await rejection(eks.send(new ListAccessEntriesCommand({ clusterName, maxResults: 101 })))).toMatchObject({ name: 'InvalidParameterException', status: 400 });
    expect(await rejection(eks.send(new ListAccessEntriesCommand({ clusterName, nextToken: 'not-a-token' })))).toMatchObject({ name: 'InvalidParameterException' });
  });

  it('lists the managed access policies, which are the only ones that can be associated', async () => {
    const names: string[] = [];
    for await (const page of paginateListAccessPolicies({ client: eks, pageSize: 4 }, {})) names.push(...(page.accessPolicies ?? []).map((p) => p.name ?? ''));
    expect(names).toEqual(expect.arrayContaining(['AmazonEKSClusterAdminPolicy', 'AmazonEKSAdminPolicy', 'AmazonEKSAdminViewPolicy', 'AmazonEKSEditPolicy', 'AmazonEKSViewPolicy']));
    expect(aws.eks.calls()['ListAccessPolicies']).toBe(Math.ceil(names.length / 4));
  });

  it(`holds at most ${MAX_ACCESS_ENTRIES} entries per cluster`, async () => {
    const clusterName = freshCluster();
    for (let i = 0; i < MAX_ACCESS_ENTRIES - 1; i++) aws.eks.seedAccessEntry(clusterName, { principalArn: `arn:aws:iam::444455556666:role/r${i}` });
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    expect(await rejection(eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: NODE_ROLE, type: 'EC2_LINUX' })))).toMatchObject({ name: 'ResourceLimitExceededException', status: 400 });
  });

  it('tags an entry on create and through its ARN, which has EKS’s shape', async () => {
    const clusterName = freshCluster();
    const created = await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH, tags: { team: 'ci', managedBy: 'eks-auth-sync' } }));
    const resourceArn = created.accessEntry?.accessEntryArn ?? '';
    expect(resourceArn).toMatch(new RegExp(`^arn:aws:eks:eu-west-1:${ACCT}:access-entry/${clusterName}/role/${ACCT}/github-actions-deploy/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`));
    await eks.send(new TagResourceCommand({ resourceArn, tags: { env: 'prod' } }));
    await eks.send(new UntagResourceCommand({ resourceArn, tagKeys: ['team'] }));
    expect((await eks.send(new ListTagsForResourceCommand({ resourceArn }))).tags).toEqual({ managedBy: 'eks-auth-sync', env: 'prod' });
    const unknown = `arn:aws:eks:eu-west-1:${ACCT}:access-entry/${clusterName}/role/${ACCT}/x/00000000-0000-0000-0000-000000000000`;
    expect(await rejection(eks.send(new ListTagsForResourceCommand({ resourceArn: unknown })))).toMatchObject({ name: 'NotFoundException', status: 404 });
  });

  it('gets a create through throttling with the SDK’s retries, once, thanks to its client request token', async () => {
    const clusterName = freshCluster();
    const retrying = new EKSClient({ ...aws.clientConfig('eks'), maxAttempts: 3 });
    aws.eks.throttleNext(2);
    await retrying.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    expect(aws.eks.throttled()).toEqual({ CreateAccessEntry: 2 });
    expect(aws.eks.accessEntries(clusterName)).toHaveLength(1);
  });

  it('answers a create retried after it landed with the same entry, not a 409', async () => {
    const clusterName = freshCluster();
    const input = { clusterName, principalArn: CREATOR_WITH_PATH, clientRequestToken: 'retry-token-1' };
    const first = await eks.send(new CreateAccessEntryCommand(input));
    expect((await eks.send(new CreateAccessEntryCommand(input))).accessEntry?.accessEntryArn).toBe(first.accessEntry?.accessEntryArn);
    expect(await rejection(eks.send(new CreateAccessEntryCommand({ ...input, clientRequestToken: 'another' })))).toMatchObject({ name: 'ResourceInUseException' });
  });

  it('deletes an entry with its associations, and 404s it afterwards', async () => {
    const clusterName = freshCluster({ accessEntries: [clusterCreatorEntry(CREATOR_WITH_PATH)] });
    await eks.send(new DeleteAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    expect(await rejection(eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH })))).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    await eks.send(new CreateAccessEntryCommand({ clusterName, principalArn: CREATOR_WITH_PATH }));
    expect((await eks.send(new ListAssociatedAccessPoliciesCommand({ clusterName, principalArn: CREATOR_WITH_PATH }))).associatedAccessPolicies).toEqual([]);
    expect(aws.eks.calls()).toMatchObject({ DeleteAccessEntry: 1, DescribeAccessEntry: 1, CreateAccessEntry: 1, ListAssociatedAccessPolicies: 1 });
  });
});

function userArnOf(name: string): string {
  return `arn:aws:iam::111122223333:user/${name}`;
}
