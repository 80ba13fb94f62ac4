/**
 * The bridge from the sources to this target: the merged desired state (the model aws-auth
 * speaks) → the mappings `translateMappings` takes. Pure.
 */
import { arnKey, copyAccessPolicies, type AccessEntryDetails, type DesiredState } from '../../mappings.js';
import type { MappingForAccessEntry } from './translate.js';

/**
 * Every desired mapping, users then roles, as translation input. The principal is the ARN the
 * source gave (`sourceArn`, IAM path included when known), else the aws-auth ARN: a role's
 * `rolearn` never has a path, and translation resolves a path-less role with iam:GetRole. The
 * source and trust come from `desired.sourceOf` and `desired.fromTags`, both keyed by the
 * aws-auth ARN.
 * @example
 * const { entries } = await translateMappings(mappingsForAccessEntries(await runScanners(config, deps)), options);
 */
export function mappingsForAccessEntries(desired: DesiredState): MappingForAccessEntry[] {
  const convert = (kind: 'role' | 'user', arn: string, m: AccessEntryDetails & { username: string; groups: string[] }): MappingForAccessEntry => {
    const key = arnKey(arn);
    const out: MappingForAccessEntry = {
      kind,
      arn: m.sourceArn ?? arn,
      username: m.username,
      groups: [...m.groups],
      // Same fallback as the aws-auth plan: only a hand-built desired state lacks a source.
      source: desired.sourceOf.get(key) ?? 'desired state',
      fromTags: desired.fromTags.has(key),
    };
    if (m.nodeType !== undefined) out.nodeType = m.nodeType;
    if (m.accessPolicies !== undefined) out.accessPolicies = copyAccessPolicies(m.accessPolicies);
    return out;
  };
  return [
    ...desired.mappings.users.map((u) => convert('user', u.userarn, u)),
    ...desired.mappings.roles.map((r) => convert('role', r.rolearn, r)),
  ];
}
