import { describe, expect, it } from 'vitest';
import { OWNED_ANNOTATION, ownershipMark, parseAwsAuth, planAwsAuth, syncAwsAuth } from '../lambda/targets/awsauth/index.js';
import { parseConfig, type SyncSettings } from '../lambda/config.js';
import type { ConfigMap } from '../lambda/configmap.js';
import { BrokenAwsAuthError } from '../lambda/errors.js';
import type { DesiredState } from '../lambda/mappings.js';
import { ACCOUNT_ID as ACCT, MERGE_SETTINGS as MERGE, awsAuthMap, desiredState, nodeRoleEntry, role } from './support/awsauth-fixtures.js';
import { MemoryAwsAuthStore } from './support/memory-store.js';

const NODE = nodeRoleEntry(role('node'));
const ADMIN = `- rolearn: ${role('admin')}\n  username: admin\n  groups:\n    - system:masters\n`;
// A hand edit indented `username` one space too far: the YAML no longer parses.
const BAD_ITEM = `- rolearn: ${role('typo')}\n   username: typo\n`;
const BROKEN_ROLES = NODE + BAD_ITEM + ADMIN;

const REPAIR: SyncSettings = { ...MERGE, repairBrokenAwsAuth: true };

/** aws-auth as read from the cluster (resourceVersion 7). */
const configMap = (data: Record<string, string>): ConfigMap => awsAuthMap(data, { resourceVersion: '7' });

const DEV = role('dev');
const desired: DesiredState = desiredState([[DEV, 'dev', ['developers'], 'iam']]);

describe('a broken aws-auth, by default', () => {
  it('is refused with the key, the line and column in its value, and both ways out', () => {
    const read = () => parseAwsAuth(configMap({ mapRoles: BROKEN_ROLES }));
    expect(read).toThrow(BrokenAwsAuthError);
    expect(read).toThrow(/^aws-auth data key "mapRoles" is broken at line 6, column 12 of its value: [^\n]+\. The authenticator ignores/);
    expect(read).toThrow(/kubectl -n kube-system edit configmap aws-auth/);
    expect(read).toThrow(/sync\.repairBrokenAwsAuth: true/);
  });

  it('states the position once, not again inside the parser message', () => {
    const read = () => parseAwsAuth(configMap({ mapRoles: BROKEN_ROLES }));
    expect(read).toThrow(expect.objectContaining({ message: expect.not.stringMatching(/line \d+, column \d+.*line \d+, column \d+/) }));
  });

  it('leaves aws-auth untouched in a committing sync', async () => {
    const store = new MemoryAwsAuthStore(configMap({ mapRoles: BROKEN_ROLES }));
    await expect(syncAwsAuth({ store, desired, settings: MERGE, commit: true })).rejects.toThrow(BrokenAwsAuthError);
    expect((await store.read())?.data?.['mapRoles']).toBe(BROKEN_ROLES);
  });
});

describe('repairing a broken aws-auth (sync.repairBrokenAwsAuth)', () => {
  it('is off unless the config turns it on', () => {
    const base = 'cluster: {name: c}\nscanners: [{type: static, static: {}}]\n';
    expect(parseConfig(base, 'c.yaml').sync.repairBrokenAwsAuth).toBeUndefined();
    expect(parseConfig(`${base}sync: {repairBrokenAwsAuth: true}\n`, 'c.yaml').sync.repairBrokenAwsAuth).toBe(true);
  });

  it('keeps every readable entry, adds the desired ones, and reports the unreadable item by its lines', () => {
    const plan = planAwsAuth({ desired, live: parseAwsAuth(configMap({ mapRoles: BROKEN_ROLES }), { repair: true }), settings: MERGE });
    const back = parseAwsAuth(plan.next);
    expect(back.roles.map((e) => [e.arn, e.username, e.groups])).toEqual([
      [role('node'), 'system:node:{{EC2PrivateDNSName}}', ['system:bootstrappers', 'system:nodes']],
      [role('admin'), 'admin', ['system:masters']],
      [DEV, 'dev', ['developers']],
    ]);
    expect(plan.dropped).toEqual([
      { key: 'mapRoles', firstLine: 6, lastLine: 7, problem: expect.stringMatching(/\(line 6, column 12\)$/), text: BAD_ITEM.trimEnd() },
    ]);
    expect(plan.warnings.map((w) => w.message)).toEqual(expect.arrayContaining([
      expect.stringMatching(/^"mapRoles" is broken \(.* at line 6, column 12\); .* rewritten from the 2 item\(s\) that can be read, dropping 1 unreadable part\(s\)$/),
      `dropped lines 6-7 of "mapRoles", which cannot be read (${plan.dropped[0]?.problem}): "- rolearn: ${role('typo')}"`,
    ]));
  });

  it('rewrites a broken key even when the readable entries are already as desired', () => {
    const text = `${NODE}- rolearn: [unclosed\n`;
    const plan = planAwsAuth({ desired: { mappings: { roles: [], users: [] }, sourceOf: new Map(), fromTags: new Set(), warnings: [] }, live: parseAwsAuth(configMap({ mapRoles: text }), { repair: true }), settings: MERGE });
    expect(plan.added).toEqual([]);
    expect(parseAwsAuth(plan.next).roles.map((e) => e.arn)).toEqual([role('node')]);
    expect(plan.dropped.map((d) => [d.firstLine, d.lastLine])).toEqual([[6, 6]]);
  });

  it('reads every part of a value indented by two spaces', () => {
    const indented = (NODE + ADMIN).replace(/^/gm, '  ').trimEnd() + '\n  - rolearn: "unterminated\n';
    const live = parseAwsAuth(configMap({ mapRoles: indented }), { repair: true });
    expect(live.roles.map((e) => e.arn)).toEqual([role('node'), role('admin')]);
    expect(live.repaired[0]?.dropped).toHaveLength(1);
  });

  // aws-iam-authenticator pkg/mapper/configmap/configmap.go, ParseMap: utilyaml.ToJSON unmarshals
  // with yaml.v2, which decodes only the first document, so later ones have never been in force.
  it.each([
    ['a readable first document', NODE, []],
    ['a broken first document', NODE + BAD_ITEM, [6]],
  ])('keeps only the first YAML document of a value with %s, dropping the later ones instead of switching them on', (_, first, brokenLines) => {
    const text = `${first}---\n${ADMIN}---\n- {broken\n`;
    const secondAt = first.split('\n').length;
    const live = parseAwsAuth(configMap({ mapRoles: text }), { repair: true });
    expect(live.roles.map((e) => e.arn)).toEqual([role('node')]);
    expect(live.repaired[0]?.dropped.map((d) => d.firstLine)).toEqual([...brokenLines, secondAt]);
    expect(live.repaired[0]?.dropped.at(-1)).toMatchObject({ problem: expect.stringMatching(/never been in force/), text: `---\n${ADMIN}---\n- {broken` });
    const plan = planAwsAuth({ desired, live, settings: MERGE });
    expect(parseAwsAuth(plan.next).roles.map((e) => e.arn)).toEqual([role('node'), DEV]);
  });

  it('drops the whole value, reporting it, when it is not a list at all', () => {
    const live = parseAwsAuth(configMap({ mapRoles: `rolearn: ${role('x')}\nusername: x\n`, mapUsers: '' }), { repair: true });
    expect(live.roles).toEqual([]);
    expect(live.repaired).toEqual([{ kind: 'role', key: 'mapRoles', problem: 'expected a YAML list, found a mapping', dropped: [expect.objectContaining({ firstLine: 1, lastLine: 2 })] }]);
  });

  it('repairs only the broken key, leaving a readable mapUsers byte for byte', () => {
    const users = `# hand-managed\n- userarn: arn:aws:iam::${ACCT}:user/bob\n  username: bob\n`;
    const plan = planAwsAuth({ desired, live: parseAwsAuth(configMap({ mapRoles: BROKEN_ROLES, mapUsers: users }), { repair: true }), settings: MERGE });
    expect(plan.next?.data?.['mapUsers']).toBe(users);
  });

  it('still removes entries it owns once no source produces them, counted against maxRemovals', () => {
    const owned = configMap({ mapRoles: `${BROKEN_ROLES}- rolearn: ${role('old')}\n  username: old\n` });
    owned.metadata.annotations = { [OWNED_ANNOTATION]: `v1:${ownershipMark('role', role('old'))}` };
    const plan = planAwsAuth({ desired, live: parseAwsAuth(owned, { repair: true }), settings: MERGE });
    expect(plan.removed.map((e) => e.arn)).toEqual([role('old')]);
    expect(() => planAwsAuth({ desired, live: parseAwsAuth(owned, { repair: true }), settings: { ...MERGE, maxRemovals: 0 } })).toThrow(/remove 1 aws-auth entries/);
  });

  it('writes the repaired aws-auth in a committing sync, and reports the drop in a dry run without writing', async () => {
    const dry = new MemoryAwsAuthStore(configMap({ mapRoles: BROKEN_ROLES }));
    const planned = await syncAwsAuth({ store: dry, desired, settings: REPAIR, commit: false });
    expect(planned.plan.dropped).toHaveLength(1);
    expect((await dry.read())?.data?.['mapRoles']).toBe(BROKEN_ROLES);

    const store = new MemoryAwsAuthStore(configMap({ mapRoles: BROKEN_ROLES }));
    const result = await syncAwsAuth({ store, desired, settings: REPAIR, commit: true });
    expect(result.committed).toBe(true);
    const live = parseAwsAuth(await store.read());
    expect(live.roles.map((e) => e.arn)).toEqual([role('node'), role('admin'), DEV]);
    expect(live.repaired).toEqual([]);
  });
});
