import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { roleArn, startAwsStandins, userArn, type AwsStandins } from './aws-standins/index.js';

const run = promisify(execFile);
const AWS_CLI = '/usr/bin/aws';
const CA_PEM = '-----BEGIN CERTIFICATE-----\nMIIBstandinCAforCliTests\n-----END CERTIFICATE-----\n';

// The CLI is a second, independent client: if it and the SDK both accept the stand-ins' wire
// format, the stand-ins are not merely agreeing with one client's quirks.
describe.skipIf(!existsSync(AWS_CLI) && process.env.CI === undefined)('the real AWS CLI against the AWS stand-ins', () => {
  let aws: AwsStandins;
  beforeAll(async () => {
    aws = await startAwsStandins({ clusters: [{ name: 'demo', endpoint: 'https://127.0.0.1:6443', caPem: CA_PEM }] });
  });
  afterAll(() => aws.close());
  afterEach(() => aws.reset());

  /** Runs `aws SERVICE ...` against the stand-in for SERVICE with the stand-ins' credentials. */
  async function cli(service: 'iam' | 'sts' | 'ssm' | 'eks', args: string[], env: Record<string, string> = {}): Promise<unknown> {
    const { stdout } = await run(AWS_CLI, [service, ...args, '--endpoint-url', aws[service].endpoint, '--output', 'json'], {
      env: { ...aws.env(), PATH: '/usr/bin:/bin', AWS_PAGER: '', ...env },
    });
    return JSON.parse(stdout) as unknown;
  }

  it('lists every role across pages with aws iam list-roles', async () => {
    const out = (await cli('iam', ['list-roles', '--page-size', '3'])) as { Roles: Array<{ Arn: string; Tags?: unknown }> };
    const account = aws.dataset.account;
    expect(out.Roles.map((r) => r.Arn)).toEqual(account.roles.map((r) => roleArn(account, r)));
    expect(out.Roles.every((r) => r.Tags === undefined)).toBe(true);
    expect(aws.iam.calls()).toEqual({ ListRoles: Math.ceil(account.roles.length / 3) });
  });

  it('reads users and roles with their tags with aws iam get-account-authorization-details', async () => {
    const out = (await cli('iam', ['get-account-authorization-details', '--filter', 'User', 'Role', '--page-size', '2'])) as {
      UserDetailList: Array<{ Arn: string; Tags?: unknown }>;
      RoleDetailList: Array<{ RoleName: string; Tags?: unknown }>;
    };
    const account = aws.dataset.account;
    expect(out.UserDetailList.map((u) => u.Arn)).toEqual(account.users.map((u) => userArn(account, u)));
    expect(out.RoleDetailList.find((r) => r.RoleName === 'github-actions-deploy')?.Tags).toEqual([
      { Key: 'eks/111122223333/demo/username', Value: 'ci-deployer' },
      { Key: 'eks/111122223333/demo/groups', Value: 'deployers' },
      { Key: 'Team', Value: 'platform' },
    ]);
    expect(aws.iam.calls()).toEqual({ GetAccountAuthorizationDetails: Math.ceil((account.users.length + account.roles.length) / 2) });
  });

  it('reports the signing identity with aws sts get-caller-identity', async () => {
    expect(await cli('sts', ['get-caller-identity'])).toMatchObject({ Account: '111122223333', Arn: aws.credential.arn });
  });

  it('decrypts the SecureString with aws ssm get-parameter --with-decryption', async () => {
    const out = (await cli('ssm', ['get-parameter', '--name', '/eks/demo/auth', '--with-decryption'])) as { Parameter: { Value: string; Type: string } };
    expect(out.Parameter.Type).toBe('SecureString');
    expect(out.Parameter.Value).toBe(aws.dataset.ssmParameters[0]?.value);
  });

  it('returns the configured endpoint and CA with aws eks describe-cluster', async () => {
    const out = (await cli('eks', ['describe-cluster', '--name', 'demo'])) as { cluster: { endpoint: string; status: string; certificateAuthority: { data: string } } };
    expect(out.cluster).toMatchObject({ endpoint: 'https://127.0.0.1:6443', status: 'ACTIVE' });
    expect(Buffer.from(out.cluster.certificateAuthority.data, 'base64').toString()).toBe(CA_PEM);
  });

  it('retries throttled calls the way the CLI does, and gets through', async () => {
    aws.iam.throttleNext(2);
    const out = (await cli('iam', ['list-roles'])) as { Roles: unknown[] };
    expect(out.Roles).toHaveLength(aws.dataset.account.roles.length);
    expect(aws.iam.throttled()).toEqual({ ListRoles: 2 });
  });

  it('fails with SignatureDoesNotMatch when the CLI signs with a wrong secret', async () => {
    const failure = await cli('iam', ['list-roles'], { AWS_SECRET_ACCESS_KEY: 'wrong/secret/wrong/secret/wrong/secret/00' }).then(
      () => undefined,
      (err: Error & { stderr?: string }) => err.stderr,
    );
    expect(failure).toContain('(SignatureDoesNotMatch)');
    expect(aws.iam.totalCalls()).toBe(0);
  });
});
