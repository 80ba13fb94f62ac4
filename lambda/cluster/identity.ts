/**
 * Who eks-auth-sync is, as the cluster sees it: the self-lockout guard compares aws-auth
 * entries against this identity's canonical ARN.
 */
import { GetCallerIdentityCommand, type STSClient } from '@aws-sdk/client-sts';
import { isRejectedCredentials } from '../aws.js';
import { AwsCredentialsError, EksAuthSyncError, PrincipalArnError } from '../errors.js';

const ARN = /^arn:([^:]+):(iam|sts)::(\d{12}):(.+)$/;

/**
 * The ARN aws-iam-authenticator looks up in aws-auth for a caller: an assumed-role session
 * becomes its role (`arn:P:iam::A:role/Name`, without the role's path, which STS does not
 * report); IAM users, roles, the account root and federated users are unchanged.
 * @example canonicalPrincipalArn('arn:aws:sts::111122223333:assumed-role/Admin/alice') // 'arn:aws:iam::111122223333:role/Admin'
 */
export function canonicalPrincipalArn(arn: string): string {
  const match = ARN.exec(arn);
  const [, partition, service, account, resource = ''] = match ?? [];
  const [type, ...rest] = resource.split('/');
  if (service === 'sts' && type === 'assumed-role' && rest.length >= 2) {
    return `arn:${partition}:iam::${account}:role/${rest.slice(0, -1).join('/')}`;
  }
  if (service === 'sts' && type === 'federated-user') return arn;
  if (service === 'iam' && (type === 'user' || type === 'role' || type === 'root')) return arn;
  throw new PrincipalArnError(
    `"${arn}" is not an identity aws-iam-authenticator accepts (an IAM user, role, account root, ` +
      'assumed-role session or federated user); check which credentials eks-auth-sync runs with.',
  );
}

/**
 * The caller's ARN and account from sts:GetCallerIdentity, plus the ARN aws-auth must map.
 * @example const me = await callerIdentity(new STSClient({ region })); // me.canonicalArn
 */
export async function callerIdentity(
  sts: STSClient,
): Promise<{ arn: string; account: string; canonicalArn: string }> {
  let response;
  try {
    response = await sts.send(new GetCallerIdentityCommand({}));
  } catch (err) {
    if (err instanceof Error && isRejectedCredentials(err)) {
      throw new AwsCredentialsError(
        `AWS STS rejected the credentials eks-auth-sync runs with (${err.name}); ` +
          'refresh them (e.g. `aws sso login`, or check the role the Lambda runs as) and retry.',
      );
    }
    // Throttling and 5xx errors that outlasted the SDK's retries: the bare SDK message would not say which call failed.
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new EksAuthSyncError(`sts:GetCallerIdentity (who eks-auth-sync is: the IAM scanner's default account and the self-lockout guard's identity) failed (${detail}); run again later, and report it if it persists.`, { cause: err });
  }
  const { Arn: arn, Account: account } = response;
  if (!arn || !account) {
    throw new EksAuthSyncError('sts:GetCallerIdentity returned no Arn or Account; retry, and report it if it persists.');
  }
  return { arn, account, canonicalArn: canonicalPrincipalArn(arn) };
}
