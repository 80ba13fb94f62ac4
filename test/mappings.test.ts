import { describe, expect, it } from 'vitest';
import {
  canonicalRoleArn, mergeScanResults, parseRoleArn, parseUserArn, quoteValue, renderMappingsYaml, renderedPrefix, reservedPrefix,
  validateGroups, validateUsername,
  type RoleArn, type RoleMapping, type ScanResult, type UserArn, type UserMapping,
} from '../lambda/mappings.js';

const role = (arn: string, username = 'u', groups: string[] = []) => ({ rolearn: arn as RoleArn, username, groups });
const user = (arn: string, username = 'u', groups: string[] = []) => ({ userarn: arn as UserArn, username, groups });
const result = (source: string, roles: RoleMapping[] = [], users: UserMapping[] = []): ScanResult =>
  ({ source, trust: 'operator', mappings: { roles, users }, warnings: [] });

describe('canonicalRoleArn', () => {
  it.each([
    ['arn:aws:iam::111122223333:role/Admin', 'arn:aws:iam::111122223333:role/Admin'],
    ['arn:aws:iam::111122223333:role/x/y/Name', 'arn:aws:iam::111122223333:role/Name'],
    ['arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123456789abcdef',
      'arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123456789abcdef'],
    ['arn:aws-cn:iam::111122223333:role/ops/Deployer', 'arn:aws-cn:iam::111122223333:role/Deployer'],
    ['arn:aws-us-gov:iam::111122223333:role/Deployer', 'arn:aws-us-gov:iam::111122223333:role/Deployer'],
    ['arn:aws-iso-b:iam::111122223333:role/p/Deployer', 'arn:aws-iso-b:iam::111122223333:role/Deployer'],
  ])('writes %s as %s', (input, expected) => {
    expect(canonicalRoleArn(input)).toBe(expected);
  });

  it.each([
    'arn:aws:iam::111122223333:user/Admin',
    'arn:aws:sts::111122223333:assumed-role/Admin/session',
    'arn:gcp:iam::111122223333:role/Admin',
    'arn:aws:iam::1111:role/Admin',
    'arn:aws:iam::111122223333:role/',
    'arn:aws:iam::111122223333:role/has space',
  ])('refuses %s, which is not a role ARN', (input) => {
    expect(() => canonicalRoleArn(input)).toThrow(/not an IAM role ARN/);
  });
});

describe('ARN parsing', () => {
  it('keeps a user ARN path and partition', () => {
    expect(parseUserArn('arn:aws-us-gov:iam::111122223333:user/team/a/alice')).toEqual({
      partition: 'aws-us-gov', accountId: '111122223333', path: '/team/a/', name: 'alice',
    });
  });
  it('gives a role without a path the root path', () => {
    expect(parseRoleArn('arn:aws:iam::111122223333:role/Admin')?.path).toBe('/');
  });
  it('does not take a user ARN for a role ARN', () => {
    expect(parseRoleArn('arn:aws:iam::111122223333:user/alice')).toBeUndefined();
  });
});

describe('what a template can render', () => {
  it.each([
    ['admin', { kind: 'fixed', prefix: 'admin' }],
    ['system:masters', { kind: 'fixed', prefix: 'system:masters' }],
    ['dev:{{SessionName}}', { kind: 'fixed', prefix: 'dev:' }],
    ['system:node:{{EC2PrivateDNSName}}', { kind: 'fixed', prefix: 'system:node:' }],
    ['a:b{{SessionName}}:c', { kind: 'fixed', prefix: 'a:b' }],
    ['{{SessionName}}', { kind: 'colonFree' }],
    ['sso-{{SessionNameRaw}}', { kind: 'colonFree' }],
    ['{{AccountID}}-ops', { kind: 'colonFree' }],
    // For an IAM user {{SessionName}} renders empty; for a role its session name is the assumer's choice.
    ['{{SessionName}}system:kube-controller-manager', { kind: 'chosen', example: 'system:kube-controller-manager' }],
    ['{{SessionName}}:kube-scheduler', { kind: 'chosen', example: 'system:kube-scheduler' }],
    ['sys{{SessionName}}:x', { kind: 'chosen', example: 'system:x' }],
    ['e{{SessionNameRaw}}s:x', { kind: 'chosen', example: 'eks:x' }],
    // Both occurrences render the same session name, which no reserved word repeats.
    ['{{SessionName}}{{SessionName}}:x', { kind: 'chosen', example: 'alicealice:x' }],
    ['{{AccountID}}:{{SessionName}}', { kind: 'chosen', example: '111122223333:alice' }],
    ['x{{AccountID}}y:z', { kind: 'chosen', example: 'x111122223333y:z' }],
  ])('%s → %j', (name, expected) => {
    expect(renderedPrefix(name)).toEqual(expected);
  });

  it.each([
    ['system:node:{{EC2PrivateDNSName}}', 'system:'],
    ['eks:addon-manager', 'eks:'],
    ['{{SessionName}}:kube-scheduler', 'system:'],
    ['am{{SessionName}}:x', 'amazon:'],
    ['dev:{{SessionName}}', undefined],
    ['{{SessionName}}', undefined],
    ['x{{AccountID}}y:z', undefined],
    ['System:masters', undefined],
  ])('%s can render the reserved prefix %s', (name, expected) => {
    expect(reservedPrefix(name)).toBe(expected);
  });

  it('checks groups against system: only when asked', () => {
    expect(reservedPrefix('{{SessionName}}:kube-scheduler', ['system:'])).toBe('system:');
    expect(reservedPrefix('eks:x', ['system:'])).toBeUndefined();
  });
});

describe('quoteValue', () => {
  it('quotes short values whole and cuts long ones, saying how long they were', () => {
    expect(quoteValue('ldap')).toBe('"ldap"');
    expect(quoteValue('y'.repeat(500))).toBe(`"${'y'.repeat(60)}"… (500 characters)`);
  });
});

describe('validateUsername and validateGroups', () => {
  it.each([
    ['admin', undefined],
    ['system:node:{{EC2PrivateDNSName}}', undefined],
    ['sso:{{SessionName}}', undefined],
    ['alice@example.com', undefined],
    ['', /empty username/],
    [' admin', /whitespace/],
    ['admin\n', /whitespace/],
    ['ad\u0007min', /control character/],
    ['{{Unknown}}', /unknown template/],
    ['{{SessionName}}', undefined],
    ['{{AccountID}}-ops', undefined],
    ['{{SessionName}}system:kube-controller-manager', /template before its first ":".*can render "system:kube-controller-manager"/],
    ['{{SessionName}}:kube-scheduler', /can render "system:kube-scheduler"/],
    ['sys{{SessionName}}:x', /can render "system:x"/],
    ['x{{AccountID}}y:z', /template before its first ":"/],
    ['admin, system:masters', /may only contain/],
    ['[admin]', /may only contain/],
    ['a#b', /may only contain/],
    ['a"b', /may only contain/],
    ['x'.repeat(257), /longer than 256/],
  ])('username %j → %s', (name, problem) => {
    const got = validateUsername(name);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(problem);
  });

  it.each([
    [['system:masters', 'dev-team'], undefined],
    [[], undefined],
    [['a', ''], /empty group name/],
    [['a b'], /may only contain/],
    [['{x}'], /may only contain/],
    [['x\ty'], /control character/],
    [['{{SessionName}}:masters'], /contains a template/],
    [['dev:{{SessionName}}'], /contains a template/],
    [['ok', 'x: y'], /may only contain/],
  ])('groups %j → %s', (groups, problem) => {
    const got = validateGroups(groups);
    if (problem === undefined) expect(got).toBeUndefined();
    else expect(got).toMatch(problem);
  });
});

describe('mergeScanResults', () => {
  const A = 'arn:aws:iam::111122223333:role/A';
  const B = 'arn:aws:iam::111122223333:role/B';

  it('keeps the entry of the scanner listed earlier and warns naming both sources', () => {
    const d = mergeScanResults([result('static[0]', [role(A, 'first', ['g1'])]), result('iam[1]', [role(A, 'second', ['g2'])])]);
    expect(d.mappings.roles).toEqual([{ ...role(A, 'first', ['g1']), sourceArn: A }]);
    expect(d.sourceOf.get(A.toLowerCase())).toBe('static[0]');
    expect(d.warnings).toHaveLength(1);
    expect(d.warnings[0]).toMatchObject({ source: 'iam[1]', subject: A });
    expect(d.warnings[0]?.message).toMatch(/"static\[0\]"/);
    expect(d.warnings[0]?.message).toMatch(/different entry/);
  });

  it('reports an identical duplicate too', () => {
    const d = mergeScanResults([result('a', [role(A)]), result('b', [role(A)])]);
    expect(d.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/identical entry is already mapped by "a"/)]);
  });

  it('keeps the first entry within one scanner', () => {
    const d = mergeScanResults([result('a', [role(A, 'one'), role(A, 'two')])]);
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['one']);
    expect(d.warnings[0]?.message).toMatch(/earlier in the same source/);
  });

  it('labels each entry with its scanner and, when the source says it, the group or permission set it came from', () => {
    const d = mergeScanResults([
      result('iamGroups[0]', [], [{ ...user('arn:aws:iam::111122223333:user/alice'), sourceDetail: 'developers' }]),
      result('identityCenter[1]', [{ ...role(A, 'x'), sourceDetail: 'Admin' }, { ...role(A, 'y'), sourceDetail: 'Admin' }, { ...role(B), sourceDetail: 'Dev' }]),
      result('static[2]', [role(B)]),
    ]);
    expect(d.sourceOf.get('arn:aws:iam::111122223333:user/alice')).toBe('iamGroups[0]: developers');
    expect(d.sourceOf.get(A.toLowerCase())).toBe('identityCenter[1]: Admin');
    // The label stays out of the entries themselves, so aws-auth never sees it.
    expect(d.mappings.users).toEqual([{ ...user('arn:aws:iam::111122223333:user/alice'), sourceArn: 'arn:aws:iam::111122223333:user/alice' }]);
    expect(d.warnings.map((w) => [w.source, w.message])).toEqual([
      ['identityCenter[1]: Admin', expect.stringMatching(/already mapped earlier in the same source \("identityCenter\[1\]: Admin"\)/)],
      ['static[2]', expect.stringMatching(/already mapped by "identityCenter\[1\]: Dev", which is listed earlier/)],
    ]);
  });

  it('treats ARNs differing only in case as the same entry, as the authenticator does', () => {
    const d = mergeScanResults([result('a', [role(A)]), result('b', [role('arn:aws:iam::111122223333:role/a')])]);
    expect(d.mappings.roles).toHaveLength(1);
    expect(d.warnings).toHaveLength(1);
  });

  it('writes role ARNs without their path, with a warning, and merges them with the path-less form', () => {
    const sso = 'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_1';
    const d = mergeScanResults([result('file[0]', [role(sso, 'admin')]), result('iam[1]', [role('arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_1', 'other')])]);
    // aws-auth gets the ARN without the path; access entries, which need it, the ARN as written.
    expect(d.mappings.roles).toEqual([{ ...role('arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_1', 'admin'), sourceArn: sso }]);
    expect(d.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/IAM path.*written as arn:aws:iam::111122223333:role\/AWSReservedSSO_Admin_1/),
      expect.stringMatching(/already mapped by "file\[0\]"/),
    ]);
  });

  it('keeps the access-entry details of the entry it keeps: access policies, node type, and the ARN the source gave', () => {
    const nodes = 'arn:aws:iam::111122223333:role/eks/Nodes';
    const d = mergeScanResults([result('iam[0]', [
      { ...role(nodes, 'system:node:{{EC2PrivateDNSName}}', ['system:nodes']), sourceArn: nodes, nodeType: 'node' },
      { ...role(A, 'a'), accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }, { policy: 'AmazonEKSEditPolicy' }] },
    ])]);
    expect(d.mappings.roles).toEqual([
      { ...role(A, 'a'), sourceArn: A, accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }, { policy: 'AmazonEKSEditPolicy' }] },
      { ...role('arn:aws:iam::111122223333:role/Nodes', 'system:node:{{EC2PrivateDNSName}}', ['system:nodes']), sourceArn: nodes, nodeType: 'node' },
    ]);
  });

  it.each([
    ['other access policies', [{ policy: 'AmazonEKSEditPolicy' }]],
    ['the same policy in other namespaces', [{ policy: 'AmazonEKSViewPolicy', namespaces: ['prod'] }]],
    ['the same policy at cluster scope', [{ policy: 'AmazonEKSViewPolicy' }]],
    ['no access policies', undefined],
  ])('calls a duplicate with %s a different entry, naming the kept policies', (_what, accessPolicies) => {
    const kept = { ...role(A), accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev'] }] };
    const d = mergeScanResults([result('a', [kept]), result('b', [{ ...role(A), ...(accessPolicies && { accessPolicies }) }])]);
    expect(d.warnings.map((w) => w.message)).toEqual([
      'a different entry (kept username "u", groups [], access policies AmazonEKSViewPolicy (dev)) is already mapped by "a", which is listed earlier; this entry is ignored',
    ]);
  });

  it('calls a duplicate identical when its access policies are too, no policies and an empty list alike', () => {
    const policies = [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev'] }];
    const d = mergeScanResults([
      result('a', [{ ...role(A), accessPolicies: policies }, { ...role(B), accessPolicies: [] }]),
      result('b', [{ ...role(A), accessPolicies: policies.map((p) => ({ ...p })) }, role(B)]),
    ]);
    expect(d.warnings.map((w) => w.message)).toEqual([
      expect.stringMatching(/^an identical entry is already mapped by "a"/),
      expect.stringMatching(/^an identical entry is already mapped by "a"/),
    ]);
  });

  it('calls a node mapping and an ordinary one with the same username and groups different entries', () => {
    const n = role(A, 'system:node:{{EC2PrivateDNSName}}', ['system:nodes']);
    const d = mergeScanResults([result('iam[0]', [{ ...n, nodeType: 'node' }]), result('static[1]', [n])]);
    expect(d.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^a different entry/)]);
  });

  it('renders access policies in the mappings document\'s syntax, and nothing of the other details', () => {
    const d = mergeScanResults([result('s', [
      { ...role(A, 'a'), accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }, { policy: 'AmazonEKSEditPolicy' }] },
      { ...role(B, 'b'), nodeType: 'node', sourceArn: 'arn:aws:iam::111122223333:role/x/B', accessPolicies: [] },
    ])]);
    expect(renderMappingsYaml(d.mappings)).toBe(`users: []
roles:
  - rolearn: arn:aws:iam::111122223333:role/A
    username: a
    groups: []
    accessPolicies:
      - policy: AmazonEKSViewPolicy
        namespaces:
          - dev
          - team-*
      - policy: AmazonEKSEditPolicy
  - rolearn: arn:aws:iam::111122223333:role/B
    username: b
    groups: []
`);
  });

  it('keeps user ARN paths', () => {
    const u = 'arn:aws:iam::111122223333:user/team/alice';
    expect(mergeScanResults([result('a', [], [user(u)])]).mappings.users[0]?.userarn).toBe(u);
  });

  it('removes duplicate groups but keeps their order', () => {
    const d = mergeScanResults([result('a', [role(A, 'u', ['b', 'a', 'b'])])]);
    expect(d.mappings.roles[0]?.groups).toEqual(['b', 'a']);
  });

  it('passes on the warnings the scanners reported', () => {
    const r = result('iam[0]');
    r.warnings.push({ source: 'iam[0]', subject: A, message: 'skipped' });
    expect(mergeScanResults([r]).warnings).toEqual(r.warnings);
  });

  it('renders byte-identical, sorted output whatever the input order', () => {
    const roles = ['C', 'a', 'B', 'd'].map((n) => role(`arn:aws:iam::111122223333:role/${n}`, n.toLowerCase(), ['g']));
    const users = ['zed', 'Amy'].map((n) => user(`arn:aws:iam::111122223333:user/${n}`, n));
    const forward = renderMappingsYaml(mergeScanResults([result('s', roles, users)]).mappings);
    const backward = renderMappingsYaml(mergeScanResults([result('s', [...roles].reverse(), [...users].reverse())]).mappings);
    expect(backward).toBe(forward);
    expect(forward).toBe(`users:
  - userarn: arn:aws:iam::111122223333:user/Amy
    username: Amy
    groups: []
  - userarn: arn:aws:iam::111122223333:user/zed
    username: zed
    groups: []
roles:
  - rolearn: arn:aws:iam::111122223333:role/a
    username: a
    groups:
      - g
  - rolearn: arn:aws:iam::111122223333:role/B
    username: b
    groups:
      - g
  - rolearn: arn:aws:iam::111122223333:role/C
    username: c
    groups:
      - g
  - rolearn: arn:aws:iam::111122223333:role/d
    username: d
    groups:
      - g
`);
  });
});
