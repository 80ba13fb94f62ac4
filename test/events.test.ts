/**
 * Event-driven sync's pure rules (lambda/events.ts): which events are change events, which are
 * relevant to a config, and how a burst folds into one run. The events are built from AWS's
 * published shapes (test/support/change-events.ts names the sources).
 */
import { describe, expect, test } from 'vitest';
import { parseConfig } from '../lambda/config.js';
import { changeEventOf, decide, relevance, relevantGroupNames, RunLedger, SETTLE_MS, settledAt } from '../lambda/events.js';
import { accountAssignment, iamCall, parameterStoreChange, tagRole } from './support/change-events.js';
import { SCHEDULED_EVENT } from './support/events.js';

const T0 = '2026-03-04T05:00:00Z';
const T0_MS = Date.parse(T0);
/** An event time `seconds` after T0, in whole seconds as EventBridge writes it. */
const at = (seconds: number): string => new Date(T0_MS + Math.floor(seconds) * 1_000).toISOString().replace('.000Z', 'Z');

const CONFIG = parseConfig(`
cluster: {name: prod, accountID: "111122223333"}
scanners:
  - {type: ssm, ssm: {path: /eks/prod/auth}}
  - {type: iam, iam: {disableUserScan: true}}
`, 'test.yaml');
const IAM_ONLY_NO_ACCOUNT = parseConfig('cluster: {name: prod}\nscanners: [{type: iam, iam: {}}]', 'test.yaml');
const GROUPS_AND_SSO = parseConfig([
  'cluster: {name: prod}',
  'scanners:',
  '  - {type: iamGroups, iamGroups: {groups: [{name: Admins, groups: [admins]}, {name: developers, groups: [dev]}]}}',
  '  - {type: identityCenter, identityCenter: {permissionSets: [{name: Admin, groups: [admins]}]}}',
].join('\n'), 'test.yaml');
const STATIC_ONLY = parseConfig('cluster: {name: prod}\nscanners: [{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/dev", username: dev}]}}]', 'test.yaml');

const must = (event: unknown) => {
  const change = changeEventOf(event);
  if (change === undefined) throw new Error('expected a change event');
  return change;
};

describe('changeEventOf', () => {
  test('reads a Parameter Store Change: the parameter, the operation and the event time', () => {
    expect(changeEventOf(parameterStoreChange('/eks/prod/auth', T0))).toEqual({ kind: 'ssm', time: T0_MS, name: '/eks/prod/auth', operation: 'Update' });
  });

  test('reads a CloudTrail TagRole: the role and the tag keys it set', () => {
    expect(changeEventOf(tagRole('dev', T0, { 'eks/111122223333/prod/username': 'dev', team: 'a' }))).toEqual({
      kind: 'iam', time: T0_MS, eventName: 'TagRole', failed: false, roleName: 'dev', tagKeys: ['eks/111122223333/prod/username', 'team'],
    });
  });

  test('reads the tag keys an UntagUser removed, and a refused call as failed', () => {
    expect(changeEventOf(iamCall('UntagUser', T0, { userName: 'alice', tagKeys: ['eks/111122223333/prod/groups'] }, 'AccessDenied'))).toMatchObject({
      eventName: 'UntagUser', failed: true, userName: 'alice', tagKeys: ['eks/111122223333/prod/groups'],
    });
  });

  test('reads an Identity Center account assignment and its account', () => {
    expect(changeEventOf(accountAssignment('DeleteAccountAssignment', T0, '444455556666'))).toEqual({
      kind: 'identityCenter', time: T0_MS, eventName: 'DeleteAccountAssignment', failed: false, accountId: '444455556666',
    });
  });

  test.each([
    ['the scheduled event', SCHEDULED_EVENT],
    ['a manual payload', { dryRun: false }],
    ['an IAM call that cannot change a mapping', iamCall('CreatePolicy', T0, { policyName: 'x' })],
    ['another service\'s CloudTrail event', { ...iamCall('TagRole', T0, {}), source: 'aws.s3' }],
    ['an event without a time', { ...parameterStoreChange('/eks/prod/auth', T0), time: undefined }],
  ])('is undefined for %s', (_name, event) => {
    expect(changeEventOf(event)).toBeUndefined();
  });
});

describe('relevance', () => {
  test.each([
    ['an update of the configured parameter', true, parameterStoreChange('/eks/prod/auth', T0), CONFIG],
    ['its deletion', true, parameterStoreChange('/eks/prod/auth', T0, 'Delete'), CONFIG],
    ['another parameter', false, parameterStoreChange('/eks/staging/auth', T0), CONFIG],
    ['a new label on the configured parameter', false, parameterStoreChange('/eks/prod/auth', T0, 'LabelParameterVersion'), CONFIG],
    ['a tag for this account and cluster', true, tagRole('dev', T0, { 'eks/111122223333/prod/username': 'dev' }), CONFIG],
    ['a tag for another cluster', false, tagRole('dev', T0, { 'eks/111122223333/staging/username': 'dev' }), CONFIG],
    ['a tag for another account', false, tagRole('dev', T0, { 'eks/999988887777/prod/username': 'dev' }), CONFIG],
    ['a tag for any account when the config names none', true, tagRole('dev', T0, { 'eks/999988887777/prod/username': 'dev' }), IAM_ONLY_NO_ACCOUNT],
    ['an untagged role\'s other tags', false, tagRole('dev', T0, { team: 'payments', 'eks-prod/username': 'x' }), CONFIG],
    ['the removal of a read tag', true, iamCall('UntagRole', T0, { roleName: 'dev', tagKeys: ['eks/111122223333/prod/groups'] }), CONFIG],
    ['a role created with a read tag', true, iamCall('CreateRole', T0, { roleName: 'dev', tags: [{ key: 'eks/111122223333/prod/username', value: 'dev' }] }), CONFIG],
    ['a role created without tags', false, iamCall('CreateRole', T0, { roleName: 'dev', assumeRolePolicyDocument: '{}' }), CONFIG],
    ['a refused TagRole', false, iamCall('TagRole', T0, { roleName: 'dev', tags: [{ key: 'eks/111122223333/prod/username', value: 'dev' }] }, 'AccessDenied'), CONFIG],
    ['a deleted role (its tags are unknown)', true, iamCall('DeleteRole', T0, { roleName: 'dev' }), CONFIG],
    ['a user tag when the iam scanner reads no users', false, iamCall('TagUser', T0, { userName: 'a', tags: [{ key: 'eks/111122223333/prod/username', value: 'a' }] }), CONFIG],
    ['a deleted user when the iam scanner reads no users', false, iamCall('DeleteUser', T0, { userName: 'a' }), CONFIG],
    ['a deleted role without an iam scanner', false, iamCall('DeleteRole', T0, { roleName: 'dev' }), STATIC_ONLY],
    ['a membership change of a group an iamGroups scanner maps (names compared as IAM does)', true, iamCall('AddUserToGroup', T0, { groupName: 'Admins', userName: 'a' }), GROUPS_AND_SSO],
    ['a membership change of a group no scanner maps', false, iamCall('RemoveUserFromGroup', T0, { groupName: 'interns', userName: 'a' }), GROUPS_AND_SSO],
    ['a group membership change with only a tag-reading iam scanner', false, iamCall('AddUserToGroup', T0, { groupName: 'admins', userName: 'a' }), CONFIG],
    ['a group membership change without any iam source', false, iamCall('RemoveUserFromGroup', T0, { groupName: 'admins', userName: 'a' }), STATIC_ONLY],
    ['the creation of a mapped permission set\'s role', true, iamCall('CreateRole', T0, { roleName: 'AWSReservedSSO_Admin_0123456789abcdef' }), GROUPS_AND_SSO],
    ['the deletion of a mapped permission set\'s role', true, iamCall('DeleteRole', T0, { roleName: 'AWSReservedSSO_Admin_0123456789abcdef' }), GROUPS_AND_SSO],
    ['the creation of another permission set\'s role', false, iamCall('CreateRole', T0, { roleName: 'AWSReservedSSO_Admin_Extra_0123456789abcdef' }), GROUPS_AND_SSO],
  ])('%s: relevant is %s', (_name, expected, event, config) => {
    expect(relevance(must(event), config).relevant).toBe(expected);
  });

  test('the reason names what changed and why it matters', () => {
    expect(relevance(must(parameterStoreChange('/eks/staging/auth', T0)), CONFIG).reason)
      .toBe("SSM parameter /eks/staging/auth (Update) is not a configured ssm scanner's parameter");
    expect(relevance(must(tagRole('dev', T0, { 'eks/111122223333/prod/username': 'dev' })), CONFIG).reason)
      .toBe('IAM TagRole on role dev: tag eks/111122223333/prod/username is read by an iam scanner');
  });

  describe('an Identity Center assignment', () => {
    const accessEntries = (scanners: string) => parseConfig(`cluster: {name: prod, accountID: "111122223333"}\nsync: {target: accessEntries}\nscanners: ${scanners}`, 'test.yaml');
    test.each([
      ['with an ssm source, for the access-entries target', true, accessEntries('[{type: ssm, ssm: {path: /p}}]'), '111122223333'],
      ['in another account', false, accessEntries('[{type: ssm, ssm: {path: /p}}]'), '444455556666'],
      ['with only aws-auth as the target', false, parseConfig('cluster: {name: prod}\nsync: {target: configMap}\nscanners: [{type: ssm, ssm: {path: /p}}]', 'test.yaml'), '111122223333'],
      ['with a static source that maps an Identity Center role', true,
        accessEntries('[{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_0123456789abcdef", username: dev}]}}]'), '111122223333'],
      ['with an identityCenter scanner, whatever the target (a new role has a new ARN)', true,
        parseConfig('cluster: {name: prod}\nsync: {target: configMap}\nscanners: [{type: identityCenter, identityCenter: {permissionSets: [{name: Admin, groups: [admins]}]}}]', 'test.yaml'), '111122223333'],
      ['with only a static source that maps none', false, accessEntries('[{type: static, static: {roles: [{rolearn: "arn:aws:iam::111122223333:role/dev", username: dev}]}}]'), '111122223333'],
    ])('%s: relevant is %s', (_name, expected, config, account) => {
      expect(relevance(must(accountAssignment('CreateAccountAssignment', T0, account)), config).relevant).toBe(expected);
    });
  });

  test('the groups whose membership matters are those iamGroups scanners map, in lower case', () => {
    expect(relevantGroupNames(GROUPS_AND_SSO)).toEqual(new Set(['admins', 'developers']));
    expect(relevantGroupNames(CONFIG)).toEqual(new Set());
  });
});

describe('coalescing a burst', () => {
  /**
   * Plays `events` through the rule as the handler does, one invocation after another (reserved
   * concurrency 1): each starts at its delivery time or when the previous run ended, waits until
   * its event has settled, runs for `runMs` and records the run. Returns the read start of each run.
   */
  function play(deliveries: { event: unknown; deliveredAt: number }[], options: { runMs?: number; failing?: Set<number>; ledger?: RunLedger } = {}) {
    const ledger = options.ledger ?? new RunLedger();
    const runs: number[] = [];
    let clock = 0;
    deliveries.forEach(({ event, deliveredAt }, index) => {
      clock = Math.max(clock, deliveredAt);
      const decision = decide(must(event), CONFIG, ledger, true);
      if (!decision.run) return;
      clock = Math.max(clock, decision.readAt);
      const readStarted = clock;
      ledger.eventRunStarted(readStarted);
      clock += options.runMs ?? 3_000;
      if (options.failing?.has(index)) return;
      runs.push(readStarted);
      ledger.completed({ readStarted, commit: true });
    });
    return runs;
  }
  const relevantTag = (second: number) => tagRole(`dev-${second}`, at(second), { 'eks/111122223333/prod/username': `dev-${second}` });

  test('a Terraform apply tagging twenty roles over five seconds makes one run, after the last tag has settled', () => {
    // CloudTrail delivers each event to EventBridge a little later than the call.
    const burst = Array.from({ length: 20 }, (_, i) => ({ event: relevantTag(i / 4), deliveredAt: T0_MS + i * 250 + 30_000 }));
    const runs = play(burst);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toBeGreaterThanOrEqual(settledAt(must(relevantTag(19 / 4))));
  });

  test('a ten-second burst delivered within a second makes two runs, the second after the last event settled', () => {
    const burst = Array.from({ length: 20 }, (_, i) => ({ event: relevantTag(i / 2), deliveredAt: T0_MS + i * 500 + 1_000 }));
    const runs = play(burst, { runMs: 1_000 });
    // The first reads once the first event settled; the next waits a settle period after it, by
    // which time the burst's last event (second 9) has settled too.
    expect(runs).toEqual([T0_MS + 1_000 + SETTLE_MS, T0_MS + 1_000 + 2 * SETTLE_MS]);
  });

  test('a minute of continuous tagging makes at most one run per settle period', () => {
    const burst = Array.from({ length: 120 }, (_, i) => ({ event: relevantTag(i / 2), deliveredAt: T0_MS + i * 500 + 1_000 }));
    const runs = play(burst, { runMs: 500 });
    expect(runs.length).toBeLessThanOrEqual(60_000 / SETTLE_MS + 1);
    for (let i = 1; i < runs.length; i++) expect((runs[i] ?? 0) - (runs[i - 1] ?? 0)).toBeGreaterThanOrEqual(SETTLE_MS);
    // The last run read after the last event settled.
    expect(runs.at(-1)).toBeGreaterThanOrEqual(settledAt(must(relevantTag(59.5))));
  });

  test('an event after a run started reading gets a run of its own', () => {
    const runs = play([
      { event: relevantTag(0), deliveredAt: T0_MS + 20_000 },
      { event: relevantTag(60), deliveredAt: T0_MS + 80_000 },
    ]);
    expect(runs).toEqual([T0_MS + 20_000, T0_MS + 80_000]);
  });

  test('an event whose run failed does not count as seen: the next event of the burst runs', () => {
    const burst = [0, 1, 2].map((s) => ({ event: relevantTag(s), deliveredAt: T0_MS + 30_000 }));
    expect(play(burst, { failing: new Set([0]) })).toHaveLength(1);
  });

  test('a scheduled run that started reading after the burst settled covers it', () => {
    const ledger = new RunLedger();
    ledger.completed({ readStarted: T0_MS + 12_000, commit: true });
    expect(play([{ event: relevantTag(0), deliveredAt: T0_MS + 40_000 }], { ledger })).toEqual([]);
    // An event within the settle window of that run's start is not covered.
    expect(play([{ event: relevantTag(5), deliveredAt: T0_MS + 40_000 }], { ledger })).toHaveLength(1);
  });

  test('a dry run does not cover an event whose run would commit', () => {
    const ledger = new RunLedger();
    ledger.completed({ readStarted: T0_MS + 60_000, commit: false });
    expect(ledger.supersededReason(must(relevantTag(0)), true)).toBeUndefined();
    expect(ledger.supersededReason(must(relevantTag(0)), false)).toMatch(/already saw it/);
  });
});
