/**
 * The one piece of I/O the translation needs: a role's IAM path. Access entries refuse a
 * path-less ARN for a role that has a path, and sources (static, file, SSM) often write role
 * ARNs without it, as aws-auth wants them.
 */
import { GetRoleCommand, NoSuchEntityException, type IAMClient } from '@aws-sdk/client-iam';
import { EksAuthSyncError } from '../../errors.js';
import { parseRoleArn } from '../../mappings.js';
import type { RoleResolver } from './translate.js';

/**
 * A resolver backed by iam:GetRole, asking IAM at most once per role for the life of the
 * resolver (build one per run). A role IAM does not know, or one of another account (GetRole
 * looks names up in the caller's account only, so its answer would be a different role), is
 * undefined.
 * @example const resolveRole = iamRoleResolver(clients.iam()); await resolveRole('arn:aws:iam::111122223333:role/Admin')
 * @throws EksAuthSyncError naming the role when IAM fails otherwise (access denied, throttling past the retries).
 */
export function iamRoleResolver(iam: IAMClient): RoleResolver {
  const cache = new Map<string, Promise<string | undefined>>();
  return (pathlessRoleArn) => {
    const key = pathlessRoleArn.toLowerCase();
    let lookup = cache.get(key);
    if (!lookup) {
      lookup = getRoleArn(iam, pathlessRoleArn);
      cache.set(key, lookup);
    }
    return lookup;
  };
}

async function getRoleArn(iam: IAMClient, roleArn: string): Promise<string | undefined> {
  const wanted = parseRoleArn(roleArn);
  if (!wanted) throw new EksAuthSyncError(`cannot look up the IAM path of ${JSON.stringify(roleArn)}: not an IAM role ARN`);
  let found: string | undefined;
  try {
    found = (await iam.send(new GetRoleCommand({ RoleName: wanted.name }))).Role?.Arn;
  } catch (err) {
    if (err instanceof NoSuchEntityException) return undefined;
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    throw new EksAuthSyncError(
      `iam:GetRole for ${roleArn} (its IAM path, which access entries need) failed (${detail}); check that eks-auth-sync may call iam:GetRole, and run again.`,
      { cause: err },
    );
  }
  const got = found === undefined ? undefined : parseRoleArn(found);
  if (!got || got.accountId !== wanted.accountId || got.partition !== wanted.partition) return undefined;
  return found;
}
