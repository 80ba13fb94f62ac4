/**
 * Building blocks for aws-auth tests that need no cluster: the ConfigMap, ARNs in the test
 * account, EKS's node-role entry, the default merge settings and a desired state. Plain data,
 * no test runner and no servers, so scripts may import it too.
 */
import type { SyncSettings } from '../../lambda/config.js';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, type ConfigMap } from '../../lambda/configmap.js';
import type { DesiredState, RoleArn, UserArn } from '../../lambda/mappings.js';

/** The account the fixtures' ARNs are in. */
export const ACCOUNT_ID = '111122223333';

export const role = (name: string): string => `arn:aws:iam::${ACCOUNT_ID}:role/${name}`;
export const user = (name: string): string => `arn:aws:iam::${ACCOUNT_ID}:user/${name}`;

/** The mapRoles entry EKS adds for a managed node group's role `arn`, as EKS writes it. */
export const nodeRoleEntry = (arn: string): string =>
  `- rolearn: ${arn}\n  username: system:node:{{EC2PrivateDNSName}}\n  groups:\n    - system:bootstrappers\n    - system:nodes\n`;

/** The sync settings a config without a `sync` section gets. */
export const MERGE_SETTINGS: SyncSettings = { mode: 'merge', allowEmpty: false, maxRemovals: 20, conflictRetries: 5 };

/** Metadata merged over aws-auth's name and namespace; `namespace: null` leaves the namespace out. */
export interface AwsAuthMetadata {
  name?: string;
  namespace?: string | null;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}

/**
 * kube-system/aws-auth holding `data`, with `metadata` on top.
 * @example awsAuthMap({ mapRoles: nodeRoleEntry(role('node')) }, { resourceVersion: '7' })
 */
export function awsAuthMap(data: Record<string, string>, metadata: AwsAuthMetadata = {}): ConfigMap {
  const { namespace = AWS_AUTH_NAMESPACE, ...rest } = metadata;
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: AWS_AUTH_NAME, ...(namespace === null ? {} : { namespace }), ...rest },
    data,
  };
}

/** One desired mapping: ARN, username, groups and the source that produced it. */
export type DesiredRow = [arn: string, username: string, groups: string[], source?: string];

/**
 * The desired state for `roles` and `users`; a row without a source is from `static`. A row whose
 * source is `iam` (or `iam[n]`) stands for an iam scanner's, so it came from IAM tags.
 */
export function desiredState(roles: DesiredRow[], users: DesiredRow[] = []): DesiredState {
  const sourceOf = new Map<string, string>();
  const fromTags = new Set<string>();
  for (const [arn, , , source = 'static'] of [...roles, ...users]) {
    sourceOf.set(arn.toLowerCase(), source);
    if (/^iam(?:\[\d+\])?$/.test(source)) fromTags.add(arn.toLowerCase());
  }
  return {
    mappings: {
      roles: roles.map(([arn, username, groups]) => ({ rolearn: arn as RoleArn, username, groups })),
      users: users.map(([arn, username, groups]) => ({ userarn: arn as UserArn, username, groups })),
    },
    sourceOf,
    fromTags,
    warnings: [],
  };
}
