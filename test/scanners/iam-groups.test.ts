import {
  GetAccountAuthorizationDetailsCommand, GetGroupCommand, IAMClient, NoSuchEntityException, type Tag, type UserDetail,
} from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { runScanners, sharedReads } from '../../lambda/scanners/index.js';
import { configWith, deps, scanWith } from './helpers.js';

const iam = mockClient(IAMClient);
afterEach(() => iam.reset());

const ACCOUNT = '111122223333';
const arnOf = (name: string, path = '/'): string => `arn:aws:iam::${ACCOUNT}:user${path}${name}`;

interface TestUser {
  name: string;
  groups: string[];
  path?: string;
  tags?: Tag[];
}

/** Users through GetAccountAuthorizationDetails (with GroupList, as IAM returns it), `perPage` a page. */
function serveBulk(users: TestUser[], perPage = 2): void {
  const details: UserDetail[] = users.map((u) => ({
    UserName: u.name, Path: u.path ?? '/', Arn: arnOf(u.name, u.path), GroupList: u.groups, Tags: u.tags ?? [],
  }));
  iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input: { Filter?: string[]; Marker?: string }) => {
    const all = input.Filter?.includes('User') ? details : [];
    const start = Number(input.Marker ?? 0);
    const next = start + perPage < all.length ? String(start + perPage) : undefined;
    return { UserDetailList: all.slice(start, start + perPage), RoleDetailList: [], IsTruncated: next !== undefined, Marker: next };
  });
}

/** The same membership through GetGroup, `perPage` members a page; an unknown group is NoSuchEntity, as in IAM. */
function serveGetGroup(users: TestUser[], perPage = 2): void {
  iam.on(GetGroupCommand).callsFake((input: { GroupName: string; Marker?: string }) => {
    const members = users.filter((u) => u.groups.some((g) => g.toLowerCase() === input.GroupName.toLowerCase()));
    if (members.length === 0 && input.GroupName.startsWith('missing')) {
      throw new NoSuchEntityException({ message: `The group with name ${input.GroupName} cannot be found.`, $metadata: {} });
    }
    const start = Number(input.Marker ?? 0);
    const next = start + perPage < members.length ? String(start + perPage) : undefined;
    return {
      Group: { GroupName: input.GroupName, Path: '/', GroupId: 'AGPAEXAMPLE', Arn: `arn:aws:iam::${ACCOUNT}:group/${input.GroupName}`, CreateDate: new Date() },
      Users: members.slice(start, start + perPage).map((u) => ({ UserName: u.name, Path: u.path ?? '/', UserId: 'AIDAEXAMPLE', Arn: arnOf(u.name, u.path), CreateDate: new Date() })),
      IsTruncated: next !== undefined,
      Marker: next,
    };
  });
}

const scanner = (mode: string, groups: string): string => `- type: iamGroups\n  iamGroups:\n    mode: ${mode}\n    groups:\n${groups}`;
const DEVS = '      - {name: developers, username: "dev:{{UserName}}", groups: [developers]}\n';
const OPS = '      - {name: ops, groups: [ops, developers], accessPolicies: [{policy: AmazonEKSViewPolicy}]}\n';

describe.each([
  ['bulk', serveBulk],
  ['perIdentity', serveGetGroup],
])('iamGroups scanner (%s mode)', (mode, serve) => {
  const scan = (groups: string) => scanWith(configWith(scanner(mode, groups)));

  it('maps every member of every group across pages, with the username rendered per member and nobody else', async () => {
    serve([
      { name: 'alice', groups: ['developers'] }, { name: 'bob', groups: ['Developers'], path: '/eng/' },
      { name: 'carol', groups: ['developers', 'unmapped'] }, { name: 'dave', groups: ['unmapped'] }, { name: 'erin', groups: [] },
    ]);
    const d = await scan(DEVS);
    // Sorted by ARN, as every source's output is.
    expect(d.mappings.users).toEqual(['alice', 'carol', 'bob'].map((n) => ({
      userarn: arnOf(n, n === 'bob' ? '/eng/' : '/'), username: `dev:${n}`, groups: ['developers'], sourceArn: arnOf(n, n === 'bob' ? '/eng/' : '/'),
    })));
    expect(d.sourceOf.get(arnOf('alice').toLowerCase())).toBe('iamGroups[0]: developers');
    expect(d.fromTags.size).toBe(0);
    expect(d.warnings).toEqual([]);
  });

  it('gives a user in several groups one entry: the union of groups and policies, the first group\'s username, with a warning', async () => {
    serve([{ name: 'alice', groups: ['ops', 'developers'] }]);
    const d = await scan(DEVS + OPS);
    expect(d.mappings.users).toEqual([{
      userarn: arnOf('alice'), username: 'dev:alice', groups: ['developers', 'ops'], accessPolicies: [{ policy: 'AmazonEKSViewPolicy' }], sourceArn: arnOf('alice'),
    }]);
    expect(d.sourceOf.get(arnOf('alice').toLowerCase())).toBe('iamGroups[0]: developers + ops');
    expect(d.warnings).toEqual([expect.objectContaining({
      source: 'iamGroups[0]', subject: arnOf('alice'),
      message: 'in IAM groups developers, ops, which name the user differently; username "dev:alice" of developers, listed first, is used (not "alice" of ops)',
    })]);
  });

  it.each([
    ['a user name that makes a reserved name', '{{UserName}}:admin', 'system', /renders "system:admin" for user system: "system:" usernames are reserved/],
    ['a user name a username cannot hold', 'dev:{{UserName}}', 'a,b', /renders "dev:a,b" for user a,b: username "dev:a,b" may only contain/],
  ])('skips a member whose rendered username is %s, naming the user and the group, and maps the others', async (_what, template, bad, message) => {
    serve([{ name: bad, groups: ['team'] }, { name: 'alice', groups: ['team'] }]);
    const d = await scan(`      - {name: team, username: "${template}", groups: [team]}\n`);
    expect(d.mappings.users.map((u) => u.username)).toEqual([template.replace('{{UserName}}', 'alice')]);
    expect(d.warnings).toEqual([expect.objectContaining({ source: 'iamGroups[0]', subject: arnOf(bad), message: expect.stringMatching(message) })]);
    expect(d.warnings[0]?.message).toMatch(/^skipped for IAM group team:/);
  });

  it('uses another group\'s username when the first one renders a reserved name for the user', async () => {
    serve([{ name: 'system', groups: ['a', 'b'] }]);
    const d = await scan('      - {name: a, username: "{{UserName}}:x", groups: [ga]}\n      - {name: b, username: "b-{{UserName}}", groups: [gb]}\n');
    expect(d.mappings.users).toEqual([expect.objectContaining({ username: 'b-system', groups: ['gb'] })]);
    expect(d.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^skipped for IAM group a:/)]);
  });

  it('renders {{AccountID}} as the user\'s account', async () => {
    serve([{ name: 'alice', groups: ['developers'] }]);
    const d = await scan('      - {name: developers, username: "{{UserName}}@{{AccountID}}"}\n');
    expect(d.mappings.users.map((u) => u.username)).toEqual([`alice@${ACCOUNT}`]);
  });

  it('warns about a mapped group without members (or unknown to IAM) and maps the rest', async () => {
    serve([{ name: 'alice', groups: ['developers'] }]);
    const d = await scan(`${DEVS}      - {name: missing-team, groups: [x]}\n`);
    expect(d.mappings.users.map((u) => u.username)).toEqual(['dev:alice']);
    expect(d.warnings).toEqual([{ source: 'iamGroups[0]', subject: 'IAM group missing-team', message: expect.stringMatching(/no such IAM group in the account, or it has no members/) }]);
  });

  it('fails the run naming the scanner when IAM refuses', async () => {
    iam.onAnyCommand().rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    await expect(scan(DEVS)).rejects.toThrow(/^scanner "iamGroups\[0\]": .*AccessDenied: User is not authorized/);
  });
});

describe('iamGroups scanner calls', () => {
  it('in bulk mode shares the iam scanner\'s read of the account: no IAM call of its own', async () => {
    serveBulk([
      { name: 'alice', groups: ['developers'], tags: [{ Key: `eks/${ACCOUNT}/prod/username`, Value: 'alice-tag' }] },
      { name: 'bob', groups: ['developers'] },
    ], 1000);
    const config = configWith(`- {type: iam, iam: {disableRoleScan: true}}\n${scanner('bulk', DEVS)}`);
    const d = await runScanners(config, { ...deps(config), shared: sharedReads() });
    expect(iam.commandCalls(GetAccountAuthorizationDetailsCommand)).toHaveLength(1);
    expect(iam.calls()).toHaveLength(1);
    // The tag's scanner is listed first, so its entry for alice wins; the group's is reported.
    expect(d.mappings.users.map((u) => u.username)).toEqual(['alice-tag', 'dev:bob']);
    expect(d.warnings).toEqual([expect.objectContaining({
      source: 'iamGroups[1]: developers', subject: arnOf('alice'),
      message: expect.stringMatching(/^a different entry \(kept username "alice-tag".*\) is already mapped by "iam\[0\]", which is listed earlier/),
    })]);
  });

  it('in perIdentity mode makes one GetGroup per mapped group (every page), nothing else', async () => {
    serveGetGroup(Array.from({ length: 5 }, (_, i) => ({ name: `u${i}`, groups: ['developers', 'ops'] })), 2);
    const d = await scanWith(configWith(scanner('perIdentity', DEVS + OPS)));
    expect(d.mappings.users).toHaveLength(5);
    const names = iam.commandCalls(GetGroupCommand).map((c) => c.args[0].input.GroupName);
    expect(names.sort()).toEqual(['developers', 'developers', 'developers', 'ops', 'ops', 'ops']);
    expect(iam.calls()).toHaveLength(6);
  });
});
