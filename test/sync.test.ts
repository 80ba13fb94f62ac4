import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { GetAccountAuthorizationDetailsCommand, IAMClient } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../lambda/config.js';
import { runScanners } from '../lambda/scanners/index.js';
import { scanDeps } from '../lambda/sync.js';

const sts = mockClient(STSClient);
const iam = mockClient(IAMClient);
afterEach(() => {
  sts.reset();
  iam.reset();
});

describe('the scanners with a run\'s dependencies (scanDeps)', () => {
  it('asks STS for the account once, only because no account ID is configured, and maps its tags', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: '111122223333', Arn: 'arn:aws:sts::111122223333:assumed-role/eks-auth-sync/run', UserId: 'AROAEXAMPLE:run' });
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({
      RoleDetailList: [{ RoleName: 'R', Path: '/', Arn: 'arn:aws:iam::111122223333:role/R', Tags: [{ Key: 'eks/111122223333/prod/username', Value: 'r' }] }],
    });
    const config = parseConfig('cluster: {name: prod, region: eu-west-1}\nscanners: [{type: iam, iam: {}}, {type: iam, iam: {disableUserScan: true}}]', 't.yaml');
    const d = await runScanners(config, scanDeps(config, '/'));
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['r']);
    expect(sts.commandCalls(GetCallerIdentityCommand)).toHaveLength(1);
  });

  it('does not call STS when the cluster account is configured', async () => {
    iam.on(GetAccountAuthorizationDetailsCommand).resolves({});
    const config = parseConfig('cluster: {name: prod, region: eu-west-1, accountID: "111122223333"}\nscanners: [{type: iam, iam: {}}]', 't.yaml');
    await runScanners(config, scanDeps(config, '/'));
    expect(sts.calls()).toHaveLength(0);
  });
});
