/**
 * Change notifications: the payload a committing run publishes (who gained or lost which access,
 * from which source, on which cluster; what a guard refused), its size limit, that it carries no
 * secret, and publishing it to SNS and EventBridge through the real SDK clients (mocked transport).
 */
import { readFileSync } from 'node:fs';
import { EKSClient, CreateAccessEntryCommand, InvalidParameterException, AssociateAccessPolicyCommand, DeleteAccessEntryCommand } from '@aws-sdk/client-eks';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { parseConfig } from '../lambda/config.js';
import {
  AccessEntryQuotaGuardError, EksAuthSyncError, KubeUnauthorizedError, MaxRemovalsGuardError, ObjectTooLargeGuardError, TargetsFailedError, type GuardTarget,
} from '../lambda/errors.js';
import { createHandler } from '../lambda/handler.js';
import type { Warning } from '../lambda/mappings.js';
import {
  DETAIL_TYPE, MAX_PAYLOAD_BYTES, NOTIFICATION_SOURCE, notificationPayload, notifierFromEnv, publishNotification, subjectOf,
  type NotificationClients, type NotificationPayload, type RunOutcome,
} from '../lambda/notify.js';
import type { SyncReport } from '../lambda/sync.js';
import { applyAccessEntriesPlan } from '../lambda/targets/access-entries/apply.js';
import type { AccessEntriesPlan, Step } from '../lambda/targets/access-entries/plan.js';
import type { PlannedEntry } from '../lambda/targets/awsauth/index.js';
import { SCHEDULED_EVENT } from './support/events.js';

const ACCOUNT = '111122223333';
const CLUSTER_ARN = `arn:aws:eks:eu-west-1:${ACCOUNT}:cluster/prod`;
const TOPIC_ARN = `arn:aws:sns:eu-west-1:${ACCOUNT}:access-changes`;
const BUS_ARN = `arn:aws:events:eu-west-1:${ACCOUNT}:event-bus/platform`;
const TIME = new Date('2026-03-04T05:06:07.000Z');
const role = (name: string): string => `arn:aws:iam::${ACCOUNT}:role/${name}`;

const entry = (name: string, username: string, groups: string[], source: string): PlannedEntry => ({ kind: 'role', arn: role(name), username, groups, source });

function emptyPlan(steps: Step[] = []): AccessEntriesPlan {
  return { creates: [], updates: [], deletes: [], associations: [], disassociations: [], keptForeign: [], selfEntryKept: null, unchanged: [], steps, warnings: [] };
}

/** A committed run's report: aws-auth and access entries both written (`sync.target: both`). */
function report(overrides: Partial<SyncReport> = {}): SyncReport {
  return {
    dryRun: false,
    committed: true,
    created: false,
    desired: { roles: 3, users: 0 },
    mappings: { roles: [], users: [] },
    target: { setting: 'both', targets: ['configMap', 'accessEntries'], authenticationMode: 'API_AND_CONFIG_MAP', reason: 'sync.target is both' },
    cluster: { name: 'prod', arn: CLUSTER_ARN, endpoint: 'https://ABCDEF.gr7.eu-west-1.eks.amazonaws.com' },
    identity: `arn:aws:sts::${ACCOUNT}:assumed-role/eks-auth-sync/i-1`,
    change: {
      added: [entry('dev', 'dev:{{SessionName}}', ['developers'], 'iam-tags')],
      removed: [entry('contractor', 'contractor', ['viewers'], 'aws-auth (previously synced)')],
      changed: [{ before: entry('ops', 'ops', ['viewers'], 'static'), after: entry('ops', 'ops-{{SessionName}}', ['operators'], 'static') }],
      adopted: [],
      unchanged: 4,
      keptForeign: 1,
      keptAgainstTags: [],
      selfEntryKept: null,
      ownershipRecordMissing: false,
    },
    accessEntries: { plan: emptyPlan(), applied: 0, committed: false },
    targetErrors: {},
    attempts: 1,
    warnings: [],
    ...overrides,
  };
}

const outcome = (o: Partial<RunOutcome>): RunOutcome => ({ cluster: 'prod', trigger: 'schedule', time: TIME, ...o });

/** Access-entry steps of every kind, for four principals. */
const STEPS: Step[] = [
  { action: 'create', principalArn: role('auditor'), type: 'STANDARD', kubernetesGroups: ['audit'], source: 'ssm-people', why: [] },
  { action: 'associate', principalArn: role('auditor'), policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy', scope: { type: 'namespace', namespaces: ['team-a'] }, source: 'ssm-people' },
  { action: 'associate', principalArn: role('lead'), policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy', scope: { type: 'cluster' }, before: { type: 'namespace', namespaces: ['team-a'] }, source: 'static' },
  { action: 'update', principalArn: role('lead'), username: 'lead', kubernetesGroups: ['leads', 'viewers'], before: { username: 'lead-old', kubernetesGroups: ['viewers', 'oncall'] }, source: 'static', why: [] },
  { action: 'disassociate', principalArn: role('lead'), policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy', source: 'static' },
  { action: 'delete', principalArn: role('leaver'), type: 'STANDARD', reason: 'not desired', source: 'access entry (previously synced)' },
  { action: 'delete', principalArn: role('node'), type: 'STANDARD', reason: 'type change', source: 'iam-tags' },
  { action: 'create', principalArn: role('node'), type: 'EC2_LINUX', kubernetesGroups: [], source: 'iam-tags', why: [] },
];

const committedAccessEntries = (steps: Step[]): SyncReport['accessEntries'] => ({ plan: emptyPlan(steps), applied: steps.length, committed: true });

/** The README's payload example: this run, exactly. */
function exampleRun(): RunOutcome {
  return outcome({
    report: report({
      change: { ...report().change!, removed: [], changed: [] },
      accessEntries: committedAccessEntries(STEPS.slice(0, 6)),
    }),
  });
}

describe('the payload of a committed run', () => {
  test("aws-auth's added, changed and removed entries say who gained and lost which groups and username, from which source, on which cluster", () => {
    const payload = notificationPayload(outcome({ report: report() }));
    expect(payload).toMatchObject({ version: 1, detailType: 'Access Changed', time: TIME.toISOString(), cluster: { name: 'prod', arn: CLUSTER_ARN }, trigger: 'schedule', refusals: [] });
    expect(payload?.changes).toEqual([
      { target: 'aws-auth', principal: role('dev'), change: 'granted', source: 'iam-tags', username: { before: null, after: 'dev:{{SessionName}}' }, gained: { groups: ['developers'], accessPolicies: [] }, lost: { groups: [], accessPolicies: [] } },
      { target: 'aws-auth', principal: role('ops'), change: 'changed', source: 'static', username: { before: 'ops', after: 'ops-{{SessionName}}' }, gained: { groups: ['operators'], accessPolicies: [] }, lost: { groups: ['viewers'], accessPolicies: [] } },
      { target: 'aws-auth', principal: role('contractor'), change: 'revoked', source: 'aws-auth (previously synced)', username: { before: 'contractor', after: null }, gained: { groups: [], accessPolicies: [] }, lost: { groups: ['viewers'], accessPolicies: [] } },
    ]);
    expect(payload?.counts).toEqual({ changes: 3, granted: 1, revoked: 1, changed: 1, refusals: 0 });
  });

  test('an aws-auth entry taken over exactly as it was (its owner changes, not its access) is not a change', () => {
    const adopted = { before: entry('ci', 'ci', ['deployers'], 'aws-auth (not managed)'), after: entry('ci', 'ci', ['deployers'], 'iam-tags') };
    const payload = notificationPayload(outcome({ report: report({ change: { ...report().change!, changed: [adopted, ...report().change!.changed] } }) }));
    expect(payload?.changes.map((c) => c.principal)).not.toContain(role('ci'));
    expect(payload?.counts.changed).toBe(1);
  });

  test('access entry steps become one change per principal: a create and its associations are one grant; scope changes, updates, disassociations, deletes and type changes say what went', () => {
    const payload = notificationPayload(outcome({ report: report({ change: null, accessEntries: committedAccessEntries(STEPS) }) }));
    expect(payload?.changes).toEqual([
      {
        target: 'access entries', principal: role('auditor'), change: 'granted', source: 'ssm-people', entryType: { before: null, after: 'STANDARD' },
        username: { before: null, after: `arn:aws:sts::${ACCOUNT}:assumed-role/auditor/{{SessionName}}` },
        gained: { groups: ['audit'], accessPolicies: [{ policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy', namespaces: ['team-a'] }] },
        lost: { groups: [], accessPolicies: [] },
      },
      {
        target: 'access entries', principal: role('lead'), change: 'changed', source: 'static', username: { before: 'lead-old', after: 'lead' },
        gained: { groups: ['leads'], accessPolicies: [{ policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy' }] },
        lost: { groups: ['oncall'], accessPolicies: [{ policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy', namespaces: ['team-a'] }, { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSAdminPolicy' }] },
      },
      {
        target: 'access entries', principal: role('leaver'), change: 'revoked', source: 'access entry (previously synced)', entryType: { before: 'STANDARD', after: null }, entryDeleted: true,
        gained: { groups: [], accessPolicies: [] }, lost: { groups: [], accessPolicies: [] },
      },
      {
        target: 'access entries', principal: role('node'), change: 'changed', source: 'iam-tags', entryType: { before: 'STANDARD', after: 'EC2_LINUX' }, entryDeleted: true,
        username: { before: null, after: `arn:aws:sts::${ACCOUNT}:assumed-role/node/{{SessionName}}` },
        gained: { groups: [], accessPolicies: [] }, lost: { groups: [], accessPolicies: [] },
      },
    ]);
    expect(payload?.counts).toEqual({ changes: 4, granted: 1, revoked: 1, changed: 2, refusals: 0 });
  });

  test('the steps of a principal EKS refused to create (skipped by apply, with a warning) are not reported as granted', async () => {
    const eks = mockClient(EKSClient);
    eks.on(CreateAccessEntryCommand, { principalArn: role('auditor') }).rejects(new InvalidParameterException({ message: 'The specified principalArn is invalid: invalid principal', $metadata: {} }));
    eks.on(AssociateAccessPolicyCommand).resolves({});
    eks.on(DeleteAccessEntryCommand).resolves({});
    const steps = STEPS.filter((s) => s.principalArn === role('auditor') || s.principalArn === role('leaver'));
    const warnings: Warning[] = [];
    const applied = await applyAccessEntriesPlan(new EKSClient({ region: 'eu-west-1' }), { steps }, { clusterName: 'prod', warnings });
    eks.restore();
    const payload = notificationPayload(outcome({ report: report({ change: null, warnings, accessEntries: { plan: emptyPlan(steps), applied, committed: applied > 0 } }) }));
    expect(payload?.changes.map((c) => [c.principal, c.change])).toEqual([[role('leaver'), 'revoked']]);
  });

  test.each([
    ['a dry run', outcome({ report: report({ dryRun: true, committed: false }) })],
    ['a run with nothing to change', outcome({ report: report({ committed: false, change: { ...report().change!, added: [], removed: [], changed: [] } }) })],
    ['a failure that is not a guard refusal', outcome({ error: new KubeUnauthorizedError('the API server rejected the token') })],
    ['a dry run a guard refused in `both`', outcome({ error: new TargetsFailedError(new Map([['aws-auth', new MaxRemovalsGuardError(30, 20, [role('a')])]]), report({ dryRun: true, committed: false })) })],
  ])('%s has nothing to publish', (_name, run) => {
    expect(notificationPayload(run)).toBeUndefined();
  });
});

describe('the payload of a guard refusal', () => {
  test.each<[string, Error, GuardTarget]>([
    ['maxRemovals on aws-auth', new MaxRemovalsGuardError(30, 20, [role('a')]), 'aws-auth'],
    ['maxRemovals on access entries', new MaxRemovalsGuardError(30, 20, [role('a')], 0, 'access entries'), 'access entries'],
    ['the size guard', new ObjectTooLargeGuardError('mapRoles', 2_000_000, 1_048_576), 'aws-auth'],
    ['the quota guard', new AccessEntryQuotaGuardError(3_100, 3_000), 'access entries'],
  ])('%s says which target was refused, by which guard, and why', (_name, error, target) => {
    const payload = notificationPayload(outcome({ error }));
    expect(payload).toMatchObject({ detailType: 'Sync Refused', cluster: { name: 'prod' }, changes: [], counts: { refusals: 1 } });
    expect(payload?.refusals).toEqual([{ target, guard: error.name, reason: error.message }]);
  });

  test('in `both`, one target refused and the other committed: the payload carries the refusal and the changes made', () => {
    const refused = new MaxRemovalsGuardError(30, 20, [role('a')]);
    const failed = new TargetsFailedError(new Map([['aws-auth', refused]]), report({ change: null, accessEntries: committedAccessEntries(STEPS.slice(0, 2)) }));
    const payload = notificationPayload(outcome({ error: failed }));
    expect(payload?.detailType).toBe('Sync Refused');
    expect(payload?.refusals).toEqual([{ target: 'aws-auth', guard: 'MaxRemovalsGuardError', reason: refused.message }]);
    expect(payload?.changes.map((c) => [c.target, c.principal, c.change])).toEqual([['access entries', role('auditor'), 'granted']]);
  });

  test("a target that failed for another reason in `both` is not reported as refused", () => {
    const failed = new TargetsFailedError(new Map([['aws-auth', new EksAuthSyncError('unreachable')]]), report({ change: null, accessEntries: committedAccessEntries(STEPS.slice(0, 2)) }));
    expect(notificationPayload(outcome({ error: failed }))).toMatchObject({ detailType: 'Access Changed', refusals: [] });
  });
});

describe('what the payload never carries', () => {
  const TOKEN = 'k8s-aws-v1.aHR0cHM6Ly9zdHMuYW1hem9uYXdzLmNvbS8_QWN0aW9uPUdldENhbGxlcklkZW50aXR5';
  const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const SESSION = 'IQoJb3JpZ2luX2VjEXAMPLESESSIONTOKEN';

  test('a token or credential anywhere in the report outside the mappings (warnings, cluster error, endpoint, identity, error causes) reaches no field', () => {
    const leaky = report({
      accessEntries: committedAccessEntries(STEPS),
      warnings: [{ source: 'aws-auth', message: `Authorization: Bearer ${TOKEN}` }, { source: 'iam', message: `aws_secret_access_key=${SECRET}` }],
      clusterError: `x-amz-security-token=${SESSION}`,
      cluster: { name: 'prod', arn: CLUSTER_ARN, endpoint: `https://${TOKEN}.eks.amazonaws.com` },
      identity: `arn:aws:sts::${ACCOUNT}:assumed-role/${SESSION}/x`,
      targetErrors: { configMap: SECRET },
    });
    const refused = new MaxRemovalsGuardError(30, 20, [role('a')], 0, 'access entries', );
    Object.assign(refused, { cause: new Error(SECRET), token: TOKEN });
    const text = JSON.stringify(notificationPayload(outcome({ error: new TargetsFailedError(new Map([['access entries', refused]]), leaky) })));
    expect(text).toContain(role('dev'));
    for (const secret of [TOKEN, SECRET, SESSION, 'endpoint', 'identity', 'warnings']) expect(text).not.toContain(secret);
  });

  test("the payload's fields are only the documented ones: the README's example is this module's output, field for field", () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Change notifications'));
    const example = /```json\n([\s\S]*?)\n```/.exec(section)?.[1];
    expect(example, 'README "Change notifications" has a JSON example').toBeDefined();
    expect(notificationPayload(exampleRun())).toEqual(JSON.parse(example ?? 'null'));
    // Every field any payload can have is named in the README's field list.
    const documented = new Set([...section.slice(0, section.indexOf('\n## ', 3)).matchAll(/`([A-Za-z]+)`/g)].map((m) => m[1]));
    const fields = new Set<string>();
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk);
      else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) { fields.add(k); walk(v); }
    };
    const refusal = notificationPayload(outcome({ error: new TargetsFailedError(new Map([['aws-auth', new MaxRemovalsGuardError(30, 20, [role('a')])]]), report({ accessEntries: committedAccessEntries(STEPS) })) }));
    walk(refusal);
    walk(notificationPayload(outcome({ report: manyChanges(3_000) })));
    expect([...fields].filter((f) => !documented.has(f))).toEqual([]);
  });
});

/** A committed report with `n` aws-auth additions, each with long group names. */
function manyChanges(n: number): SyncReport {
  const added = Array.from({ length: n }, (_, i) => entry(`team-${i}`, `team-${i}:{{SessionName}}`, [`group-${'x'.repeat(40)}-${i}`, `readers-${i}`], 'iam-tags'));
  return report({ change: { ...report().change!, added, removed: [], changed: [] } });
}

describe('the size limit', () => {
  test('a change too large for SNS and EventBridge is cut, says how many changes it left out, and still counts them all', () => {
    const payload = notificationPayload(outcome({ report: manyChanges(3_000) }));
    const size = Buffer.byteLength(JSON.stringify(payload));
    expect(size).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
    expect(payload?.counts.changes).toBe(3_000);
    expect(payload?.truncated?.changesIncluded).toBe(payload?.changes.length);
    expect((payload?.truncated?.changesIncluded ?? 0) + (payload?.truncated?.changesOmitted ?? 0)).toBe(3_000);
    expect(payload?.truncated?.changesOmitted).toBeGreaterThan(0);
    expect(payload?.truncated?.reason).toMatch(/256 KiB/);
    // The first changes, in order, and as many as fit: one more would not.
    const included = payload?.changes.length ?? 0;
    expect(payload?.changes).toEqual(allChanges(3_000).slice(0, included));
    const oneMore = { ...payload, changes: allChanges(3_000).slice(0, included + 1) };
    expect(Buffer.byteLength(JSON.stringify(oneMore))).toBeGreaterThan(MAX_PAYLOAD_BYTES);
  });

  test('a change that fits is sent whole, without a truncated field', () => {
    const payload = notificationPayload(outcome({ report: manyChanges(100) }));
    expect(payload?.changes).toHaveLength(100);
    expect(payload && 'truncated' in payload).toBe(false);
  });

  test("the SNS message with its subject and attributes, and the EventBridge entry as PutEvents counts it, stay within 256 KiB", async () => {
    const payload = notificationPayload(outcome({ report: manyChanges(3_000) })) as NotificationPayload;
    const { sns, events, clients } = mockedClients();
    expect(await publishNotification(payload, { topicArn: TOPIC_ARN, eventBusArn: BUS_ARN }, clients)).toEqual([]);
    const publish = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    const attributes = Object.entries(publish?.MessageAttributes ?? {}).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v.DataType ?? '') + Buffer.byteLength(v.StringValue ?? ''), 0);
    expect(Buffer.byteLength(publish?.Message ?? '') + Buffer.byteLength(publish?.Subject ?? '') + attributes).toBeLessThanOrEqual(262_144);
    const e = events.commandCalls(PutEventsCommand)[0]?.args[0].input.Entries?.[0];
    const entrySize = [e?.Source, e?.DetailType, e?.Detail, ...(e?.Resources ?? [])].reduce((n, s) => n + Buffer.byteLength(s ?? ''), 0);
    expect(entrySize).toBeLessThanOrEqual(262_144);
  });
});

/** The changes of `manyChanges(n)` as the payload lists them, none left out. */
function allChanges(n: number): unknown[] {
  return (manyChanges(n).change?.added ?? []).map((e) => ({ target: 'aws-auth', principal: e.arn, change: 'granted', source: e.source, username: { before: null, after: e.username }, gained: { groups: e.groups, accessPolicies: [] }, lost: { groups: [], accessPolicies: [] } }));
}

/** The real SDK clients, their transport mocked. */
function mockedClients() {
  const sns = mockClient(SNSClient);
  const events = mockClient(EventBridgeClient);
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
  events.on(PutEventsCommand).resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
  const clients: NotificationClients = {
    sns: () => new SNSClient({ region: 'eu-west-1' }),
    eventBridge: () => new EventBridgeClient({ region: 'eu-west-1' }),
  };
  return { sns, events, clients };
}

describe('publishing', () => {
  afterEach(() => {
    mockClient(SNSClient).restore();
    mockClient(EventBridgeClient).restore();
  });
  const payload = notificationPayload(exampleRun()) as NotificationPayload;

  test('SNS gets the payload as JSON, a readable subject and attributes to filter on', async () => {
    const { sns, clients } = mockedClients();
    expect(await publishNotification(payload, { topicArn: TOPIC_ARN }, clients)).toEqual([]);
    const input = sns.commandCalls(PublishCommand)[0]?.args[0].input;
    expect(input?.TopicArn).toBe(TOPIC_ARN);
    expect(input?.Subject).toBe('eks-auth-sync: prod: 4 access changes (2 granted, 1 revoked, 1 changed)');
    expect(JSON.parse(input?.Message ?? '')).toEqual(payload);
    expect(input?.MessageAttributes).toEqual({
      eventType: { DataType: 'String', StringValue: 'Access Changed' },
      cluster: { DataType: 'String', StringValue: 'prod' },
      granted: { DataType: 'Number', StringValue: '2' },
      revoked: { DataType: 'Number', StringValue: '1' },
    });
  });

  test('EventBridge gets one event: source eks-auth-sync, the detail-type, the payload as detail, the cluster as resource, on the configured bus', async () => {
    const { events, clients } = mockedClients();
    expect(await publishNotification(payload, { eventBusArn: BUS_ARN }, clients)).toEqual([]);
    expect(events.commandCalls(PutEventsCommand).map((c) => c.args[0].input)).toEqual([{
      Entries: [{ Source: NOTIFICATION_SOURCE, DetailType: DETAIL_TYPE.changed, Detail: JSON.stringify(payload), EventBusName: BUS_ARN, Resources: [CLUSTER_ARN] }],
    }]);
  });

  test("an entry PutEvents reports as failed in its 200 answer is sent again, and delivered", async () => {
    const { events, clients } = mockedClients();
    events.on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'Rate exceeded' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-2' }] });
    expect(await publishNotification(payload, { eventBusArn: BUS_ARN }, clients, () => Promise.resolve())).toEqual([]);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(2);
  });

  test('an entry that keeps failing is a failure naming the bus and the error code, and SNS is still published', async () => {
    const { sns, events, clients } = mockedClients();
    events.on(PutEventsCommand).resolves({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] });
    const failures = await publishNotification(payload, { topicArn: TOPIC_ARN, eventBusArn: BUS_ARN }, clients, () => Promise.resolve());
    expect(failures).toEqual([{ destination: `EventBridge bus ${BUS_ARN}`, error: 'Error: PutEvents failed for the entry after 3 attempts (InternalFailure: try again)' }]);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(3);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(1);
  });

  test('an SNS error is a failure naming the topic, and the event still goes to EventBridge', async () => {
    const { sns, events, clients } = mockedClients();
    sns.on(PublishCommand).rejects(Object.assign(new Error('User is not authorized to perform: SNS:Publish'), { name: 'AuthorizationErrorException' }));
    const failures = await publishNotification(payload, { topicArn: TOPIC_ARN, eventBusArn: BUS_ARN }, clients);
    expect(failures).toEqual([{ destination: `SNS topic ${TOPIC_ARN}`, error: 'AuthorizationErrorException: User is not authorized to perform: SNS:Publish' }]);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  test.each([
    ['a refusal', notificationPayload(outcome({ error: new MaxRemovalsGuardError(30, 20, [role('a')]) })), 'eks-auth-sync: prod: sync refused (MaxRemovalsGuardError)'],
    ['one change', notificationPayload(outcome({ report: manyChanges(1) })), 'eks-auth-sync: prod: 1 access change (1 granted, 0 revoked, 0 changed)'],
  ])('the SNS subject of %s reads as a sentence', (_name, p, subject) => {
    expect(subjectOf(p as NotificationPayload)).toBe(subject);
  });

  test("the SNS subject stays within SNS's 100 printable ASCII characters for a 100-character cluster name", () => {
    const long = notificationPayload({ ...exampleRun(), cluster: `prod-${'é'.repeat(95)}` }) as NotificationPayload;
    const subject = subjectOf(long);
    expect(subject.length).toBeLessThanOrEqual(100);
    expect(subject).toMatch(/^[\x20-\x7e]+$/);
  });

  test('without a topic or a bus in the environment there is no notifier', () => {
    expect(notifierFromEnv({})).toBeUndefined();
  });
});

describe('the handler', () => {
  const config = parseConfig('cluster: {name: prod}\nscanners: [{type: static, static: {}}]', 'test.yaml');
  const logged: string[] = [];

  beforeEach(() => {
    vi.stubEnv('POWERTOOLS_DEV', 'true');
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    logged.length = 0;
    const capture = (line?: unknown): void => void logged.push(String(line));
    vi.spyOn(console, 'log').mockImplementation(capture);
    vi.spyOn(console, 'info').mockImplementation(capture);
    vi.spyOn(console, 'warn').mockImplementation(capture);
    vi.spyOn(console, 'error').mockImplementation(capture);
  });
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.restoreAllMocks();
    mockClient(SNSClient).restore();
  });

  /** The handler around `runSync`, publishing as the construct's environment says. */
  function handlerWith(runSync: () => Promise<SyncReport>) {
    const sns = mockClient(SNSClient);
    sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    const handler = createHandler({
      runSync,
      loadConfig: () => Promise.resolve({ config, configDir: '/var/task' }),
      env: {},
      now: () => TIME.getTime(),
      logger: new Logger({ serviceName: 'eks-auth-sync' }),
      metrics: new Metrics({ namespace: 'EksAuthSync', serviceName: 'eks-auth-sync' }),
      notify: notifierFromEnv({ NOTIFICATION_TOPIC_ARN: TOPIC_ARN, AWS_REGION: 'eu-west-1' }),
    });
    return { handler, sns };
  }

  const published = (sns: ReturnType<typeof mockClient>): NotificationPayload[] =>
    sns.commandCalls(PublishCommand).map((c) => JSON.parse((c.args[0].input as { Message: string }).Message) as NotificationPayload);

  test('a committing scheduled run publishes its changes once', async () => {
    const { handler, sns } = handlerWith(() => Promise.resolve(report()));
    await handler(SCHEDULED_EVENT);
    expect(published(sns)).toEqual([notificationPayload(outcome({ report: report() }))]);
  });

  test('a dry run publishes nothing, even with changes planned', async () => {
    const { handler, sns } = handlerWith(() => Promise.resolve(report({ dryRun: true, committed: false })));
    await handler({ dryRun: true });
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('a guard refusal in a dry run publishes nothing', async () => {
    const { handler, sns } = handlerWith(() => Promise.reject(new MaxRemovalsGuardError(30, 20, [role('a')])));
    await expect(handler({ dryRun: true })).rejects.toThrow(MaxRemovalsGuardError);
    expect(sns.commandCalls(PublishCommand)).toHaveLength(0);
  });

  test('a guard refusal is published, then the same error fails the run', async () => {
    const refused = new MaxRemovalsGuardError(30, 20, [role('a')]);
    const { handler, sns } = handlerWith(() => Promise.reject(refused));
    await expect(handler({ dryRun: false })).rejects.toBe(refused);
    expect(published(sns).map((p) => [p.detailType, p.trigger, p.refusals[0]?.guard])).toEqual([['Sync Refused', 'manual', 'MaxRemovalsGuardError']]);
  });

  test('a failed publish leaves the run successful, is logged without the payload, and counted in NotificationFailures', async () => {
    const { handler, sns } = handlerWith(() => Promise.resolve(report()));
    sns.on(PublishCommand).rejects(Object.assign(new Error('Topic does not exist'), { name: 'NotFoundException' }));
    const response = await handler(SCHEDULED_EVENT);
    expect(response).toMatchObject({ committed: true });
    const failureLog = logged.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['message'] === 'change notification not delivered; the sync outcome stands');
    expect(failureLog?.['failures']).toEqual([{ destination: `SNS topic ${TOPIC_ARN}`, error: 'NotFoundException: Topic does not exist' }]);
    expect(JSON.stringify(failureLog)).not.toContain(role('dev'));
    const emf = logged.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['_aws'] !== undefined);
    expect(emf?.['NotificationFailures']).toBe(1);
    expect(emf?.['ScheduledRunSucceeded']).toBe(1);
  });
});
