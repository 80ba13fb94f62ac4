import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { nodeRoleEntry, roleArn, startAwsStandins, userArn, type AwsStandins } from './aws-standins/index.js';
import { accessEntryCli, requireAccessEntryCli } from './tools.js';

const run = promisify(execFile);
const AWS_CLI = '/usr/bin/aws';
// Debian's CLI (2.9) predates access entries; the machine image has aws-cli 1.x from pip, which has them.
const ACCESS_ENTRY_CLI = accessEntryCli();
type Service = 'iam' | 'sts' | 'ssm' | 'eks';

/** Runs `BIN SERVICE ...` against the stand-in for SERVICE with the stand-ins' credentials; parses its JSON output. */
async function runCli(bin: string, aws: AwsStandins, service: Service, args: string[], env: Record<string, string> = {}): Promise<unknown> {
  const { stdout } = await run(bin, [service, ...args, '--endpoint-url', aws[service].endpoint, '--output', 'json'], {
    env: { ...aws.env(), PATH: '/usr/bin:/bin', AWS_PAGER: '', ...env },
  });
  return stdout.trim() === '' ? {} : (JSON.parse(stdout) as unknown);
}

/** The CLI's error line (`An error occurred (Code) when calling …: message`) of a command that must fail. */
function cliError(p: Promise<unknown>): Promise<string | undefined> {
  return p.then(
    () => undefined,
    (err: Error & { stderr?: string }) => err.stderr?.trim(),
  );
}
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

  const cli = (service: Service, args: string[], env: Record<string, string> = {}) => runCli(AWS_CLI, aws, service, args, env);

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
    const failure = await cliError(cli('iam', ['list-roles'], { AWS_SECRET_ACCESS_KEY: 'wrong/secret/wrong/secret/wrong/secret/00' }));
    expect(failure).toContain('(SignatureDoesNotMatch)');
    expect(aws.iam.totalCalls()).toBe(0);
  });
});

describe.skipIf(ACCESS_ENTRY_CLI === undefined && process.env.CI === undefined)('the AWS CLI’s access-entry commands against the EKS stand-in', () => {
  const ACCT = '111122223333';
  const DEPLOY = `arn:aws:iam::${ACCT}:role/ci/github-actions-deploy`;
  const NODE = `arn:aws:iam::${ACCT}:role/demo-nodegroup-NodeInstanceRole`;
  const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
  let aws: AwsStandins;
  beforeAll(async () => {
    aws = await startAwsStandins({
      clusters: [
        { name: 'demo', endpoint: 'https://127.0.0.1:6443', caPem: CA_PEM, accessEntries: [nodeRoleEntry(NODE)] },
        { name: 'legacy', endpoint: 'https://127.0.0.1:6443', caPem: CA_PEM, authenticationMode: 'CONFIG_MAP' },
      ],
    });
  });
  afterAll(() => aws.close());
  afterEach(() => aws.reset());
  // In CI a missing CLI fails every test here, saying what is missing.
  const eks = (args: string[]) => runCli(requireAccessEntryCli(), aws, 'eks', args);

  it('creates, describes, updates, lists and deletes an entry', async () => {
    const created = (await eks(['create-access-entry', '--cluster-name', 'demo', '--principal-arn', DEPLOY, '--kubernetes-groups', 'deployers', '--tags', 'team=ci'])) as {
      accessEntry: { username: string; type: string; accessEntryArn: string; tags: Record<string, string> };
    };
    expect(created.accessEntry).toMatchObject({ username: `arn:aws:sts::${ACCT}:assumed-role/github-actions-deploy/{{SessionName}}`, type: 'STANDARD', tags: { team: 'ci' } });
    await eks(['update-access-entry', '--cluster-name', 'demo', '--principal-arn', DEPLOY, '--kubernetes-groups', 'a', 'b', '--username', 'ci:{{SessionName}}']);
    expect(await eks(['describe-access-entry', '--cluster-name', 'demo', '--principal-arn', DEPLOY])).toMatchObject({ accessEntry: { kubernetesGroups: ['a', 'b'], username: 'ci:{{SessionName}}' } });
    expect(await eks(['list-access-entries', '--cluster-name', 'demo', '--page-size', '1'])).toEqual({ accessEntries: [DEPLOY, NODE] });
    expect(aws.eks.calls()['ListAccessEntries']).toBe(2);
    await eks(['delete-access-entry', '--cluster-name', 'demo', '--principal-arn', DEPLOY]);
    expect(aws.eks.accessEntries('demo').map((e) => e.principalArn)).toEqual([NODE]);
  });

  it.each([
    ['a second entry for a principal', ['--principal-arn', NODE, '--type', 'EC2_LINUX'], 'An error occurred (ResourceInUseException) when calling the CreateAccessEntry operation: The specified access entry resource is already in use on this cluster.'],
    ['a system: group', ['--principal-arn', DEPLOY, '--kubernetes-groups', 'system:masters'], 'An error occurred (InvalidParameterException) when calling the CreateAccessEntry operation: The kubernetes group name system:masters is invalid, it cannot start with system:'],
    ['a reserved username', ['--principal-arn', DEPLOY, '--username', 'eks:deployer'], 'An error occurred (InvalidParameterException) when calling the CreateAccessEntry operation: The username must not begin with eks:'],
    ['the path-less ARN of a pathed role', ['--principal-arn', `arn:aws:iam::${ACCT}:role/github-actions-deploy`], 'An error occurred (InvalidParameterException) when calling the CreateAccessEntry operation: The specified principalArn is invalid: invalid principal.'],
  ])('refuses %s with EKS’s error', async (_name, args, message) => {
    expect(await cliError(eks(['create-access-entry', '--cluster-name', 'demo', ...args]))).toBe(message);
  });

  it('refuses access entries on a CONFIG_MAP cluster with InvalidRequestException', async () => {
    expect(await cliError(eks(['list-access-entries', '--cluster-name', 'legacy']))).toContain('(InvalidRequestException) when calling the ListAccessEntries operation');
  });

  it('associates, lists and disassociates an access policy with a namespace scope', async () => {
    await eks(['create-access-entry', '--cluster-name', 'demo', '--principal-arn', DEPLOY]);
    const scope = ['--access-scope', 'type=namespace,namespaces=dev-a,dev-b'];
    await eks(['associate-access-policy', '--cluster-name', 'demo', '--principal-arn', DEPLOY, '--policy-arn', VIEW, ...scope]);
    const listed = (await eks(['list-associated-access-policies', '--cluster-name', 'demo', '--principal-arn', DEPLOY])) as { associatedAccessPolicies: unknown[] };
    expect(listed.associatedAccessPolicies).toMatchObject([{ policyArn: VIEW, accessScope: { type: 'namespace', namespaces: ['dev-a', 'dev-b'] } }]);
    await eks(['disassociate-access-policy', '--cluster-name', 'demo', '--principal-arn', DEPLOY, '--policy-arn', VIEW]);
    expect(await cliError(eks(['associate-access-policy', '--cluster-name', 'demo', '--principal-arn', NODE, '--policy-arn', VIEW, '--access-scope', 'type=cluster']))).toContain(
      'This operation can only be performed on Access Entries with a type of "STANDARD".',
    );
    await eks(['delete-access-entry', '--cluster-name', 'demo', '--principal-arn', DEPLOY]);
  });

  it('lists the access policies and tags an entry through its ARN', async () => {
    const policies = (await eks(['list-access-policies'])) as { accessPolicies: { name: string }[] };
    expect(policies.accessPolicies.map((p) => p.name)).toContain('AmazonEKSClusterAdminPolicy');
    const [node] = aws.eks.accessEntries('demo');
    const arn = node?.accessEntryArn ?? '';
    await eks(['tag-resource', '--resource-arn', arn, '--tags', 'env=prod,owner=platform']);
    await eks(['untag-resource', '--resource-arn', arn, '--tag-keys', 'owner']);
    expect(await eks(['list-tags-for-resource', '--resource-arn', arn])).toEqual({ tags: { env: 'prod' } });
  });
});
