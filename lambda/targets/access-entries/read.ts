/**
 * Reading the live access entries: ListAccessEntries (paginated) gives principal ARNs only, so
 * one DescribeAccessEntry per entry for its type, username, groups and tags, and, for the
 * entries eks-auth-sync owns, ListAssociatedAccessPolicies. Foreign entries' policies are never
 * read: the plan never touches them. Throttling is left to the SDK's adaptive retry.
 */
import {
  DescribeAccessEntryCommand, paginateListAccessEntries, paginateListAssociatedAccessPolicies, ResourceNotFoundException,
  type AccessScope as SdkAccessScope, type EKSClient,
} from '@aws-sdk/client-eks';
import { EksAuthSyncError } from '../../errors.js';
import { isOwned, type LiveAccessEntry } from './plan.js';
import type { AccessScope, DesiredPolicy } from './translate.js';

/** Describe calls in flight at once: enough to read 3,000 entries quickly, few enough not to be throttled hard. */
const DESCRIBE_CONCURRENCY = 8;

/**
 * Every access entry of the cluster, with the associated policies of those eks-auth-sync owns.
 * An entry deleted between the list and its describe is left out.
 * @example const live = await readAccessEntries(clients.eks(), 'prod');
 * @throws EksAuthSyncError naming the call, the cluster and the principal.
 */
export async function readAccessEntries(eks: EKSClient, clusterName: string): Promise<LiveAccessEntry[]> {
  const principals: string[] = [];
  await call(`eks:ListAccessEntries on cluster ${clusterName}`, async () => {
    for await (const page of paginateListAccessEntries({ client: eks, pageSize: 100 }, { clusterName })) {
      principals.push(...(page.accessEntries ?? []));
    }
  });

  const entries: (LiveAccessEntry | undefined)[] = new Array(principals.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < principals.length) {
      const i = next++;
      const principalArn = principals[i] as string;
      entries[i] = await readOne(eks, clusterName, principalArn);
    }
  };
  await Promise.all(Array.from({ length: Math.min(DESCRIBE_CONCURRENCY, principals.length) }, worker));
  return entries.filter((e): e is LiveAccessEntry => e !== undefined);
}

async function readOne(eks: EKSClient, clusterName: string, principalArn: string): Promise<LiveAccessEntry | undefined> {
  const described = await call(`eks:DescribeAccessEntry for ${principalArn} on cluster ${clusterName}`, async () => {
    try {
      return (await eks.send(new DescribeAccessEntryCommand({ clusterName, principalArn }))).accessEntry;
    } catch (err) {
      if (err instanceof ResourceNotFoundException) return undefined;
      throw err;
    }
  });
  if (!described) return undefined;
  const entry: LiveAccessEntry = {
    principalArn: described.principalArn ?? principalArn,
    type: described.type ?? 'STANDARD',
    username: described.username ?? '',
    kubernetesGroups: described.kubernetesGroups ?? [],
    tags: described.tags ?? {},
  };
  if (!isOwned(entry)) return entry;
  const policies: DesiredPolicy[] = [];
  await call(`eks:ListAssociatedAccessPolicies for ${principalArn} on cluster ${clusterName}`, async () => {
    for await (const page of paginateListAssociatedAccessPolicies({ client: eks, pageSize: 100 }, { clusterName, principalArn })) {
      for (const p of page.associatedAccessPolicies ?? []) {
        if (p.policyArn) policies.push({ policyArn: p.policyArn, scope: scopeOf(p.accessScope) });
      }
    }
  });
  entry.policies = policies;
  return entry;
}

function scopeOf(scope: SdkAccessScope | undefined): AccessScope {
  if (scope?.type === 'namespace') return { type: 'namespace', namespaces: [...(scope.namespaces ?? [])].sort() };
  return { type: 'cluster' };
}

/** Runs one EKS read, turning its failure into an error that names it. */
async function call<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const detail = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    const hint = err instanceof Error && err.name === 'InvalidRequestException' && /authentication mode/i.test(err.message)
      ? ' The cluster\'s authentication mode must be API_AND_CONFIG_MAP or API for access entries.'
      : '';
    throw new EksAuthSyncError(`${what} failed (${detail}).${hint}`, { cause: err });
  }
}
