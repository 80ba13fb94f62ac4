/**
 * The bench's stand-in for polarsquad/eks-auth-sync: it must make the calls the original makes,
 * in the original's pattern, or the bench's comparison means nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { originalIamScan } from '../../scripts/original-algorithm.js';
import { generateDataset, startAwsStandins, type AwsStandins, type IamUser } from '../support/aws-standins/index.js';

let aws: AwsStandins;
beforeAll(async () => {
  aws = await startAwsStandins({ dataset: generateDataset({ roles: 150, users: 50, seed: 3 }) });
});
afterAll(async () => {
  await aws.close();
});

describe('the original algorithm', () => {
  it('lists identities in pages of 100 and asks for the tags of every identity, one call each', async () => {
    aws.reset();
    await originalIamScan({ iam: aws.clientConfig('iam'), sts: aws.clientConfig('sts') }, aws.dataset.clusterName);

    expect(aws.calls().iam).toEqual({ ListUsers: 1, ListUserTags: 50, ListRoles: 2, ListRoleTags: 150 });
    expect(aws.calls().sts).toEqual({ GetCallerIdentity: 1 });
  });

  it('maps what the original maps: node roles and identities with a username tag, Fargate roles not', async () => {
    const prefix = `eks/${aws.dataset.account.accountId}/${aws.dataset.clusterName}/`;
    const tag = (i: IamUser, key: string) => i.tags.find((t) => t.Key === prefix + key)?.Value;
    const { roles, users } = aws.dataset.account;
    const expected = {
      roles: roles.filter((r) => tag(r, 'type') === 'node' || ((tag(r, 'type') ?? 'user') === 'user' && tag(r, 'username'))).length,
      users: users.filter((u) => tag(u, 'username')).length,
    };
    expect(expected.roles).toBeGreaterThan(0);

    const found = await originalIamScan({ iam: aws.clientConfig('iam'), sts: aws.clientConfig('sts') }, aws.dataset.clusterName);

    expect(found).toEqual(expected);
  });
});
