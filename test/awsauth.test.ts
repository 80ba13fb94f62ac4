import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  OWNED_ANNOTATION,
  ownershipMark,
  SOURCE_NOT_MANAGED,
  SOURCE_PREVIOUSLY_SYNCED,
  parseAwsAuth,
  planAwsAuth,
  renderList,
  type LiveAwsAuth,
  type PlanInput,
} from '../lambda/targets/awsauth/index.js';
import type { SyncSettings } from '../lambda/config.js';
import type { ConfigMap } from '../lambda/configmap.js';
import {
  BrokenAwsAuthError,
  EmptySourcesGuardError,
  MaxRemovalsGuardError,
  ObjectTooLargeGuardError,
  RoundTripGuardError,
} from '../lambda/errors.js';
import type { DesiredState } from '../lambda/mappings.js';
import {
  ACCOUNT_ID as ACCT,
  MERGE_SETTINGS as MERGE,
  awsAuthMap,
  desiredState as desired,
  nodeRoleEntry,
  role,
  user,
  type AwsAuthMetadata,
  type DesiredRow as Row,
} from './support/awsauth-fixtures.js';

const NODE_ROLE = role('eks-node-group');
const NODE_ENTRY = nodeRoleEntry(NODE_ROLE);
const BREAK_GLASS = `- userarn: ${user('break-glass')}\n  username: break-glass\n  groups:\n    - system:masters\n`;

const REPLACE: SyncSettings = { ...MERGE, mode: 'replace' };

/** aws-auth as read from the cluster (resourceVersion 7). */
const configMap = (data: Record<string, string>, metadata: AwsAuthMetadata = {}): ConfigMap => awsAuthMap(data, { resourceVersion: '7', ...metadata });

const DEV: Row = [role('dev'), 'dev', ['developers'], 'iam'];
const OPS: Row = [role('ops'), 'ops', ['system:masters'], 'iam'];
const ALICE: Row = [user('alice'), 'alice', ['viewers'], 'ssm'];

function plan(d: DesiredState, live: ConfigMap | null, extra: Partial<PlanInput> = {}) {
  return planAwsAuth({ desired: d, live: parseAwsAuth(live), settings: MERGE, ...extra });
}

/** The aws-auth eks-auth-sync would write for `d` on top of `base` (EKS's node role by default). */
function synced(d: DesiredState, base: ConfigMap = configMap({ mapRoles: NODE_ENTRY })): ConfigMap {
  const next = plan(d, base).next;
  if (!next) throw new Error('expected a write');
  return { ...next, metadata: { ...next.metadata, resourceVersion: '8' } };
}

const arns = (entries: { arn: string }[]) => entries.map((e) => e.arn);
const liveArns = (live: LiveAwsAuth) => [...live.roles, ...live.users].map((e) => e.arn);

describe('reading aws-auth', () => {
  it.each([
    ['lowercase', 'rolearn', 'username', 'groups'],
    ['CloudFormation style', 'RoleARN', 'Username', 'Groups'],
    ['shouting', 'ROLEARN', 'USERNAME', 'GROUPS'],
    ['Go case folding (long s)', 'rolearn', 'uſername', 'groupſ'],
  ])('matches entry field names case-insensitively (%s)', (_, arnField, userField, groupsField) => {
    const live = parseAwsAuth(configMap({ mapRoles: `- ${arnField}: ${role('x')}\n  ${userField}: x\n  ${groupsField}: [a, b]\n` }));
    expect(live.roles).toMatchObject([{ arn: role('x'), username: 'x', groups: ['a', 'b'] }]);
  });

  it('takes the later of two spellings of the same field, as the authenticator does', () => {
    const live = parseAwsAuth(configMap({ mapUsers: `- userarn: ${user('a')}\n  username: first\n  UserName: second\n` }));
    expect(live.users[0]?.username).toBe('second');
  });

  it('reads YAML 1.1 as the authenticator does, so an unquoted yes is not a username', () => {
    const live = parseAwsAuth(configMap({ mapRoles: `- rolearn: ${role('x')}\n  username: yes\n  groups: [on, ok]\n` }));
    expect(live.roles[0]).toMatchObject({ username: '', groups: ['', 'ok'] });
  });

  it('keeps items without an ARN (SSO entries, typos) as unmatched entries with their raw content', () => {
    const live = parseAwsAuth(configMap({ mapRoles: `- sso:\n    permissionSetName: Admin\n    accountID: "${ACCT}"\n  username: admin\n- rolarn: ${role('typo')}\n` }));
    expect(live.roles.map((e) => e.arn)).toEqual([null, null]);
    expect(live.roles[0]?.raw).toEqual({ sso: { permissionSetName: 'Admin', accountID: ACCT }, username: 'admin' });
  });

  it('treats a missing aws-auth and empty keys as no entries', () => {
    expect(liveArns(parseAwsAuth(null))).toEqual([]);
    expect(liveArns(parseAwsAuth(configMap({ mapRoles: '', mapUsers: '# none yet\n' })))).toEqual([]);
  });

  it.each([
    ['a YAML syntax error in mapRoles', { mapRoles: `${NODE_ENTRY}- rolearn: ${role('x')}\n   username: x\n` }, 'mapRoles', /line 6, column/],
    ['a tab-indented mapUsers', { mapUsers: `- userarn: ${user('a')}\n\tusername: a\n` }, 'mapUsers', /line \d+, column/],
    ['mapRoles holding a mapping instead of a list', { mapRoles: `rolearn: ${role('x')}\n` }, 'mapRoles', /expected a YAML list, found a mapping/],
    ['mapUsers holding a bare string', { mapUsers: 'oops' }, 'mapUsers', /expected a YAML list, found a string/],
    ['an alias bomb in mapRoles', { mapRoles: `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n` }, 'mapRoles', /alias/i],
  ])('refuses %s with BrokenAwsAuthError naming the key and where', (_, data, key, detail) => {
    const read = () => parseAwsAuth(configMap(data));
    expect(read).toThrow(BrokenAwsAuthError);
    expect(read).toThrow(new RegExp(`"${key}" is broken`));
    expect(read).toThrow(detail);
  });

  it('still reads mapRoles and keeps mapAccounts when only mapAccounts is odd', () => {
    const live = parseAwsAuth(configMap({ mapRoles: NODE_ENTRY, mapAccounts: ': not yaml [' }));
    expect(liveArns(live)).toEqual([NODE_ROLE]);
  });
});

describe('planning in merge mode', () => {
  it('adds desired entries and keeps the node role EKS added and a hand-added admin', () => {
    const p = plan(desired([DEV], [ALICE]), configMap({ mapRoles: NODE_ENTRY, mapUsers: BREAK_GLASS }));
    expect(p.added).toEqual([
      { kind: 'role', arn: role('dev'), username: 'dev', groups: ['developers'], source: 'iam' },
      { kind: 'user', arn: user('alice'), username: 'alice', groups: ['viewers'], source: 'ssm' },
    ]);
    expect(p.removed).toEqual([]);
    expect(p.keptForeignCount).toBe(2);
    expect(liveArns(parseAwsAuth(p.next))).toEqual([NODE_ROLE, role('dev'), user('break-glass'), user('alice')]);
  });

  it('preserves mapAccounts, other data keys, labels, annotations and unknown fields of foreign entries', () => {
    const sso = `- sso:\n    permissionSetName: Admin\n    accountID: "${ACCT}"\n  username: sso-admin\n  groups: [system:masters]\n`;
    const withUserId = `- rolearn: ${role('legacy')}\n  userid: AROAEXAMPLE\n  username: legacy\n  x-note: kept\n`;
    const live = configMap(
      { mapRoles: NODE_ENTRY + sso + withUserId, mapUsers: BREAK_GLASS, mapAccounts: `- "${ACCT}"\n`, other: 'keep me' },
      { labels: { team: 'platform' }, annotations: { 'example.com/owner': 'platform' }, uid: 'u-1', managedFields: [{ manager: 'eksctl' }] },
    );
    const next = plan(desired([DEV]), live).next;
    expect(next?.data).toMatchObject({ mapAccounts: `- "${ACCT}"\n`, other: 'keep me', mapUsers: BREAK_GLASS });
    expect(next?.metadata).toMatchObject({ labels: { team: 'platform' }, uid: 'u-1', resourceVersion: '7', managedFields: [{ manager: 'eksctl' }] });
    expect(next?.metadata.annotations?.['example.com/owner']).toBe('platform');
    const reread = parseAwsAuth(next);
    expect(reread.roles.map((e) => e.raw)).toEqual([
      { rolearn: NODE_ROLE, username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'] },
      { sso: { permissionSetName: 'Admin', accountID: ACCT }, username: 'sso-admin', groups: ['system:masters'] },
      { rolearn: role('legacy'), userid: 'AROAEXAMPLE', username: 'legacy', 'x-note': 'kept' },
      { rolearn: role('dev'), username: 'dev', groups: ['developers'] },
    ]);
  });

  it('removes an entry it synced earlier once no source produces it, and keeps foreign ones', () => {
    const live = synced(desired([DEV, OPS]));
    const p = plan(desired([DEV]), live);
    expect(p.removed).toEqual([{ kind: 'role', arn: role('ops'), username: 'ops', groups: ['system:masters'], source: SOURCE_PREVIOUSLY_SYNCED }]);
    expect(p.unchangedCount).toBe(1);
    expect(liveArns(parseAwsAuth(p.next))).toEqual([NODE_ROLE, role('dev')]);
  });

  it('still knows its entries after eksctl re-serialises them, dropping unknown fields but keeping the annotation', () => {
    const live = synced(desired([DEV, OPS]));
    // eksctl: re-serialise every entry with its own field set, append its new entry.
    const eksctlRoles = parseAwsAuth(live).roles.map((e) => ({ groups: e.groups, rolearn: e.arn, username: e.username }));
    eksctlRoles.push({ groups: ['readers'], rolearn: role('added-by-eksctl'), username: 'reader' });
    const afterEksctl = { ...live, data: { ...live.data, mapRoles: stringify(eksctlRoles) } };

    const p = plan(desired([DEV]), afterEksctl);
    expect(arns(p.removed)).toEqual([role('ops')]);
    expect(liveArns(parseAwsAuth(p.next))).toEqual([NODE_ROLE, role('added-by-eksctl'), role('dev')]);
  });

  it('re-asserts an entry it owns that someone edited by hand, reporting the change', () => {
    const live = synced(desired([DEV]));
    live.data = { ...live.data, mapRoles: live.data?.mapRoles?.replace('developers', 'system:masters') ?? '' };
    const p = plan(desired([DEV]), live);
    expect(p.changed).toEqual([
      {
        before: { kind: 'role', arn: role('dev'), username: 'dev', groups: ['system:masters'], source: SOURCE_PREVIOUSLY_SYNCED },
        after: { kind: 'role', arn: role('dev'), username: 'dev', groups: ['developers'], source: 'iam' },
      },
    ]);
    expect(parseAwsAuth(p.next).roles.find((e) => e.arn === role('dev'))?.groups).toEqual(['developers']);
  });

  it('takes over a foreign entry that a source now produces identically, as an adoption with a note', () => {
    const p = plan(desired([[NODE_ROLE, 'system:node:{{EC2PrivateDNSName}}', ['system:bootstrappers', 'system:nodes'], 'nodes']]), configMap({ mapRoles: NODE_ENTRY }));
    expect(p.changed).toEqual([]);
    expect(p.adopted).toMatchObject([{ arn: NODE_ROLE, source: 'nodes' }]);
    expect(p.warnings).toEqual(expect.arrayContaining([expect.objectContaining({ subject: NODE_ROLE, message: expect.stringContaining('taken over') })]));
    expect(p.next?.metadata.annotations?.[OWNED_ANNOTATION]).toMatch(/^v1:/);
  });

  it('collapses duplicate entries to the last one, which the authenticator uses, and says so', () => {
    const dup = `- rolearn: ${role('dup')}\n  username: old\n  groups: [a]\n- rolearn: ${role('DUP')}\n  username: new\n  groups: [b]\n`;
    const p = plan(desired([DEV]), configMap({ mapRoles: dup }));
    expect(p.warnings.map((w) => w.message)).toEqual([expect.stringContaining('duplicate mapRoles entry collapsed')]);
    expect(parseAwsAuth(p.next).roles.map((e) => [e.arn, e.username])).toEqual([[role('DUP'), 'new'], [role('dev'), 'dev']]);
  });

  it('writes nothing when aws-auth already holds exactly the desired entries', () => {
    const live = synced(desired([DEV, OPS], [ALICE]));
    expect(plan(desired([OPS, DEV], [ALICE]), live)).toMatchObject({ next: null, unchangedCount: 3, keptForeignCount: 1, added: [], removed: [], changed: [] });
  });

  it('writes nothing when the only difference is how field names are spelled', () => {
    const live = synced(desired([DEV]));
    live.data = { ...live.data, mapRoles: live.data?.mapRoles?.replaceAll('rolearn', 'RoleARN') ?? '' };
    expect(plan(desired([DEV]), live).next).toBeNull();
  });

  it('writes nothing for empty sources and an aws-auth it owns nothing in, and never creates an empty one', () => {
    expect(plan(desired([]), configMap({ mapRoles: NODE_ENTRY })).next).toBeNull();
    expect(plan(desired([]), null).next).toBeNull();
  });

  it('leaves an untouched list byte for byte, comments included', () => {
    const commented = `# node roles: do not edit\n${NODE_ENTRY}`;
    const p = plan(desired([], [ALICE]), configMap({ mapRoles: commented }));
    expect(p.next?.data?.mapRoles).toBe(commented);
  });

  it('creates aws-auth when absent, with only the desired entries', () => {
    const next = plan(desired([DEV]), null).next;
    expect(next?.metadata).toMatchObject({ name: 'aws-auth', namespace: 'kube-system' });
    expect(next?.metadata.resourceVersion).toBeUndefined();
    expect(Object.keys(next?.data ?? {})).toEqual(['mapRoles']);
  });

  it('quotes strings so templates, colons and YAML 1.1 booleans survive', () => {
    const tricky: Row = [role('tricky'), 'system:node:{{EC2PrivateDNSName}}', ['yes', 'on', '0123', 'a: b', '- c', '#d'], 'static'];
    const next = plan(desired([tricky]), null).next;
    expect(next?.data?.mapRoles).toContain('"system:node:{{EC2PrivateDNSName}}"');
    expect(parseAwsAuth(next).roles[0]).toMatchObject({ username: tricky[1], groups: tricky[2] });
  });

  it('gives byte-identical output for the same inputs, whatever order the desired entries come in', () => {
    const base = configMap({ mapRoles: NODE_ENTRY, mapUsers: BREAK_GLASS });
    const a = JSON.stringify(plan(desired([DEV, OPS], [ALICE]), base));
    const b = JSON.stringify(plan(desired([OPS, DEV], [ALICE]), structuredClone(base)));
    expect(a).toBe(b);
  });

  it('records ownership for 7,000 entries well under the 256 KiB annotation limit', () => {
    const many: Row[] = Array.from({ length: 7000 }, (_, i) => [role(`r${i}`), `u${i}`, ['g'], 'iam']);
    const annotation = plan(desired(many), null).next?.metadata.annotations?.[OWNED_ANNOTATION] ?? '';
    expect(annotation.length).toBeLessThan(100_000);
    expect(annotation.split(',')).toHaveLength(7000);
  });
});

describe('a foreign entry with a literal "<<" field', () => {
  it('is rewritten with the field quoted, so it reads back as a field and not a YAML merge key', () => {
    const odd = `- rolearn: ${role('odd')}\n  username: odd\n  "<<": {note: kept}\n`;
    const next = plan(desired([DEV]), configMap({ mapRoles: NODE_ENTRY + odd })).next;
    expect(next?.data?.['mapRoles']).toContain('"<<":');
    expect(parseAwsAuth(next).roles.map((e) => e.raw)).toContainEqual({ rolearn: role('odd'), username: 'odd', '<<': { note: 'kept' } });
  });
});

describe('planning in replace mode', () => {
  it('removes every entry not desired but still keeps mapAccounts and other keys', () => {
    const live = configMap({ mapRoles: NODE_ENTRY + `- sso:\n    permissionSetName: Admin\n`, mapUsers: BREAK_GLASS, mapAccounts: `- "${ACCT}"\n`, other: 'x' });
    const p = plan(desired([DEV]), live, { settings: REPLACE });
    expect(p.removed.map((e) => [e.arn, e.source])).toEqual([
      ['(mapRoles item 2, no rolearn)', SOURCE_NOT_MANAGED],
      [NODE_ROLE, SOURCE_NOT_MANAGED],
      [user('break-glass'), SOURCE_NOT_MANAGED],
    ]);
    expect(liveArns(parseAwsAuth(p.next))).toEqual([role('dev')]);
    expect(p.next?.data).toMatchObject({ mapAccounts: `- "${ACCT}"\n`, other: 'x', mapUsers: '[]\n' });
  });
});

describe('guards', () => {
  it('refuses to empty aws-auth of its own entries when the sources produced nothing', () => {
    const live = synced(desired([DEV, OPS]));
    const run = () => plan(desired([]), live);
    expect(run).toThrow(EmptySourcesGuardError);
    expect(run).toThrow(/produced no mappings.*2 entries.*sync\.allowEmpty/s);
  });

  it('empties its own entries when allowEmpty is set, keeping foreign ones', () => {
    const p = plan(desired([]), synced(desired([DEV, OPS])), { settings: { ...MERGE, allowEmpty: true } });
    expect(arns(p.removed)).toEqual([role('dev'), role('ops')]);
    expect(liveArns(parseAwsAuth(p.next))).toEqual([NODE_ROLE]);
    expect(p.next?.metadata.annotations?.[OWNED_ANNOTATION]).toBeUndefined();
  });

  it('in replace mode refuses empty sources when aws-auth holds any entry at all', () => {
    expect(() => plan(desired([]), configMap({ mapRoles: NODE_ENTRY }), { settings: REPLACE })).toThrow(EmptySourcesGuardError);
  });

  const SELF = { arn: `arn:aws:sts::${ACCT}:assumed-role/deployer/session-1`, canonicalArn: role('deployer') };
  const DEPLOYER: Row = [role('deployer'), 'deployer', ['system:masters'], 'static'];
  it.each([
    ['stop producing', desired([DEV]), /would remove the entry of .*role\/deployer/],
    ['change the groups of', desired([[role('deployer'), 'deployer', ['viewers'], 'static'], DEV]), /would change .*groups \[system:masters\] → .*groups \[viewers\]/],
    ['change the username of', desired([[role('deployer'), 'someone', ['system:masters'], 'static'], DEV]), /would change .*username "deployer".* → username "someone"/],
  ])('when the sources %s the entry of the assumed role it runs as, keeps that entry as it is and still applies the rest, a revocation included', (_, d, message) => {
    const live = synced(desired([DEPLOYER, OPS]));
    const p = plan(d, live, { self: SELF });
    expect(arns(p.removed)).toEqual([role('ops')]);
    expect(arns(p.added)).toEqual([role('dev')]);
    expect(p.selfEntryKept).toMatchObject({ arn: role('deployer'), username: 'deployer', groups: ['system:masters'] });
    expect(p.warnings).toEqual([expect.objectContaining({ subject: role('deployer'), message: expect.stringMatching(message) })]);
    const back = parseAwsAuth(p.next);
    expect(back.roles.find((e) => e.arn === role('deployer'))).toMatchObject({ username: 'deployer', groups: ['system:masters'] });
    // Still owned: once the sources produce it again, it is theirs without a takeover.
    expect(plan(desired([DEPLOYER, DEV]), p.next, { self: SELF }).changed).toEqual([]);
  });

  it('reports its kept entry on every run until the sources produce it again, writing nothing more meanwhile', () => {
    const first = plan(desired([DEV]), synced(desired([DEPLOYER])), { self: SELF }).next;
    const again = plan(desired([DEV]), first, { self: SELF });
    expect(again.next).toBeNull();
    expect(again.selfEntryKept?.arn).toBe(role('deployer'));
  });

  it('keeps its own entry in replace mode too, even one it did not write', () => {
    const handMapped = configMap({ mapRoles: `${NODE_ENTRY}- rolearn: ${role('deployer')}\n  username: deployer\n  groups: [system:masters]\n` });
    const p = plan(desired([DEV]), handMapped, { self: SELF, settings: REPLACE });
    expect(arns(p.removed)).toEqual([NODE_ROLE]);
    expect(p.selfEntryKept?.arn).toBe(role('deployer'));
    expect(liveArns(parseAwsAuth(p.next))).toEqual([role('deployer'), role('dev')]);
  });

  it('still refuses the whole write for empty sources or too many removals while keeping its own entry', () => {
    const live = synced(desired([DEPLOYER, DEV, OPS]));
    expect(() => plan(desired([]), live, { self: SELF })).toThrow(EmptySourcesGuardError);
    expect(() => plan(desired([DEV]), live, { self: SELF, settings: { ...MERGE, maxRemovals: 0 } })).toThrow(MaxRemovalsGuardError);
  });

  it('allows a plan that keeps its own entry as it is, and one where it is mapped by a foreign entry left alone', () => {
    expect(plan(desired([DEPLOYER, DEV]), synced(desired([DEPLOYER])), { self: SELF }).added).toHaveLength(1);
    const handMapped = configMap({ mapRoles: `- rolearn: ${role('Deployer')}\n  username: deployer\n  groups: [system:masters]\n` });
    expect(plan(desired([DEV]), handMapped, { self: SELF }).keptForeignCount).toBe(1);
  });

  it('refuses to remove more than maxRemovals entries, naming the count, the limit and the first few', () => {
    const many: Row[] = Array.from({ length: 8 }, (_, i) => [role(`r${i}`), `u${i}`, ['g'], 'iam']);
    const live = synced(desired(many));
    const run = () => plan(desired([DEV]), live, { settings: { ...MERGE, maxRemovals: 3 } });
    expect(run).toThrow(MaxRemovalsGuardError);
    expect(run).toThrow(/remove 8 aws-auth entries, more than the limit of 3 .*role\/r0, .*role\/r4, and 3 more\).*sync\.maxRemovals/);
    expect(plan(desired([DEV]), live, { settings: { ...MERGE, maxRemovals: 8 } }).removed).toHaveLength(8);
  });

  it('refuses a result over the 1 MiB object limit', () => {
    const live = configMap({ mapRoles: NODE_ENTRY, bulky: 'x'.repeat(1_048_300) });
    const run = () => plan(desired([DEV]), live);
    expect(run).toThrow(ObjectTooLargeGuardError);
    expect(run).toThrow(/object would be 10\d{5} bytes, over the Kubernetes limit of 1048576/);
  });

  it('refuses a result whose annotations exceed 256 KiB', () => {
    const live = configMap({ mapRoles: NODE_ENTRY }, { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(262_100) } });
    expect(() => plan(desired([DEV]), live)).toThrow(/annotations would be \d+ bytes, over the Kubernetes limit of 262144/);
  });

  it.each([
    ['drops the last entry', (items: readonly unknown[]) => renderList(items.slice(0, -1)), /"mapRoles" does not read back.*2 entries read back, 3 planned/],
    ['mangles a value', (items: readonly unknown[]) => renderList(items).replace('developers', 'developer'), /item 3 differs/],
    ['writes invalid YAML', (items: readonly unknown[]) => renderList(items).replace('- ', '-\t- : ['), /"mapRoles" does not read back.*it does not parse at line \d+, column \d+/],
  ])('refuses to write when the renderer %s', (_, renderer, message) => {
    const run = () => plan(desired([DEV]), configMap({ mapRoles: NODE_ENTRY + `- rolearn: ${role('z')}\n` }), { renderList: renderer });
    expect(run).toThrow(RoundTripGuardError);
    expect(run).toThrow(message);
  });
});

describe('round trips (properties)', () => {
  it('writes any usernames and groups, control characters and line breaks included, so they read back exactly', () => {
    const text = fc.string({ unit: 'binary', maxLength: 20 });
    fc.assert(
      fc.property(fc.array(fc.tuple(text, fc.array(text, { maxLength: 3 })), { minLength: 1, maxLength: 4 }), (rows) => {
        const d = desired(rows.map(([username, groups], i): Row => [role(`r${i}`), username, groups]));
        const back = parseAwsAuth(plan(d, null).next).roles.map((e) => [e.username, e.groups]);
        expect(back).toEqual(rows);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps any foreign entries verbatim when it rewrites the list', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 4 }), (items) => {
        const live = parseAwsAuth(configMap({ mapRoles: JSON.stringify(items) }));
        const next = planAwsAuth({ desired: desired([DEV]), live, settings: MERGE }).next;
        const foreign = live.roles.map((e) => e.raw);
        expect(parseAwsAuth(next).roles.map((e) => e.raw)).toEqual([...foreign, { rolearn: role('dev'), username: 'dev', groups: ['developers'] }]);
      }),
      { numRuns: 200 },
    );
  });
});

// Each rule below is pinned to aws-iam-authenticator's pkg/mapper/configmap/configmap.go at
// commit 81b1daba (the mirror is not in CI, so the rule is restated here).
describe('reading aws-auth as aws-iam-authenticator does (pkg/mapper/configmap/configmap.go)', () => {
  // isSkippable: strings.TrimSpace(data) is "", "``", "\"\"" or "''" → ParseMap skips the key.
  it.each([['""'], ["''"], ['``'], ['  ""\n'], ['\u00a0\'\'\t']])('isSkippable: reads the value %j as no entries, not as broken', (value) => {
    const live = parseAwsAuth(configMap({ mapRoles: value, mapUsers: BREAK_GLASS }));
    expect(live.roles).toEqual([]);
    expect(live.users.map((e) => e.arn)).toEqual([user('break-glass')]);
    const next = plan(desired([DEV]), configMap({ mapRoles: value })).next;
    expect(parseAwsAuth(next).roles.map((e) => e.arn)).toEqual([role('dev')]);
  });

  it('isSkippable: still refuses a single backtick, which is not one of its exact values and does not parse', () => {
    expect(() => parseAwsAuth(configMap({ mapRoles: '`' }))).toThrow(BrokenAwsAuthError);
  });

  // ParseMap: utilyaml.ToJSON fails on a map key JSON cannot hold (sigs.k8s.io/yaml converts only
  // string, number and boolean keys), and the whole data key's entries are dropped.
  it.each([
    ['a null key (~) in an entry', `${NODE_ENTRY}- rolearn: ${role('x')}\n  username: x\n  ~: x\n`, /line 8, column 3/],
    ['a null key nested in an unknown field', `${NODE_ENTRY}- rolearn: ${role('x')}\n  sso:\n    null: x\n`, /line 8, column 5/],
    ['a list as a key', `${NODE_ENTRY}- rolearn: ${role('x')}\n  [a]: x\n`, /line 7, column 3/],
  ])('ParseMap: treats %s as breaking every entry of that data key', (_, mapRoles, where) => {
    const read = () => parseAwsAuth(configMap({ mapRoles }));
    expect(read).toThrow(BrokenAwsAuthError);
    expect(read).toThrow(/"mapRoles" is broken/);
    expect(read).toThrow(where);
  });

  it('ParseMap: repair drops the entry holding a null key and keeps the rest', () => {
    const live = parseAwsAuth(configMap({ mapRoles: `${NODE_ENTRY}- rolearn: ${role('x')}\n  ~: x\n` }), { repair: true });
    expect(live.roles.map((e) => e.arn)).toEqual([NODE_ROLE]);
    expect(live.repaired[0]?.dropped).toMatchObject([{ firstLine: 6, problem: expect.stringMatching(/null/) }]);
  });

  // ParseMap → utilyaml.ToJSON → yaml.v2 Unmarshal, which decodes the first document only.
  it('ParseMap: refuses a value of several YAML documents, saying only the first is read rather than that every entry is ignored', () => {
    const read = () => parseAwsAuth(configMap({ mapRoles: `${NODE_ENTRY}---\n${BREAK_GLASS.replace('userarn', 'rolearn')}` }));
    expect(read).toThrow(BrokenAwsAuthError);
    expect(read).toThrow(/more than one YAML document \(the second starts at line 6 of its value\)\. The authenticator reads only the first, so the entries from line 6 on have never been in force/);
    expect(read).toThrow(expect.objectContaining({ message: expect.not.stringMatching(/ignores every entry/) }));
  });

  it('ParseMap: reads a value with a leading document marker or a trailing end marker as one document', () => {
    expect(parseAwsAuth(configMap({ mapRoles: `---\n${NODE_ENTRY}...\n# end\n` })).roles.map((e) => e.arn)).toEqual([NODE_ROLE]);
  });

  // yaml.v2 breaks lines at CR LF as at LF (is_break, yamlprivateh.go), so a value saved with
  // Windows line endings has its documents where the authenticator sees them.
  const crlf = (text: string): string => text.replace(/\n/g, '\r\n');
  it('ParseMap: refuses a CRLF value of several YAML documents (---\\r\\n) as the LF one, naming the same line', () => {
    const read = () => parseAwsAuth(configMap({ mapRoles: crlf(`${NODE_ENTRY}---\n${BREAK_GLASS.replace('userarn', 'rolearn')}`) }));
    expect(read).toThrow(BrokenAwsAuthError);
    expect(read).toThrow(/more than one YAML document \(the second starts at line 6 of its value\)/);
  });

  it('ParseMap: reads a CRLF value with a leading document marker or a trailing end marker as one document', () => {
    expect(parseAwsAuth(configMap({ mapRoles: crlf(`---\n${NODE_ENTRY}...\n# end\n`) })).roles.map((e) => e.arn)).toEqual([NODE_ROLE]);
  });

  it('repair keeps only the first document of a CRLF value, dropping the later ones with their own line endings', () => {
    const admin = `- rolearn: ${role('admin')}\n  username: admin\n  groups: [system:masters]\n`;
    const live = parseAwsAuth(configMap({ mapRoles: crlf(`${NODE_ENTRY}---\n${admin}`) }), { repair: true });
    expect(live.roles.map((e) => e.arn)).toEqual([NODE_ROLE]);
    expect(live.repaired[0]?.dropped).toMatchObject([{ firstLine: 6, problem: expect.stringMatching(/never been in force/), text: crlf(`---\n${admin}`).trimEnd() }]);
  });
});

describe('an IAM-tag mapping for an ARN aws-auth already maps in an entry eks-auth-sync does not own', () => {
  const TAGGED_NODE: Row = [NODE_ROLE, 'mallory', ['developers'], 'iam'];
  const NODE_AS_IS: Row = [NODE_ROLE, 'system:node:{{EC2PrivateDNSName}}', ['system:bootstrappers', 'system:nodes'], 'iam'];

  it.each([['merge', MERGE], ['replace', REPLACE]] as const)('is not applied when it differs: the entry (a node role EKS mapped) is kept and a warning names it and the tag (%s mode)', (_, settings) => {
    const p = plan(desired([TAGGED_NODE, DEV]), configMap({ mapRoles: NODE_ENTRY }), { settings });
    expect(p.changed).toEqual([]);
    expect(p.removed).toEqual([]);
    expect(p.keptAgainstTags).toMatchObject([{ arn: NODE_ROLE, username: 'system:node:{{EC2PrivateDNSName}}', source: SOURCE_NOT_MANAGED }]);
    expect(p.warnings).toEqual([expect.objectContaining({
      source: 'iam',
      subject: NODE_ROLE,
      message: expect.stringMatching(/tags map .*username "mallory".*already maps it \(username "system:node:\{\{EC2PrivateDNSName\}\}", groups \[system:bootstrappers, system:nodes\]\) in an entry eks-auth-sync did not write/),
    })]);
    const back = parseAwsAuth(p.next);
    expect(back.roles.find((e) => e.arn === NODE_ROLE)).toMatchObject({ username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'] });
    expect(back.ownedMarks.has(ownershipMark('role', NODE_ROLE))).toBe(false);
  });

  it('is adopted when it is identical, so the entry is owned from then on', () => {
    const p = plan(desired([NODE_AS_IS]), configMap({ mapRoles: NODE_ENTRY }));
    expect(p.keptAgainstTags).toEqual([]);
    // Unchanged, not a change with before equal to after: only the ownership record is written.
    expect(p.changed).toEqual([]);
    expect(p.adopted).toEqual([{ kind: 'role', arn: NODE_ROLE, username: 'system:node:{{EC2PrivateDNSName}}', groups: ['system:bootstrappers', 'system:nodes'], source: 'iam' }]);
    expect(p.unchangedCount).toBe(1);
    expect(p.next?.data?.['mapRoles']).toBe(NODE_ENTRY);
    expect(parseAwsAuth(p.next).ownedMarks.has(ownershipMark('role', NODE_ROLE))).toBe(true);
  });

  it('applies a tag that changes an entry eks-auth-sync owns, as before', () => {
    const p = plan(desired([TAGGED_NODE]), synced(desired([NODE_AS_IS])));
    expect(p.changed).toMatchObject([{ before: { username: 'system:node:{{EC2PrivateDNSName}}' }, after: { username: 'mallory' } }]);
  });

  it('from an operator source (static, file, SSM) may change it, shown in the plan and counted against maxRemovals', () => {
    const fromStatic: Row = [NODE_ROLE, 'ops', ['ops'], 'static'];
    const p = plan(desired([fromStatic]), configMap({ mapRoles: NODE_ENTRY }));
    expect(p.changed).toMatchObject([{ before: { arn: NODE_ROLE, source: SOURCE_NOT_MANAGED }, after: { username: 'ops', source: 'static' } }]);
    const run = () => plan(desired([fromStatic]), configMap({ mapRoles: NODE_ENTRY }), { settings: { ...MERGE, maxRemovals: 0 } });
    expect(run).toThrow(MaxRemovalsGuardError);
    expect(run).toThrow(/remove 1 aws-auth entries \(counting 1 entry eks-auth-sync did not write, which a source changes\), more than the limit of 0/);
  });
});

describe('a lost ownership record', () => {
  const lost = (d: DesiredState): ConfigMap => {
    const cm = synced(d);
    const { [OWNED_ANNOTATION]: _, ...rest } = cm.metadata.annotations ?? {};
    return { ...cm, metadata: { ...cm.metadata, annotations: rest } };
  };

  it('is reported when aws-auth has no annotation yet holds entries identical to what the sources produce, saying what is and is not recovered', () => {
    const p = plan(desired([DEV, OPS]), lost(desired([DEV, OPS], [ALICE])));
    expect(p.ownershipRecordMissing).toBe(true);
    expect(p.warnings).toEqual(expect.arrayContaining([expect.objectContaining({
      message: expect.stringMatching(/no ownership record .*2 entries are exactly what the sources produce.*takes back every entry the sources produce.*Not recovered: entries eks-auth-sync wrote earlier that no source produces any more/s),
    })]));
    // Recovered: what the sources produce is owned again. Not recovered: alice, revoked meanwhile, stays.
    expect(p.removed).toEqual([]);
    const back = parseAwsAuth(p.next);
    expect(back.ownedMarks.has(ownershipMark('role', role('dev')))).toBe(true);
    expect(back.users.map((e) => e.arn)).toEqual([user('alice')]);
  });

  it('is not reported while the annotation is there, nor for an aws-auth with no entry the sources produce', () => {
    expect(plan(desired([DEV]), synced(desired([DEV, OPS]))).ownershipRecordMissing).toBe(false);
    expect(plan(desired([DEV]), configMap({ mapRoles: NODE_ENTRY })).ownershipRecordMissing).toBe(false);
  });
});
