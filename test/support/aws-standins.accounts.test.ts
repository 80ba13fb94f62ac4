/**
 * A second account in the AWS stand-ins: STS AssumeRole judges the role's trust policy as IAM
 * does, and the keys it issues act as the assumed role in that account, whose IAM is what they
 * see through the one IAM endpoint.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { GetAccountAuthorizationDetailsCommand, IAMClient, ListRolesCommand } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  IDENTITY_ACCOUNT_ID, identityAccount, startAwsStandins, trustDecision, trustPolicy, type AwsStandins, type StandinCredential, type TrustStatement,
} from './aws-standins/index.js';

const run = promisify(execFile);
const A = '111122223333';
const I = IDENTITY_ACCOUNT_ID;
const FUNCTION_ROLE = `arn:aws:iam::${A}:role/eks-auth-sync`;
const FUNCTION_SESSION = `arn:aws:sts::${A}:assumed-role/eks-auth-sync/eks-auth-sync`;
const READER = `arn:aws:iam::${I}:role/eks-auth-sync-reader`;
const OPS_USER: StandinCredential = { accessKeyId: 'AKIASTANDINOPSUSER01', secretAccessKey: 'ops/user/secret/key/not+a+real+one/000000', arn: `arn:aws:iam::${A}:user/ops/olga` };

const allow = (aws: string | string[], extra: Partial<TrustStatement> = {}): TrustStatement => ({ Effect: 'Allow', Principal: { AWS: aws }, Action: 'sts:AssumeRole', ...extra });
const deny = (aws: string): TrustStatement => ({ Effect: 'Deny', Principal: { AWS: aws }, Action: 'sts:AssumeRole' });

describe('trustDecision, as STS judges AssumeRole', () => {
  it.each<[string, TrustStatement[], string, string]>([
    ['the role the session belongs to, by its ARN', [allow(FUNCTION_ROLE)], FUNCTION_SESSION, 'allow'],
    ['the role by an ARN with its path', [allow(`arn:aws:iam::${A}:role/ci/deployer`)], `arn:aws:sts::${A}:assumed-role/deployer/s`, 'allow'],
    ['the caller account root', [allow(`arn:aws:iam::${A}:root`)], FUNCTION_SESSION, 'allow'],
    ['the caller account by its ID', [allow(A)], OPS_USER.arn, 'allow'],
    ['the user by its ARN', [allow(OPS_USER.arn)], OPS_USER.arn, 'allow'],
    ['the exact session ARN', [allow(FUNCTION_SESSION)], FUNCTION_SESSION, 'allow'],
    ['anyone (AWS: *)', [allow('*')], FUNCTION_SESSION, 'allow'],
    ['one of a list of principals', [allow([`arn:aws:iam::999988887777:root`, FUNCTION_ROLE])], FUNCTION_SESSION, 'allow'],
    ['an action wildcard', [allow(FUNCTION_ROLE, { Action: ['sts:Assume*'] })], FUNCTION_SESSION, 'allow'],
    ['another role of the same account', [allow(`arn:aws:iam::${A}:role/other`)], FUNCTION_SESSION, 'implicitDeny'],
    ['a role of the same name in another account', [allow(`arn:aws:iam::999988887777:role/eks-auth-sync`)], FUNCTION_SESSION, 'implicitDeny'],
    ['another account root', [allow('arn:aws:iam::999988887777:root')], FUNCTION_SESSION, 'implicitDeny'],
    ['another partition', [allow(`arn:aws-cn:iam::${A}:root`)], FUNCTION_SESSION, 'implicitDeny'],
    ['another session of the role', [allow(`arn:aws:sts::${A}:assumed-role/eks-auth-sync/someone-else`)], FUNCTION_SESSION, 'implicitDeny'],
    ['a service principal only', [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }], FUNCTION_SESSION, 'implicitDeny'],
    ['another action only', [allow(FUNCTION_ROLE, { Action: 'sts:TagSession' })], FUNCTION_SESSION, 'implicitDeny'],
    ['an Allow under a condition (not evaluated: fails closed)', [allow(FUNCTION_ROLE, { Condition: { StringEquals: { 'sts:ExternalId': 'x' } } })], FUNCTION_SESSION, 'implicitDeny'],
    ['a Deny of the role over an Allow of its account', [allow(`arn:aws:iam::${A}:root`), deny(FUNCTION_ROLE)], FUNCTION_SESSION, 'explicitDeny'],
    ['a Deny of everyone (Principal: *) over an Allow of the role', [allow(FUNCTION_ROLE), { Effect: 'Deny', Principal: '*', Action: 'sts:*' }], FUNCTION_SESSION, 'explicitDeny'],
    ['a Deny of another principal, not the caller', [allow(`arn:aws:iam::${A}:root`), deny(FUNCTION_ROLE)], OPS_USER.arn, 'allow'],
  ])('%s', (_what, statements, caller, expected) => {
    expect(trustDecision(trustPolicy(...statements), caller)).toBe(expected);
  });

  it('refuses to judge a NotPrincipal, which IAM does not accept in a trust policy', () => {
    expect(() => trustDecision(trustPolicy({ Effect: 'Deny', NotPrincipal: { AWS: FUNCTION_ROLE }, Action: 'sts:AssumeRole' }), FUNCTION_SESSION)).toThrow(/NotPrincipal/);
  });
});

describe('AWS stand-ins with an identity account', () => {
  let aws: AwsStandins;
  beforeAll(async () => {
    aws = await startAwsStandins({
      otherAccounts: [identityAccount({ clusterAccountId: A, clusterName: 'demo', readerTrustedBy: FUNCTION_ROLE })],
      credentials: [
        { accessKeyId: 'ASIASTANDINEXAMPLE01', secretAccessKey: 'standin/Secret/Key/not+a+real+one/0000000', sessionToken: 'IQoJb3JpZ2luX2VjEStandinSessionTokenNotReal', arn: FUNCTION_SESSION },
        OPS_USER,
      ],
    });
  });
  afterAll(() => aws.close());
  afterEach(() => aws.reset());

  const assumed = (roleArn: string, credentials?: StandinCredential) =>
    fromTemporaryCredentials({
      params: { RoleArn: roleArn, RoleSessionName: 'cross-account-scan' },
      clientConfig: { ...aws.clientConfig('sts'), maxAttempts: 1, ...(credentials && { credentials }) },
    });

  it('issues keys for a role whose trust policy names the caller; they act as that role in its account', async () => {
    const credentials = assumed(READER);
    const sts = new STSClient({ ...aws.clientConfig('sts'), credentials });
    expect(await sts.send(new GetCallerIdentityCommand({}))).toMatchObject({ Account: I, Arn: `arn:aws:sts::${I}:assumed-role/eks-auth-sync-reader/cross-account-scan` });

    const iam = new IAMClient({ ...aws.clientConfig('iam'), credentials });
    const details = await iam.send(new GetAccountAuthorizationDetailsCommand({ Filter: ['Role', 'User'] }));
    expect(details.RoleDetailList?.map((r) => r.Arn)).toContain(`arn:aws:iam::${I}:role/people/platform-admin`);
    expect(details.UserDetailList?.map((u) => u.Arn)).toEqual([`arn:aws:iam::${I}:user/dana`]);
    expect(aws.iamAccounts.get(I)?.calls()).toEqual({ GetAccountAuthorizationDetails: 1 });
    expect(aws.iam.calls()).toEqual({});
  });

  it('keeps serving the cluster account to its own keys, through the same IAM endpoint', async () => {
    const roles = await new IAMClient(aws.clientConfig('iam')).send(new ListRolesCommand({}));
    expect(roles.Roles?.map((r) => r.Arn)).toContain(`arn:aws:iam::${A}:role/ci/github-actions-deploy`);
    expect(roles.Roles?.every((r) => r.Arn?.includes(`::${A}:`))).toBe(true);
    expect(aws.iamAccounts.get(I)?.calls()).toEqual({});
  });

  it('answers a role that does not trust the caller with the 403 AccessDenied body STS sends', async () => {
    const url = new URL(aws.sts.endpoint);
    const body = `Action=AssumeRole&Version=2011-06-15&RoleArn=${encodeURIComponent(`arn:aws:iam::${I}:role/untrusting-reader`)}&RoleSessionName=s1`;
    const signer = new SignatureV4({ credentials: aws.credential, region: 'us-east-1', service: 'sts', sha256: Hash.bind(null, 'sha256') });
    const signed = await signer.sign({
      method: 'POST', protocol: 'http:', hostname: url.hostname, port: Number(url.port), path: '/', query: {},
      headers: { host: url.host, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' }, body,
    });
    const res = await fetch(aws.sts.endpoint, { method: 'POST', headers: signed.headers, body });
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('text/xml');
    const requestId = res.headers.get('x-amzn-requestid');
    expect(await res.text()).toBe(
      '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">\n  <Error>\n    <Type>Sender</Type>\n    <Code>AccessDenied</Code>\n' +
      `    <Message>User: ${FUNCTION_SESSION} is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::${I}:role/untrusting-reader</Message>\n` +
      `  </Error>\n  <RequestId>${requestId}</RequestId>\n</ErrorResponse>\n`,
    );
  });

  it.each([
    ['a role that trusts only an unrelated account', `arn:aws:iam::${I}:role/untrusting-reader`],
    ['a role whose Deny names the caller, though its account is allowed', `arn:aws:iam::${I}:role/denied-reader`],
    ['a role that does not exist', `arn:aws:iam::${I}:role/nope`],
    ['a person role trusting only a SAML provider', `arn:aws:iam::${I}:role/people/platform-admin`],
  ])('refuses %s with AccessDenied naming the caller and the role', async (_what, roleArn) => {
    const sts = new STSClient({ ...aws.clientConfig('sts'), credentials: assumed(roleArn) });
    await expect(sts.send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: 'AccessDenied',
      message: `User: ${FUNCTION_SESSION} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
    });
  });

  it('lets another principal of the allowed account assume the role whose Deny names only the function', async () => {
    const sts = new STSClient({ ...aws.clientConfig('sts'), credentials: assumed(`arn:aws:iam::${I}:role/denied-reader`, OPS_USER) });
    expect((await sts.send(new GetCallerIdentityCommand({}))).Arn).toBe(`arn:aws:sts::${I}:assumed-role/denied-reader/cross-account-scan`);
  });

  // A second, independent client of the same wire format: the AWS CLI.
  describe.skipIf(!existsSync('/usr/bin/aws') && process.env.CI === undefined)('with the AWS CLI', () => {
    // Debian's CLI (2.9) predates the AWS_ENDPOINT_URL_<SERVICE> variables: the endpoint is passed.
    const cli = async (service: 'sts' | 'iam', args: string[], env: Record<string, string> = {}): Promise<unknown> => {
      const { stdout } = await run('/usr/bin/aws', [service, ...args, '--endpoint-url', aws[service].endpoint, '--output', 'json'], { env: { ...aws.env(), PATH: '/usr/bin:/bin', AWS_PAGER: '', ...env } });
      return JSON.parse(stdout) as unknown;
    };

    it('assume-role into the identity account, then list-roles with the keys it printed', async () => {
      const out = (await cli('sts', ['assume-role', '--role-arn', READER, '--role-session-name', 'cli'])) as {
        Credentials: { AccessKeyId: string; SecretAccessKey: string; SessionToken: string };
        AssumedRoleUser: { Arn: string };
      };
      expect(out.AssumedRoleUser.Arn).toBe(`arn:aws:sts::${I}:assumed-role/eks-auth-sync-reader/cli`);
      const keys = { AWS_ACCESS_KEY_ID: out.Credentials.AccessKeyId, AWS_SECRET_ACCESS_KEY: out.Credentials.SecretAccessKey, AWS_SESSION_TOKEN: out.Credentials.SessionToken };
      const roles = (await cli('iam', ['list-roles'], keys)) as { Roles: { Arn: string }[] };
      expect(roles.Roles.map((r) => r.Arn)).toContain(`arn:aws:iam::${I}:role/people/platform-admin`);
      expect(roles.Roles.every((r) => r.Arn.includes(`::${I}:`))).toBe(true);
    });
  });
});
