/**
 * The iam scanner's `accessPolicies` tag: `eks/{accountId}/{clusterName}/accessPolicies`.
 *
 * IAM tag values may hold only letters, digits, spaces and `_ . : / = + - @`, at most 256
 * characters, so the YAML syntax of the other sources cannot be written there. The value lists
 * policies joined by the scanner's `groupSeparator` (default `::`), each `Policy` (cluster scope)
 * or `Policy/ns1/ns2` (those namespaces):
 *
 *     AmazonEKSViewPolicy::AmazonEKSEditPolicy/dev/staging
 *
 * A namespace wildcard (`team-*`) cannot be written, as `*` is not allowed in a tag value (one
 * that arrives anyway is refused); use a static, file or SSM source for those. An empty value
 * grants no policy.
 */
import { quoteValue, type AccessPolicySpec } from '../mappings.js';
import { policySpecProblem } from '../targets/access-entries/translate.js';

/**
 * The access policies a tag may grant only when the iam scanner's `allowAccessPolicies` lists
 * them: they administer the cluster (`AmazonEKSClusterAdminPolicy`, like `system:masters`) or
 * every resource of a namespace, RBAC included (`AmazonEKSAdminPolicy`).
 */
export const TAG_RESTRICTED_POLICIES = ['AmazonEKSClusterAdminPolicy', 'AmazonEKSAdminPolicy'] as const;
const RESTRICTED: ReadonlySet<string> = new Set(TAG_RESTRICTED_POLICIES);

/**
 * The access policies an `accessPolicies` tag value grants, or why the value is refused: a
 * malformed item, or a restricted policy (see {@link TAG_RESTRICTED_POLICIES}) that `allowed`
 * does not list.
 * @example parseAccessPoliciesTag('AmazonEKSViewPolicy::AmazonEKSEditPolicy/dev', '::', [])
 *   // { policies: [{ policy: 'AmazonEKSViewPolicy' }, { policy: 'AmazonEKSEditPolicy', namespaces: ['dev'] }] }
 */
export function parseAccessPoliciesTag(
  value: string, separator: string, allowed: readonly string[],
): { policies: AccessPolicySpec[] } | { problem: string } {
  if (value === '') return { policies: [] };
  // A slash in the separator would split the namespaces off as policies of their own.
  if (separator.includes('/')) return { problem: `cannot be read: the iam scanner's groupSeparator ${quoteValue(separator)} contains "/"` };
  const policies: AccessPolicySpec[] = [];
  for (const item of value.split(separator)) {
    if (item === '') return { problem: `${quoteValue(value)} has an empty item (expected Policy or Policy/namespace/… between separators)` };
    const [policy = '', ...namespaces] = item.split('/');
    const spec: AccessPolicySpec = namespaces.length === 0 ? { policy } : { policy, namespaces };
    const problem = policySpecProblem(spec);
    if (problem) return { problem };
    // IAM stores no `*` in a tag value; one that arrives anyway (an emulator, a proxy) widens the grant.
    const wildcard = namespaces.find((n) => n.includes('*'));
    if (wildcard !== undefined) return { problem: `access policy ${policy}: namespace ${quoteValue(wildcard)}: IAM tags cannot hold wildcards` };
    if (RESTRICTED.has(policy) && !allowed.includes(policy)) {
      return { problem: `grants ${policy}, which IAM tags may not grant unless the iam scanner's allowAccessPolicies lists it` };
    }
    policies.push(spec);
  }
  return { policies };
}
