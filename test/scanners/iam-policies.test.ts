import { describe, expect, it } from 'vitest';
import { parseAccessPoliciesTag } from '../../lambda/scanners/iam-policies.js';

describe('the accessPolicies tag syntax', () => {
  it.each([
    ['nothing for an empty value', '', '::', [], []],
    ['a policy at cluster scope', 'AmazonEKSViewPolicy', '::', [], [{ policy: 'AmazonEKSViewPolicy' }]],
    ['a policy in namespaces, after slashes', 'AmazonEKSEditPolicy/dev/team-a', '::', [], [{ policy: 'AmazonEKSEditPolicy', namespaces: ['dev', 'team-a'] }]],
    ['policies joined by the group separator, in order', 'AmazonEKSViewPolicy::AmazonEKSEditPolicy/dev', '::', [],
      [{ policy: 'AmazonEKSViewPolicy' }, { policy: 'AmazonEKSEditPolicy', namespaces: ['dev'] }]],
    ['a custom separator', 'AmazonEKSViewPolicy AmazonEKSAdminViewPolicy', ' ', [], [{ policy: 'AmazonEKSViewPolicy' }, { policy: 'AmazonEKSAdminViewPolicy' }]],
    ['a policy EKS may add later, by its name', 'AmazonEKSFuturePolicy', '::', [], [{ policy: 'AmazonEKSFuturePolicy' }]],
    ['the cluster admin policy when allowed', 'AmazonEKSClusterAdminPolicy', '::', ['AmazonEKSClusterAdminPolicy'], [{ policy: 'AmazonEKSClusterAdminPolicy' }]],
    ['the admin policy in a namespace when allowed', 'AmazonEKSAdminPolicy/dev', '::', ['AmazonEKSAdminPolicy'], [{ policy: 'AmazonEKSAdminPolicy', namespaces: ['dev'] }]],
    // Map-based lookups: a prototype member's name is just a (well-formed) policy name.
    ['a prototype member\'s name as a policy', 'constructor::toString/dev', '::', [], [{ policy: 'constructor' }, { policy: 'toString', namespaces: ['dev'] }]],
  ])('reads %s', (_what, value, separator, allowed, policies) => {
    expect(parseAccessPoliciesTag(value, separator, allowed)).toEqual({ policies });
  });

  it.each([
    ['the cluster admin policy', 'AmazonEKSViewPolicy::AmazonEKSClusterAdminPolicy', [],
      'grants AmazonEKSClusterAdminPolicy, which IAM tags may not grant unless the iam scanner\'s allowAccessPolicies lists it'],
    ['the admin policy, even in one namespace', 'AmazonEKSAdminPolicy/dev', ['AmazonEKSClusterAdminPolicy'],
      'grants AmazonEKSAdminPolicy, which IAM tags may not grant unless the iam scanner\'s allowAccessPolicies lists it'],
    ['an empty item', 'AmazonEKSViewPolicy::::AmazonEKSEditPolicy', [],
      '"AmazonEKSViewPolicy::::AmazonEKSEditPolicy" has an empty item (expected Policy or Policy/namespace/… between separators)'],
    ['a trailing separator', 'AmazonEKSViewPolicy::', [], 'has an empty item'],
    ['an empty namespace', 'AmazonEKSViewPolicy/', [], 'access policy AmazonEKSViewPolicy: "" is not a namespace name'],
    ['a namespace with capitals', 'AmazonEKSViewPolicy/Dev', [], '"Dev" is not a namespace name'],
    ['a namespace longer than a DNS label', `AmazonEKSViewPolicy/${'a'.repeat(64)}`, [], 'is not a namespace name'],
    ['a policy name with other characters', 'Amazon_EKS.ViewPolicy', [], 'access policy "Amazon_EKS.ViewPolicy" is not an access policy name'],
    ['a policy name of prototype characters', '__proto__', [], 'access policy "__proto__" is not an access policy name'],
    ['an overlong policy name, quoted short', 'A'.repeat(250), [], '… (250 characters) is not an access policy name'],
    ['a policy with a space', 'AmazonEKSViewPolicy ', [], 'is not an access policy name'],
    ['a namespace wildcard, which IAM would not have stored', 'AmazonEKSViewPolicy/team-*', [],
      'access policy AmazonEKSViewPolicy: namespace "team-*": IAM tags cannot hold wildcards'],
  ])('refuses %s, saying why', (_what, value, allowed, problem) => {
    const got = parseAccessPoliciesTag(value, '::', allowed);
    expect('problem' in got && got.problem).toContain(problem);
  });

  it('refuses to read the tag when the group separator holds a slash, which would split namespaces off as policies', () => {
    expect(parseAccessPoliciesTag('AmazonEKSViewPolicy/dev', '/', [])).toEqual({ problem: 'cannot be read: the iam scanner\'s groupSeparator "/" contains "/"' });
  });
});
