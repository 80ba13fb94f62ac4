/**
 * The access-entries target, one run: translate the desired mappings (`translate.ts`, with role
 * paths from IAM), read the live entries (`read.ts`), plan (`plan.ts`, guards included), and,
 * with `commit`, apply the plan's steps (`apply.ts`). Nothing reaches the Kubernetes API.
 */
import type { EKSClient } from '@aws-sdk/client-eks';
import type { IAMClient } from '@aws-sdk/client-iam';
import type { SelfIdentity } from '../../guards.js';
import type { DesiredState, Warning } from '../../mappings.js';
import { applyAccessEntriesPlan } from './apply.js';
import { mappingsForAccessEntries } from './from-desired.js';
import { planAccessEntries, type AccessEntriesPlan, type AccessEntrySettings, type LiveAccessEntry } from './plan.js';
import { readAccessEntries } from './read.js';
import { iamRoleResolver } from './role-paths.js';
import { translateMappings } from './translate.js';

export { OWNED_TAG, isOwned, type AccessEntriesPlan, type LiveAccessEntry, type Step } from './plan.js';

export interface SyncAccessEntriesOptions {
  eks: EKSClient;
  /** IAM of the cluster's account, for the paths of role ARNs written without one. */
  iam: IAMClient;
  cluster: { name: string; partition: string; accountId: string };
  desired: DesiredState;
  settings: AccessEntrySettings;
  self: SelfIdentity;
  /** May IAM tags grant cluster admin (an iam scanner's allowSystemGroups lists system:masters)? */
  tagsMayGrantClusterAdmin: boolean;
  /** false: plan only (dry run), never write. */
  commit: boolean;
  /** No step starts after this moment. */
  deadline?: Date;
  clock?: () => Date;
  /** NotFound retries on just-created entries (tests shorten the wait). */
  notFoundRetry?: { attempts: number; delayMs: number };
}

export interface AccessEntriesResult {
  plan: AccessEntriesPlan;
  /** The entries as read, before any step (the migration view compares aws-auth with them). */
  live: LiveAccessEntry[];
  /** How many steps ran (0 in a dry run, or when nothing changes). */
  applied: number;
  /** Translation warnings (skipped mappings) and the plan's. */
  warnings: Warning[];
}

/**
 * Brings the access entries eks-auth-sync owns in step with `desired` (or, in a dry run, plans how).
 * @example const { plan } = await syncAccessEntries({ eks: clients.eks(), iam: clients.iam(), cluster, desired, settings: config.sync, self, tagsMayGrantClusterAdmin: false, commit: false });
 * @throws the guards' errors (before any write), the read's and apply's EKS errors, IAM errors of the path lookup.
 */
export async function syncAccessEntries(opts: SyncAccessEntriesOptions): Promise<AccessEntriesResult> {
  const translation = await translateMappings(mappingsForAccessEntries(opts.desired), {
    partition: opts.cluster.partition,
    clusterAccountId: opts.cluster.accountId,
    tagsMayGrantClusterAdmin: opts.tagsMayGrantClusterAdmin,
    resolveRole: iamRoleResolver(opts.iam),
  });
  const live = await readAccessEntries(opts.eks, opts.cluster.name);
  const plan = planAccessEntries({ desired: translation.entries, live, settings: opts.settings, self: opts.self });
  const warnings = [...translation.warnings, ...plan.warnings];
  if (!opts.commit || plan.steps.length === 0) return { plan, live, applied: 0, warnings };
  const applied = await applyAccessEntriesPlan(opts.eks, plan, {
    clusterName: opts.cluster.name,
    warnings,
    ...(opts.deadline ? { deadline: opts.deadline } : {}),
    ...(opts.clock ? { clock: opts.clock } : {}),
    ...(opts.notFoundRetry ? { notFoundRetry: opts.notFoundRetry } : {}),
  });
  return { plan, live, applied, warnings };
}
