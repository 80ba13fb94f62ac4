/**
 * Generators for the property tests: each produces valid data and the hostile or broken data a
 * bad hand edit, a careless pipeline or an attacker could put in a source.
 */
import fc from 'fast-check';
import { stringify } from 'yaml';

export const ACCOUNT = '111122223333';
export const CLUSTER = 'prod';

/** Strings meant to pass for privileged names, to break YAML, or to smuggle structure. */
const HOSTILE_NAMES = [
  'system:masters', 'System:masters', 'SYSTEM:MASTERS', 'sYsTeM:masters', 'system:Masters',
  '\u0455ystem:masters', // Cyrillic dze for s
  'system\uff1amasters', // fullwidth colon
  '\uff53ystem:masters', // fullwidth s
  'system:masters\u200b', '\u200bsystem:masters', '\u00a0system:masters', ' system:masters', 'system:masters ',
  'system:masters\n', 'sys\u0000tem:masters', 'system:masters\u202e', 'system:masters::developers',
  'system:nodes', 'system:bootstrappers', 'system:node-proxier', 'system:authenticated', 'system:', 'system:node:ip-10-0-0-1',
  'system:node:{{EC2PrivateDNSName}}', 'system:serviceaccount:kube-system:default',
  '::', 'a::::b', '::system:masters', 'developers::', 'eks:addon-manager', 'aws:x', '{{SessionName}}', '{{AccountID}}', '{{Foo}}',
  '- x', 'a: b', '&a', '*a', '!!binary', '#x', '[x]', '{x}', '"q"', "'q'", '|', '>', '%YAML', 'yes', 'null', '~', '0123', '1e3',
  'x'.repeat(257), 'dev', 'developers', 'viewers', 'admin:{{SessionName}}',
  // Object.prototype's members: a lookup keyed by a tag value must not find them.
  'constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'isPrototypeOf',
];

const TEMPLATE_TOKENS = ['{{SessionName}}', '{{SessionNameRaw}}', '{{AccountID}}', '{{AccessKeyID}}', '{{EC2PrivateDNSName}}'];
/**
 * Names with the authenticator's templates between literal pieces, drawn so that a session name
 * can complete a reserved prefix (`{{SessionName}}:kube-scheduler`, `sys{{SessionName}}:x`).
 */
export const templatedName: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(
    fc.constantFrom('', '', 'sys', 'e', 'am', 'x', 'dev:', 'system:'),
    fc.constantFrom(...TEMPLATE_TOKENS),
    fc.constantFrom('', '', 'tem', 'system', 's', 'y'),
    fc.constantFrom(':', ':', ''),
    fc.constantFrom('kube-scheduler', 'x', '{{SessionName}}', ''),
  ).map((parts) => parts.join('')),
  fc.array(fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...TEMPLATE_TOKENS) },
    { weight: 2, arbitrary: fc.constantFrom(':', 'system', 'sys', 'tem', 'system:', 'eks', 'aws:', 'amazon', 'iam', 'e', 's', 'dev:', '-', '{{Foo}}', '{{') },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z:]{1,4}$/) },
  ), { minLength: 1, maxLength: 5 }).map((parts) => parts.join('')),
);

export const hostileText = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_NAMES) },
  { weight: 2, arbitrary: templatedName },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z][a-z0-9:_-]{0,15}$/) },
);

const PARTITIONS = ['aws', 'aws-cn', 'aws-us-gov', 'aws-iso', 'aws-iso-b', 'aws-iso-e', 'aws-iso-f', 'aws-eusc'];
const partition = fc.constantFrom(...PARTITIONS);
const account = fc.oneof({ weight: 5, arbitrary: fc.constantFrom(ACCOUNT, '444455556666') }, { weight: 1, arbitrary: fc.stringMatching(/^\d{0,13}$/) });
const iamPath = fc.constantFrom('/', '/', '/ops/', '/aws-reserved/sso.amazonaws.com/eu-west-1/', '//', '/a b/', '/ops');
const iamName = fc.oneof({ weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,12}$/) }, { weight: 1, arbitrary: hostileText });

const MALFORMED_ARNS = [
  `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/session`, `arn:aws:iam::${ACCOUNT}:root`, `arn:aws:iam:eu-west-1:${ACCOUNT}:role/x`,
  `ARN:AWS:IAM::${ACCOUNT}:ROLE/X`, `arn:aws:iam::${ACCOUNT}:role/`, `arn:aws:iam::${ACCOUNT}:group/x`, `arn::iam::${ACCOUNT}:role/x`,
  `arn:aws:iam::${ACCOUNT}:role/x/`, `arn:aws:iam::${ACCOUNT}:role/x y`, `arn:aws:iam::${ACCOUNT}:role/${'n'.repeat(129)}`, '',
];

/** A role or user ARN of any partition, with or without a path, or a malformed one. */
function arn(kind: 'role' | 'user'): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(partition, account, iamPath, iamName).map(([p, a, path, n]) => `arn:${p}:iam::${a}:${kind}${path}${n}`) },
    { weight: 1, arbitrary: fc.constantFrom(...MALFORMED_ARNS) },
    { weight: 1, arbitrary: hostileText },
  );
}

const sane = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}$/);
const name = fc.oneof({ weight: 3, arbitrary: sane }, { weight: 1, arbitrary: hostileText }, { weight: 1, arbitrary: templatedName });

/** Access policy names: EKS's, the admin ones tags may not grant by default, near misses, prototype members, hostile text. */
const policyName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('AmazonEKSViewPolicy', 'AmazonEKSEditPolicy', 'AmazonEKSAdminViewPolicy', 'AmazonEKSClusterAdminPolicy', 'AmazonEKSAdminPolicy') },
  { weight: 2, arbitrary: fc.constantFrom(
    'amazoneksadminpolicy', 'AmazonEKSAdminPolicy ', 'AmazonEKS_AdminPolicy', 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy',
    'constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', 'A'.repeat(129), 'A'.repeat(300), '', '1Policy',
  ) },
  { weight: 1, arbitrary: hostileText },
);
/** Namespaces: DNS labels, wildcards, and what is neither. */
const namespace = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('dev', 'team-a', 'kube-system', 'team-*', '*', 'a'.repeat(63)) },
  { weight: 2, arbitrary: fc.constantFrom('Dev', 'team_a', '-dev', 'dev-', 'a'.repeat(64), '', 'a.b', 'constructor', '__proto__') },
  { weight: 1, arbitrary: hostileText },
);
/** A valid `accessPolicies` list: EKS's policies at cluster scope or in namespaces, wildcards included. */
export const validAccessPolicies = fc.array(fc.record({
  policy: fc.constantFrom('AmazonEKSViewPolicy', 'AmazonEKSEditPolicy', 'AmazonEKSClusterAdminPolicy', 'AmazonEKSFuturePolicy'),
  namespaces: fc.array(fc.constantFrom('dev', 'team-*', '*', 'kube-system'), { minLength: 1, maxLength: 3 }),
}, { requiredKeys: ['policy'] }), { maxLength: 3 });
/** An `accessPolicies` list of a mappings document: valid, hostile, or of the wrong shape. */
const accessPoliciesList: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: validAccessPolicies },
  { weight: 2, arbitrary: fc.array(fc.record({ policy: policyName, namespaces: fc.array(namespace, { maxLength: 3 }) }, { requiredKeys: ['policy'] }), { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** An item of a `{users, roles}` document: mostly well-formed, sometimes with wrong types or unknown fields. */
function entry(kind: 'role' | 'user'): fc.Arbitrary<unknown> {
  const field = kind === 'role' ? 'rolearn' : 'userarn';
  const wellFormed = fc.record(
    { [field]: arn(kind), username: name, groups: fc.array(name, { maxLength: 3 }), accessPolicies: accessPoliciesList },
    { requiredKeys: [field, 'username', 'groups'] },
  );
  return fc.oneof(
    { weight: 6, arbitrary: wellFormed },
    { weight: 1, arbitrary: fc.tuple(wellFormed, fc.dictionary(fc.constantFrom('userid', 'Groups', 'extra', 'sso'), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 1 })).map(([e, x]) => ({ ...e, ...x })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  );
}

/** A `{users, roles}` mappings document as data (possibly of the wrong shape). */
export const mappingsDoc: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ users: fc.array(entry('user'), { maxLength: 3 }), roles: fc.array(entry('role'), { maxLength: 3 }) }, { requiredKeys: [] }) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
);

/** An alias bomb: each level refers to the previous one ten times. */
export function aliasBomb(levels: number): string {
  let text = 'a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n';
  for (let i = 1; i <= levels; i++) text += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(', ')}]\n`;
  return text;
}

/** Ways to damage a document's text. */
function damaged(text: string): fc.Arbitrary<string> {
  return fc.oneof(
    fc.nat(text.length).map((i) => text.slice(0, i)),
    fc.tuple(fc.nat(text.length), fc.constantFrom('\t', ':', '- ', '[', '{', '"', "'", '&x ', '*x ', '!!binary ', '\u0000', '\ufeff', '\n  ', '---\n', '<<: *x\n')).map(([i, s]) => text.slice(0, i) + s + text.slice(i)),
    fc.constantFrom(`${text}\n${text}`, `${text}${aliasBomb(6)}`, '['.repeat(1000), '{a: '.repeat(1000), `x: "${'y'.repeat(20_000)}"`),
  );
}

/** A document as text: YAML, JSON, or damaged YAML, or random bytes. */
export function asText(doc: unknown): fc.Arbitrary<string> {
  const yaml = stringify(doc ?? null);
  return fc.oneof(
    { weight: 4, arbitrary: fc.constant(yaml) },
    { weight: 2, arbitrary: fc.constant(JSON.stringify(doc) ?? 'null') },
    { weight: 2, arbitrary: damaged(yaml) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('utf8')) },
  );
}

/** An SSM parameter value: base64 of a document (the original's format), plain text, invalid base64, base64 of junk. */
export const ssmValue: fc.Arbitrary<string> = mappingsDoc.chain((doc) => fc.oneof(
  asText(doc).map((t) => Buffer.from(t).toString('base64')),
  asText(doc).map((t) => Buffer.from(t).toString('base64').replace(/(.{10})/g, '$1\n')),
  asText(doc),
  fc.constantFrom('====', 'YWJj=', 'not base64!', 'QUJD', Buffer.from([0xff, 0xfe, 0x00]).toString('base64')),
  fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b).toString('base64')),
));

/** An IAM tag under the scheme's prefix for this cluster, or a near miss (other cluster, other case). */
function iamTags(separator: string): fc.Arbitrary<{ Key: string; Value: string }[]> {
  const prefix = fc.oneof(
    { weight: 6, arbitrary: fc.constant(`eks/${ACCOUNT}/${CLUSTER}/`) },
    { weight: 1, arbitrary: fc.constantFrom(`EKS/${ACCOUNT}/${CLUSTER}/`, `eks/${ACCOUNT}/Prod/`, `eks/444455556666/${CLUSTER}/`, `eks/${ACCOUNT}/${CLUSTER}//`, `eks/${ACCOUNT}/${CLUSTER}`) },
  );
  const groups = fc.array(hostileText, { maxLength: 4 }).map((g) => g.join(separator));
  // Tag values can hold neither `*` nor `,`, but the scanner must refuse them anyway: draw them too.
  const policyItem = fc.tuple(policyName, fc.array(namespace, { maxLength: 3 })).map(([p, ns]) => [p, ...ns].join('/'));
  const policies = fc.oneof(
    { weight: 4, arbitrary: fc.array(policyItem, { maxLength: 3 }).map((items) => items.join(separator)) },
    { weight: 1, arbitrary: fc.constantFrom('x'.repeat(257), `AmazonEKSViewPolicy${separator}`, `${separator}AmazonEKSViewPolicy`, 'AmazonEKSViewPolicy//dev', 'AmazonEKSViewPolicy, AmazonEKSAdminPolicy') },
    { weight: 1, arbitrary: hostileText },
  );
  const tag = fc.oneof(
    fc.tuple(prefix, fc.constant('username'), fc.oneof(hostileText, templatedName)),
    fc.tuple(prefix, fc.constant('groups'), fc.oneof(groups, hostileText)),
    fc.tuple(prefix, fc.constant('type'), fc.constantFrom('node', 'fargateNode', 'user', 'Node', 'admin', '', 'constructor', 'toString', '__proto__', 'hasOwnProperty')),
    fc.tuple(prefix, fc.constant('accessPolicies'), policies),
  ).map(([p, k, v]) => ({ Key: `${p}${k}`, Value: v }));
  return fc.array(tag, { maxLength: 4 });
}

const trustPolicy = (...Statement: object[]): string => encodeURIComponent(JSON.stringify({ Version: '2012-10-17', Statement }));
const assumedBy = (Principal: unknown) => ({ Effect: 'Allow', Principal, Action: 'sts:AssumeRole' });
/** Role trust policies as IAM returns them (URL-encoded JSON), by who may assume the role. */
export const TRUST_POLICIES = {
  ec2: trustPolicy(assumedBy({ Service: 'ec2.amazonaws.com' })),
  fargate: trustPolicy(assumedBy({ Service: 'eks-fargate-pods.amazonaws.com' })),
  ec2AndAccount: trustPolicy(assumedBy({ Service: 'ec2.amazonaws.com' }), assumedBy({ AWS: 'arn:aws:iam::444455556666:root' })),
  everyone: trustPolicy(assumedBy('*')),
  garbage: 'not%20a%20policy',
};
export type TrustName = keyof typeof TRUST_POLICIES;

/** Users and roles as GetAccountAuthorizationDetails returns them, with hostile tags; roles with a trust policy or none. */
export function iamIdentities(separator: string) {
  const trustNames = Object.keys(TRUST_POLICIES) as TrustName[];
  const identity = (kind: 'role' | 'user') => fc.record({
    name: fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,10}$/),
    path: fc.constantFrom('/', '/ops/', '/aws-reserved/sso.amazonaws.com/'),
    partition: fc.constantFrom(...PARTITIONS),
    tags: iamTags(separator),
    trust: kind === 'role' ? fc.option(fc.constantFrom(...trustNames), { nil: undefined }) : fc.constant(undefined),
  }).map(({ name, path, partition, tags, trust }) => ({ kind, name, path, arn: `arn:${partition}:iam::${ACCOUNT}:${kind}${path}${name}`, tags, trust }));
  return fc.record({ roles: fc.array(identity('role'), { maxLength: 4 }), users: fc.array(identity('user'), { maxLength: 3 }) });
}

/** A live aws-auth `data`: readable lists (foreign fields, SSO items, duplicates), broken YAML, wrong types. */
export const liveData: fc.Arbitrary<Record<string, string>> = (() => {
  const item = (kind: 'role' | 'user') => fc.oneof(
    { weight: 5, arbitrary: entry(kind) },
    { weight: 1, arbitrary: fc.constant({ sso: { permissionSetName: 'Admin', accountID: ACCOUNT }, username: 'sso-admin', groups: ['system:masters'] }) },
    { weight: 1, arbitrary: fc.constant({ rolearn: `arn:aws:iam::${ACCOUNT}:role/node`, username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'], note: 12345678901234567890n }) },
  );
  const list = (kind: 'role' | 'user') => fc.array(item(kind), { maxLength: 4 }).chain((items) => {
    const yaml = stringify(items, { version: '1.1' });
    return fc.oneof(
      { weight: 6, arbitrary: fc.constant(yaml) },
      { weight: 1, arbitrary: fc.constant(JSON.stringify(items, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) },
      { weight: 2, arbitrary: damaged(yaml) },
      { weight: 1, arbitrary: fc.constantFrom('', '# empty\n', 'rolearn: x\n', 'oops', '42', '[]', aliasBomb(5)) },
    );
  });
  return fc.record({ mapRoles: list('role'), mapUsers: list('user'), mapAccounts: fc.constantFrom('', `- "${ACCOUNT}"\n`, ': [') }, { requiredKeys: [] });
})();

/** A `{users, roles}` document every validator accepts: any partition, IAM paths, templates, system groups. */
export const validMappingsDoc = (() => {
  const validArn = (kind: 'role' | 'user') => fc.tuple(partition, fc.constantFrom(ACCOUNT, '444455556666'), iamPath.filter((p) => /^\/(?:[\x21-\x7e]+\/)*$/.test(p) && !p.includes('//')), fc.stringMatching(/^[A-Za-z0-9+=,.@_-]{1,12}$/))
    .map(([p, a, path, n]) => `arn:${p}:iam::${a}:${kind}${path}${n}`);
  const username = fc.oneof(sane, fc.constantFrom('admin:{{SessionName}}', 'system:node:{{EC2PrivateDNSName}}', '{{AccountID}}-ops'));
  const groups = fc.array(fc.oneof(sane, fc.constantFrom('system:masters', 'system:nodes')), { maxLength: 3 });
  return fc.record({
    users: fc.array(fc.record({ userarn: validArn('user'), username, groups }), { maxLength: 3 }),
    roles: fc.array(fc.record({ rolearn: validArn('role'), username, groups }), { maxLength: 3 }),
  });
})();

const TEMPLATE_SPLIT = new RegExp(`(${TEMPLATE_TOKENS.map((t) => t.replace(/[{}]/g, '\\$&')).join('|')})`);
/**
 * The tests' own model of rendering, independent of lambda/mappings.ts: whether some rendering of
 * `name` starts with `prefix` when each template stands for any text without a colon (what a
 * session name can be; the other templates render less, so this errs on the safe side).
 */
export function someRenderingStartsWith(name: string, prefix: string): boolean {
  const parts = name.split(TEMPLATE_SPLIT);
  const from = (part: number, at: number): boolean => {
    if (at === prefix.length) return true;
    const piece = parts[part];
    if (piece === undefined) return false;
    if (part % 2 === 0) {
      const n = Math.min(piece.length, prefix.length - at);
      return piece.slice(0, n) === prefix.slice(at, at + n) && from(part + 1, at + n);
    }
    for (let end = at; end <= prefix.length; end++) {
      if (from(part + 1, end)) return true;
      if (prefix[end] === ':') break;
    }
    return false;
  };
  return from(0, 0);
}

/** Every username prefix reserved by Kubernetes, EKS or AWS, as the EKS user guide lists them. */
export const RESERVED_PREFIXES = ['system:', 'eks:', 'aws:', 'amazon:', 'iam:'];
