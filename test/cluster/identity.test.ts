import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { callerIdentity, canonicalPrincipalArn } from '../../lambda/cluster/identity.js';
import { AwsCredentialsError, PrincipalArnError } from '../../lambda/errors.js';

describe('canonicalPrincipalArn follows aws-iam-authenticator', () => {
  it.each([
    ['arn:aws:sts::111122223333:assumed-role/Admin/alice', 'arn:aws:iam::111122223333:role/Admin'],
    ['arn:aws:sts::111122223333:assumed-role/Admin/i-0abc@example.com', 'arn:aws:iam::111122223333:role/Admin'],
    [
      'arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/alice',
      'arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef',
    ],
    ['arn:aws-cn:sts::111122223333:assumed-role/Deployer/ci', 'arn:aws-cn:iam::111122223333:role/Deployer'],
    ['arn:aws-us-gov:sts::111122223333:assumed-role/Deployer/ci', 'arn:aws-us-gov:iam::111122223333:role/Deployer'],
    ['arn:aws:iam::111122223333:user/ops/Bob', 'arn:aws:iam::111122223333:user/ops/Bob'],
    ['arn:aws:iam::111122223333:role/Admin', 'arn:aws:iam::111122223333:role/Admin'],
    ['arn:aws:iam::111122223333:root', 'arn:aws:iam::111122223333:root'],
    ['arn:aws:sts::111122223333:federated-user/Bob', 'arn:aws:sts::111122223333:federated-user/Bob'],
  ])('maps %s to %s', (arn, canonical) => {
    expect(canonicalPrincipalArn(arn)).toBe(canonical);
  });

  it.each([
    'arn:aws:sts::111122223333:assumed-role/Admin',
    'arn:aws:iam::111122223333:group/Admins',
    'arn:aws:s3:::bucket',
    'arn:aws:iam::1111:user/Bob',
    'not an arn',
  ])('rejects %s as an identity the authenticator would not accept', (arn) => {
    expect(() => canonicalPrincipalArn(arn)).toThrow(PrincipalArnError);
    expect(() => canonicalPrincipalArn(arn)).toThrow(arn);
  });
});

describe('callerIdentity', () => {
  const client = new STSClient({
    region: 'eu-west-1',
    credentials: { accessKeyId: 'AKIATEST', secretAccessKey: 'test-secret' },
  });
  const sts = mockClient(client);
  beforeEach(() => sts.reset());

  it('returns the caller and the role ARN aws-auth has to map for an assumed-role session', async () => {
    sts.on(GetCallerIdentityCommand).resolves({
      Arn: 'arn:aws:sts::111122223333:assumed-role/eks-auth-sync/1700000000000',
      Account: '111122223333',
      UserId: 'AROAEXAMPLE:1700000000000',
    });
    await expect(callerIdentity(client)).resolves.toEqual({
      arn: 'arn:aws:sts::111122223333:assumed-role/eks-auth-sync/1700000000000',
      account: '111122223333',
      canonicalArn: 'arn:aws:iam::111122223333:role/eks-auth-sync',
    });
  });

  it('keeps an IAM user ARN, path included', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Arn: 'arn:aws:iam::111122223333:user/ops/Bob', Account: '111122223333' });
    await expect(callerIdentity(client)).resolves.toMatchObject({ canonicalArn: 'arn:aws:iam::111122223333:user/ops/Bob' });
  });

  it('says to refresh credentials when STS rejects them', async () => {
    sts.on(GetCallerIdentityCommand).rejects(
      Object.assign(new Error('The security token included in the request is expired'), { name: 'ExpiredToken' }),
    );
    const failure = callerIdentity(client);
    await expect(failure).rejects.toThrow(AwsCredentialsError);
    await expect(failure).rejects.toThrow(/ExpiredToken.*refresh them/);
  });
});
