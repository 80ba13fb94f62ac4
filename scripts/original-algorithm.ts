/**
 * The IAM scan of polarsquad/eks-auth-sync (internal/scanner/iam), re-implemented with the
 * JavaScript SDK so the bench can run it against the same stand-ins as eks-auth-sync: STS
 * GetCallerIdentity for the account, then users and then roles, each as ListUsers/ListRoles
 * pages (IAM's default page size, 100) and, for every identity on a page, one
 * ListUserTags/ListRoleTags call (following its own pages), strictly one call at a time.
 *
 * The Go tool uses aws-sdk-go v1's default retryer (3 retries with back-off, 500 ms base delay
 * for throttling); here that is the SDK's standard retry mode with 4 attempts.
 */
import { IAMClient, ListRolesCommand, ListRoleTagsCommand, ListUsersCommand, ListUserTagsCommand, type Tag } from '@aws-sdk/client-iam';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

/** Where the original's clients go: region, endpoint and credentials, as for any SDK client. */
export interface OriginalClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

/** What the original's scan found: the mappings its tags ask for, counted. */
export interface OriginalScanResult {
  users: number;
  roles: number;
}

const GO_SDK_V1_RETRIES = { retryMode: 'standard', maxAttempts: 4 } as const;

/**
 * Scans IAM the way the original tool does and counts the mappings it would produce.
 *
 * @example await originalIamScan({ iam: standins.clientConfig('iam'), sts: standins.clientConfig('sts') }, 'bench')
 */
export async function originalIamScan(
  config: { iam: OriginalClientConfig; sts: OriginalClientConfig },
  clusterName: string,
): Promise<OriginalScanResult> {
  const iam = new IAMClient({ ...config.iam, ...GO_SDK_V1_RETRIES });
  const sts = new STSClient({ ...config.sts, ...GO_SDK_V1_RETRIES });
  try {
    const { Account } = await sts.send(new GetCallerIdentityCommand({}));
    const prefix = `eks/${Account ?? ''}/${clusterName}`;
    let users = 0;
    let roles = 0;
    let marker: string | undefined;
    do {
      const page = await iam.send(new ListUsersCommand({ Marker: marker }));
      for (const user of page.Users ?? []) {
        const tags = await ownTags((m) => iam.send(new ListUserTagsCommand({ UserName: user.UserName, Marker: m })), prefix);
        if (tags.get(`${prefix}/username`)) users++;
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    do {
      const page = await iam.send(new ListRolesCommand({ Marker: marker }));
      for (const role of page.Roles ?? []) {
        const tags = await ownTags((m) => iam.send(new ListRoleTagsCommand({ RoleName: role.RoleName, Marker: m })), prefix);
        if (roleIsMapped(tags.get(`${prefix}/type`) ?? '', tags.get(`${prefix}/username`) ?? '')) roles++;
      }
      marker = page.IsTruncated ? page.Marker : undefined;
    } while (marker);
    return { users, roles };
  } finally {
    iam.destroy();
    sts.destroy();
  }
}

/** As createRoleMappingFromTags: `node` maps; any type but empty or `user` (even fargateNode) is dropped. */
function roleIsMapped(type: string, username: string): boolean {
  if (type === 'node') return true;
  return (type === '' || type === 'user') && username !== '';
}

/** One identity's tags under the cluster's prefix, following the tag list's own pages. */
async function ownTags(
  call: (marker: string | undefined) => Promise<{ Tags?: Tag[]; IsTruncated?: boolean; Marker?: string }>,
  prefix: string,
): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  let marker: string | undefined;
  do {
    const page = await call(marker);
    for (const t of page.Tags ?? []) if (t.Key?.startsWith(prefix)) tags.set(t.Key, t.Value ?? '');
    marker = page.IsTruncated ? page.Marker : undefined;
  } while (marker);
  return tags;
}
