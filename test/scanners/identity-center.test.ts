import { GetAccountAuthorizationDetailsCommand, IAMClient, ListRolesCommand, type Role } from '@aws-sdk/client-iam';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { runScanners, sharedReads } from '../../lambda/scanners/index.js';
import { permissionSetOf } from '../../lambda/scanners/identity-center.js';
import { configWith, deps, scanWith } from './helpers.js';

const iam = mockClient(IAMClient);
afterEach(() => iam.reset());

const ACCOUNT = '111122223333';
const SSO = '/aws-reserved/sso.amazonaws.com/';
const SUFFIX = '0123456789abcdef';
const role = (name: string, path = `${SSO}eu-west-1/`): Role => ({
  RoleName: name, Path: path, Arn: `arn:aws:iam::${ACCOUNT}:role${path}${name}`, RoleId: 'AROAEXAMPLE', CreateDate: new Date(),
});
const pathless = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;

/** Roles through ListRoles, filtered by PathPrefix as IAM does, `perPage` a page. */
function serveListRoles(roles: Role[], perPage = 1000): void {
  iam.on(ListRolesCommand).callsFake((input: { PathPrefix?: string; Marker?: string }) => {
    const all = roles.filter((r) => r.Path?.startsWith(input.PathPrefix ?? '/'));
    const start = Number(input.Marker ?? 0);
    const next = start + perPage < all.length ? String(start + perPage) : undefined;
    return { Roles: all.slice(start, start + perPage), IsTruncated: next !== undefined, Marker: next };
  });
}

/** The same roles (and no users) through GetAccountAuthorizationDetails. */
function serveBulk(roles: Role[]): void {
  iam.on(GetAccountAuthorizationDetailsCommand).callsFake((input: { Filter?: string[] }) => ({
    UserDetailList: [], RoleDetailList: input.Filter?.includes('Role') ? roles.map((r) => ({ ...r, Tags: [] })) : [], IsTruncated: false,
  }));
}

const scanner = (permissionSets: string, mode = 'bulk'): string =>
  `- type: identityCenter\n  identityCenter:\n    mode: ${mode}\n    permissionSets:\n${permissionSets}`;
const ADMIN = '      - {name: Admin, groups: [system:masters]}\n';

describe('permissionSetOf', () => {
  it.each([
    ['AWSReservedSSO_Admin_0123456789abcdef', `${SSO}eu-west-1/`, 'Admin'],
    ['AWSReservedSSO_Admin_0123456789abcdef', SSO, 'Admin'],
    ['AWSReservedSSO_Admin_Extra_0123456789abcdef', SSO, 'Admin_Extra'],
    ['AWSReservedSSO_Admin_0123456789abcdef_fedcba9876543210', SSO, 'Admin_0123456789abcdef'],
    ['AWSReservedSSO_Admin_0123456789ABCDEF', SSO, 'Admin'],
    ['AWSReservedSSO_Admin_0123456789abcde', SSO, undefined],
    ['AWSReservedSSO_Admin_0123456789abcdeg', SSO, undefined],
    ['AWSReservedSSO__0123456789abcdef', SSO, undefined],
    ['AWSReservedSSO_Admin_0123456789abcdef', '/', undefined],
    ['AWSReservedSSO_Admin_0123456789abcdef', `${SSO}eu-west-1/deeper/`, undefined],
    ['AWSReservedSSO_Admin_0123456789abcdef', '/aws-reserved/sso.amazonaws.com.evil/', undefined],
    ['Admin_0123456789abcdef', SSO, undefined],
  ])('%s under %s is the role of %s', (name, path, expected) => {
    expect(permissionSetOf({ name, path })).toBe(expected);
  });
});

describe.each([
  ['perIdentity', serveListRoles, 'perIdentity'],
  ['bulk, alone (one ListRoles)', serveListRoles, 'bulk'],
])('identityCenter scanner (%s)', (_what, serve, mode) => {
  const scan = (sets: string) => scanWith(configWith(scanner(sets, mode)));

  it('maps the permission set\'s role: without its path for aws-auth, with it for access entries, the person in the username', async () => {
    serve([role(`AWSReservedSSO_Admin_${SUFFIX}`), role(`AWSReservedSSO_Admin_Extra_${SUFFIX}`), role('Admin', '/')]);
    const d = await scan(`${ADMIN}      - {name: ReadOnly, username: "ro:{{SessionName}}", groups: [viewers], accessPolicies: [{policy: AmazonEKSViewPolicy}]}\n`);
    expect(d.mappings.roles).toEqual([{
      rolearn: pathless(`AWSReservedSSO_Admin_${SUFFIX}`), username: 'sso:Admin:{{SessionName}}', groups: ['system:masters'],
      sourceArn: `arn:aws:iam::${ACCOUNT}:role${SSO}eu-west-1/AWSReservedSSO_Admin_${SUFFIX}`,
    }]);
    expect(d.sourceOf.get(pathless(`AWSReservedSSO_Admin_${SUFFIX}`).toLowerCase())).toBe('identityCenter[0]: Admin');
    expect(d.fromTags.size).toBe(0);
    // The path-less ARN is what the scanner wrote, so the merge has no path to warn about.
    expect(d.warnings).toEqual([{ source: 'identityCenter[0]', subject: 'permission set ReadOnly', message: expect.stringMatching(/^no role AWSReservedSSO_ReadOnly_<suffix> under \/aws-reserved\/sso.amazonaws.com\//) }]);
  });

  it('matches the name exactly, underscores and case included', async () => {
    serve([role(`AWSReservedSSO_Admin_Extra_${SUFFIX}`), role(`AWSReservedSSO_admin_${SUFFIX}`)]);
    const d = await scan('      - {name: Admin_Extra}\n      - {name: Admin}\n');
    expect(d.mappings.roles.map((r) => r.rolearn)).toEqual([pathless(`AWSReservedSSO_Admin_Extra_${SUFFIX}`)]);
    expect(d.warnings.map((w) => w.subject)).toEqual(['permission set Admin']);
  });

  it('finds the role again after it is provisioned with a new suffix', async () => {
    serve([role(`AWSReservedSSO_Admin_${SUFFIX}`)]);
    expect((await scan(ADMIN)).mappings.roles.map((r) => r.rolearn)).toEqual([pathless(`AWSReservedSSO_Admin_${SUFFIX}`)]);
    iam.reset();
    serve([role('AWSReservedSSO_Admin_fedcba9876543210', SSO)]);
    expect((await scan(ADMIN)).mappings.roles.map((r) => r.rolearn)).toEqual([pathless('AWSReservedSSO_Admin_fedcba9876543210')]);
  });

  it('fails the run naming both roles when two match', async () => {
    serve([role(`AWSReservedSSO_Admin_${SUFFIX}`), role('AWSReservedSSO_Admin_fedcba9876543210', SSO)]);
    await expect(scan(ADMIN)).rejects.toThrow(
      `scanner "identityCenter[0]": permission set Admin: 2 roles match, so which one people use cannot be told: arn:aws:iam::${ACCOUNT}:role${SSO}eu-west-1/AWSReservedSSO_Admin_${SUFFIX}, arn:aws:iam::${ACCOUNT}:role${SSO}AWSReservedSSO_Admin_fedcba9876543210`,
    );
  });

  it('reads every page of roles', async () => {
    serve([...Array.from({ length: 5 }, (_, i) => role(`AWSReservedSSO_Other${i}_${SUFFIX}`)), role(`AWSReservedSSO_Admin_${SUFFIX}`)], 2);
    expect((await scan(ADMIN)).mappings.roles).toHaveLength(1);
  });

  it('fails the run naming the scanner and the call when IAM refuses', async () => {
    iam.onAnyCommand().rejects(Object.assign(new Error('User is not authorized'), { name: 'AccessDenied' }));
    await expect(scan(ADMIN)).rejects.toThrow(/^scanner "identityCenter\[0\]": iam:ListRoles under \/aws-reserved\/sso.amazonaws.com\/: AccessDenied: User is not authorized/);
  });
});

describe('identityCenter scanner calls', () => {
  it('makes one ListRoles with the path prefix for every identityCenter scanner of the account, and no other call', async () => {
    serveListRoles([role(`AWSReservedSSO_Admin_${SUFFIX}`), role(`AWSReservedSSO_Dev_${SUFFIX}`)]);
    const config = configWith(`${scanner(ADMIN)}${scanner('      - {name: Dev}\n', 'perIdentity')}`);
    const d = await runScanners(config, { ...deps(config), shared: sharedReads() });
    expect(d.mappings.roles).toHaveLength(2);
    expect(iam.calls()).toHaveLength(1);
    expect(iam.commandCalls(ListRolesCommand)[0]?.args[0].input).toEqual({ PathPrefix: SSO, MaxItems: 1000 });
  });

  it('in bulk mode takes the roles from the iam scanner\'s bulk read of the same account: no call of its own', async () => {
    serveBulk([role(`AWSReservedSSO_Admin_${SUFFIX}`)]);
    const config = configWith(`- {type: iam, iam: {}}\n${scanner(ADMIN)}`);
    const d = await runScanners(config, { ...deps(config), shared: sharedReads() });
    expect(d.mappings.roles.map((r) => r.username)).toEqual(['sso:Admin:{{SessionName}}']);
    expect(iam.calls()).toHaveLength(1);
    expect(iam.commandCalls(GetAccountAuthorizationDetailsCommand)).toHaveLength(1);
  });

  it('in bulk mode still makes its one ListRoles when the bulk read of the account skips roles', async () => {
    serveBulk([]);
    serveListRoles([role(`AWSReservedSSO_Admin_${SUFFIX}`)]);
    const config = configWith(`- {type: iam, iam: {disableRoleScan: true}}\n${scanner(ADMIN)}`);
    const d = await runScanners(config, { ...deps(config), shared: sharedReads() });
    expect(d.mappings.roles).toHaveLength(1);
    expect(iam.commandCalls(ListRolesCommand)).toHaveLength(1);
  });
});
