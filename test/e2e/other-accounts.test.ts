/**
 * Other accounts, through runSync against the stand-ins: a scanner with `aws.roleARN` assumes a
 * role in an identity account (STS checks that role's trust policy) and reads that account's IAM
 * tags, in the scheme `eks/{clusterAccountID}/{clusterName}/…`, into the cluster's aws-auth.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseConfig, type Config } from '../../lambda/config.js';
import { ScannerError } from '../../lambda/errors.js';
import { runSync } from '../../lambda/sync.js';
import { IDENTITY_ACCOUNT_ID, identityAccount } from '../support/aws-standins/index.js';
import { seedAwsAuth, startEnvironment, type Environment } from '../support/environment.js';

const A = '111122223333';
const I = IDENTITY_ACCOUNT_ID;
const READER = `arn:aws:iam::${I}:role/eks-auth-sync-reader`;

let world: Environment;
const savedEnv = { ...process.env };
beforeAll(async () => {
  // The identity account's reader role trusts the function's role in the cluster account.
  world = await startEnvironment({ aws: { otherAccounts: [identityAccount({ clusterAccountId: A, clusterName: 'demo', readerTrustedBy: `arn:aws:iam::${A}:role/eks-auth-sync` })] } });
  Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
});
afterAll(async () => {
  process.env = { ...savedEnv };
  await world.close();
});
afterEach(() => {
  world.aws.reset();
  world.kube.put(seedAwsAuth(A));
});

/** The demo cluster's aws-auth, fed by the iam scanners given (name → extra `aws`/`iam` settings). */
function config(scanners: Record<string, { aws?: Record<string, unknown>; iam?: Record<string, unknown> }>): Config {
  return parseConfig(JSON.stringify({
    cluster: { name: 'demo', region: 'eu-west-1' },
    sync: { target: 'configMap' },
    scanners: Object.entries(scanners).map(([name, s]) => ({ type: 'iam', name, iam: s.iam ?? {}, ...(s.aws && { aws: s.aws }) })),
  }), 'other-accounts.json');
}

const mapped = (): { rolearn?: string; userarn?: string; username: string; groups: string[] }[] => {
  const data = world.awsAuth()?.data ?? {};
  return [...(parse(data['mapRoles'] ?? '[]') as []), ...(parse(data['mapUsers'] ?? '[]') as [])];
};

describe('a scanner with aws.roleARN in another account', () => {
  it("reads that account's IAM, not the cluster account's, and writes its people into aws-auth", async () => {
    const report = await runSync({ config: config({ 'identity-account': { aws: { roleARN: READER } } }), configDir: '.', commit: true });

    expect(report.committed).toBe(true);
    expect(report.mappings.roles).toEqual([expect.objectContaining({ rolearn: `arn:aws:iam::${I}:role/platform-admin`, username: 'platform-admin:{{SessionName}}', groups: ['platform-admins'] })]);
    expect(report.mappings.users).toEqual([expect.objectContaining({ userarn: `arn:aws:iam::${I}:user/dana`, username: 'dana', groups: ['developers'] })]);
    expect(report.change?.added.map((e) => e.source)).toEqual(['identity-account', 'identity-account']);
    expect(mapped()).toEqual(expect.arrayContaining([
      { rolearn: `arn:aws:iam::${I}:role/platform-admin`, username: 'platform-admin:{{SessionName}}', groups: ['platform-admins'] },
      { userarn: `arn:aws:iam::${I}:user/dana`, username: 'dana', groups: ['developers'] },
    ]));
    // One AssumeRole, one bulk read in the identity account, and nothing read from the cluster account's IAM.
    expect(world.aws.sts.calls()).toMatchObject({ AssumeRole: 1 });
    expect(world.aws.iamAccounts.get(I)?.calls()).toEqual({ GetAccountAuthorizationDetails: 1 });
    expect(world.aws.iamAccounts.get(A)?.calls()).toEqual({});
  });

  it('reads both accounts in one run when a second scanner reads the cluster account', async () => {
    const report = await runSync({ config: config({ local: {}, 'identity-account': { aws: { roleARN: READER } } }), configDir: '.', commit: false });
    const arns = report.mappings.roles.map((r) => r.rolearn);
    expect(arns).toContain(`arn:aws:iam::${I}:role/platform-admin`);
    expect(arns).toContain(`arn:aws:iam::${A}:role/github-actions-deploy`);
    expect(world.aws.iamAccounts.get(A)?.calls()).toEqual({ GetAccountAuthorizationDetails: 1 });
    expect(world.aws.iamAccounts.get(I)?.calls()).toEqual({ GetAccountAuthorizationDetails: 1 });
  });

  it("selects the tags by the cluster's account, not the account being read", async () => {
    // The default: the account part is the cluster's (the function's own account).
    const byCluster = await runSync({ config: config({ 'identity-account': { aws: { roleARN: READER } } }), configDir: '.', commit: false });
    expect(byCluster.mappings.roles.map((r) => r.username)).toEqual(['platform-admin:{{SessionName}}']);
    // Told the cluster lives in the identity account, the same roles answer with the other tag set.
    const byIdentity = await runSync({ config: config({ 'identity-account': { aws: { roleARN: READER }, iam: { clusterAccountID: I } } }), configDir: '.', commit: false });
    expect(byIdentity.mappings.roles.map((r) => r.username)).toEqual(['wrong-account']);
  });

  it.each([
    ['trusts only an unrelated account', `arn:aws:iam::${I}:role/untrusting-reader`],
    ['denies the function though it trusts its account', `arn:aws:iam::${I}:role/denied-reader`],
  ])('fails the run naming the scanner and the role when the role %s, and writes nothing', async (_what, roleArn) => {
    const writes = world.kube.writes;
    const before = world.awsAuth()?.data;
    const run = runSync({ config: config({ 'identity-account': { aws: { roleARN: roleArn } } }), configDir: '.', commit: true });

    await expect(run).rejects.toBeInstanceOf(ScannerError);
    await expect(run).rejects.toThrow(
      `scanner "identity-account": AccessDenied: User: arn:aws:sts::${A}:assumed-role/eks-auth-sync/eks-auth-sync is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
    );
    expect(world.kube.writes).toBe(writes);
    expect(world.awsAuth()?.data).toEqual(before);
    expect(world.aws.iamAccounts.get(I)?.calls()).toEqual({});
  });
});
