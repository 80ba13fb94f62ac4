/**
 * Change notifications: who gained or lost which access on which cluster, and what a guard
 * refused, published to an SNS topic and as an EventBridge event (`source: eks-auth-sync`).
 *
 * The payload is a pure function of one cluster's run (`notificationPayload`), built from the
 * plan's own values (principal, username, groups, access policies, source), never from the
 * report's free text: no token, credential, endpoint or warning text can reach it. Publishing
 * (`publishNotification`) is the only I/O, and a failed publish never changes the sync's outcome
 * (see the handler).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { GuardRefusalError, TargetsFailedError, type GuardTarget } from './errors.js';
import type { SyncReport } from './sync.js';
import { defaultUsername, type Step } from './targets/access-entries/plan.js';
import type { AccessScope } from './targets/access-entries/translate.js';
import type { PlannedEntry } from './targets/awsauth/index.js';

/** The EventBridge `source` of every event, and the prefix of every SNS subject. */
export const NOTIFICATION_SOURCE = 'eks-auth-sync';

/** The EventBridge detail-types (and the SNS `eventType` attribute). */
export const DETAIL_TYPE = {
  /** Committed changes only. */
  changed: 'Access Changed',
  /** A guard refused a target's write; in `sync.target: both`, the other target's changes are included. */
  refused: 'Sync Refused',
} as const;
export type DetailType = (typeof DETAIL_TYPE)[keyof typeof DETAIL_TYPE];

/**
 * The most bytes the payload's JSON may take. SNS and EventBridge both stop at 256 KiB (262,144
 * bytes); SNS counts the subject and message attributes, EventBridge the source, detail-type and
 * resources, in that budget. 8 KiB is left for them (the subject is at most 100 bytes, the
 * attributes a cluster name and a few counts, the resource a cluster ARN).
 */
export const MAX_PAYLOAD_BYTES = 262_144 - 8_192;

/** An access policy as a change names it: cluster scope when `namespaces` is absent. */
export interface PolicyAccess {
  policyArn: string;
  namespaces?: string[];
}

/** What a principal gained or lost on one target. */
export interface AccessDelta {
  groups: string[];
  accessPolicies: PolicyAccess[];
}

/** One principal's committed change on one target. */
export interface AccessChange {
  target: GuardTarget;
  /** The IAM role or user ARN. */
  principal: string;
  /** `granted`: it had no entry; `revoked`: its entry is gone; `changed`: anything else. */
  change: 'granted' | 'revoked' | 'changed';
  /** The source that asked for it (`aws-auth (previously synced)` / `access entry (previously synced)` for a revocation). */
  source: string;
  /**
   * The Kubernetes username before and after; null where there was or is no entry, and before a
   * type change (the deleted entry's is not read). Absent when unchanged, and for a deleted access entry.
   */
  username?: { before: string | null; after: string | null };
  gained: AccessDelta;
  /**
   * What it lost. A deleted access entry takes all its groups and policies with it; the plan does
   * not read them for a delete, so `entryDeleted` says so instead of listing them.
   */
  lost: AccessDelta;
  /** Access entries: the entry's type when it is created, deleted or replaced (a type change). */
  entryType?: { before: string | null; after: string | null };
  /** Access entries: the entry was deleted, and with it every group and policy it had (in a type change, a new one replaces it). */
  entryDeleted?: true;
}

/** A guard's refusal: nothing was written to that target. */
export interface Refusal {
  target: GuardTarget;
  /** The guard's error class, e.g. `MaxRemovalsGuardError`. */
  guard: string;
  /** Its message: what was refused, why, and what to do. */
  reason: string;
}

/** What is published, as the SNS message (JSON) and as the EventBridge event's `detail`. */
export interface NotificationPayload {
  version: 1;
  detailType: DetailType;
  /** When the run ended (ISO 8601). */
  time: string;
  cluster: { name: string; arn?: string };
  trigger: 'schedule' | 'manual' | 'event';
  /** Every committed change (aws-auth's, then the access entries'), unless `truncated`. */
  changes: AccessChange[];
  refusals: Refusal[];
  counts: { changes: number; granted: number; revoked: number; changed: number; refusals: number };
  /** Present when `changes` was cut to stay under the size limit; `counts` still counts them all. */
  truncated?: { changesIncluded: number; changesOmitted: number; reason: string };
}

/** What the payload is built from: one cluster's run, which ended in `report` or threw `error`. */
export interface RunOutcome {
  cluster: string;
  trigger: 'schedule' | 'manual' | 'event';
  time: Date;
  report?: SyncReport;
  error?: unknown;
}

/**
 * The notification for one cluster's committing run, or undefined when there is nothing to tell
 * (a dry run, no committed change, an error that is not a guard refusal).
 * @example notificationPayload({ cluster: 'prod', trigger: 'schedule', time: new Date(), report })?.counts.granted
 */
export function notificationPayload(outcome: RunOutcome): NotificationPayload | undefined {
  const report = outcome.report ?? (outcome.error instanceof TargetsFailedError ? outcome.error.report : undefined);
  if (report?.dryRun) return undefined;
  const refusals = refusalsOf(outcome.error);
  const changes = report ? [...awsAuthChanges(report), ...accessEntryChanges(report)] : [];
  if (changes.length === 0 && refusals.length === 0) return undefined;
  const count = (kind: AccessChange['change']): number => changes.filter((c) => c.change === kind).length;
  const payload: NotificationPayload = {
    version: 1,
    detailType: refusals.length > 0 ? DETAIL_TYPE.refused : DETAIL_TYPE.changed,
    time: outcome.time.toISOString(),
    cluster: report?.cluster ? { name: outcome.cluster, arn: report.cluster.arn } : { name: outcome.cluster },
    trigger: outcome.trigger,
    changes,
    refusals,
    counts: { changes: changes.length, granted: count('granted'), revoked: count('revoked'), changed: count('changed'), refusals: refusals.length },
  };
  return withinSizeLimit(payload);
}

function refusalsOf(error: unknown): Refusal[] {
  if (error instanceof TargetsFailedError) {
    return [...error.failures].filter(([, e]) => e instanceof GuardRefusalError).map(([target, e]) => refusal(target, e));
  }
  if (error instanceof GuardRefusalError) return [refusal(guardTarget(error), error)];
  return [];
}

function refusal(target: GuardTarget, error: Error): Refusal {
  return { target, guard: error.name, reason: error.message };
}

/** The guards that can refuse either target carry it; the others belong to one target only. */
function guardTarget(error: GuardRefusalError): GuardTarget {
  if ('target' in error && (error.target === 'aws-auth' || error.target === 'access entries')) return error.target;
  return error.name === 'AccessEntryQuotaGuardError' ? 'access entries' : 'aws-auth';
}

const none = (): AccessDelta => ({ groups: [], accessPolicies: [] });

/** aws-auth's committed change: written whenever the report is not a dry run and lists it. */
function awsAuthChanges(report: SyncReport): AccessChange[] {
  const change = report.change;
  if (!change) return [];
  const out: AccessChange[] = [];
  for (const e of change.added) {
    out.push({ ...principal('aws-auth', e.arn, 'granted', e.source), username: { before: null, after: e.username }, gained: { groups: [...e.groups], accessPolicies: [] }, lost: none() });
  }
  for (const { before, after } of change.changed) {
    const changed = awsAuthChanged(before, after);
    // An entry taken over exactly as it was (adopted) changes its owner, not anyone's access.
    if (changed.username || changed.gained.groups.length > 0 || changed.lost.groups.length > 0) out.push(changed);
  }
  for (const e of change.removed) {
    out.push({ ...principal('aws-auth', e.arn, 'revoked', e.source), username: { before: e.username, after: null }, gained: none(), lost: { groups: [...e.groups], accessPolicies: [] } });
  }
  return out;
}

function awsAuthChanged(before: PlannedEntry, after: PlannedEntry): AccessChange {
  const out: AccessChange = {
    ...principal('aws-auth', after.arn, 'changed', after.source),
    gained: { groups: minus(after.groups, before.groups), accessPolicies: [] },
    lost: { groups: minus(before.groups, after.groups), accessPolicies: [] },
  };
  if (before.username !== after.username) out.username = { before: before.username, after: after.username };
  return out;
}

function principal(target: GuardTarget, arn: string, change: AccessChange['change'], source: string): Pick<AccessChange, 'target' | 'principal' | 'change' | 'source'> {
  return { target, principal: arn, change, source };
}

/**
 * The access entries' applied steps, one change per principal (a create and its associations are
 * one grant). Steps are applied in the plan's order and all of them when the run commits, except
 * those of a principal EKS refused (reported as a warning), which are left out here too.
 */
function accessEntryChanges(report: SyncReport): AccessChange[] {
  const ae = report.accessEntries;
  if (!ae?.committed) return [];
  const refused = new Set(report.warnings.filter((w) => w.source === 'access-entries' && w.message.startsWith(REFUSED_PRINCIPAL)).map((w) => w.subject?.toLowerCase()));
  const byPrincipal = new Map<string, AccessChange>();
  for (const step of ae.plan.steps) {
    const key = step.principalArn.toLowerCase();
    if (refused.has(key)) continue;
    let change = byPrincipal.get(key);
    if (!change) {
      change = { ...principal('access entries', step.principalArn, 'changed', step.source), gained: none(), lost: none() };
      byPrincipal.set(key, change);
    }
    applyStep(change, step);
  }
  return [...byPrincipal.values()];
}

/** How apply.ts words the warning for a principal EKS refused (its steps were skipped). */
const REFUSED_PRINCIPAL = 'EKS refused this principal';

function applyStep(change: AccessChange, step: Step): void {
  switch (step.action) {
    case 'create': {
      // After a delete of the same principal, a type change: the old entry went with all it had.
      change.change = change.entryDeleted ? 'changed' : 'granted';
      change.entryType = { before: change.entryType?.before ?? null, after: step.type };
      change.username = { before: null, after: step.username ?? defaultUsername(step.principalArn) };
      change.gained.groups.push(...step.kubernetesGroups);
      change.source = step.source;
      return;
    }
    case 'update':
      if (step.before.username !== step.username) change.username = { before: step.before.username, after: step.username };
      change.gained.groups.push(...minus(step.kubernetesGroups, step.before.kubernetesGroups));
      change.lost.groups.push(...minus(step.before.kubernetesGroups, step.kubernetesGroups));
      return;
    case 'associate':
      change.gained.accessPolicies.push(policy(step.policyArn, step.scope));
      if (step.before) change.lost.accessPolicies.push(policy(step.policyArn, step.before));
      return;
    case 'disassociate':
      change.lost.accessPolicies.push({ policyArn: step.policyArn });
      return;
    case 'delete':
      change.entryType = { before: step.type, after: null };
      change.entryDeleted = true;
      if (step.reason === 'not desired') change.change = 'revoked';
      return;
  }
}

function policy(policyArn: string, scope: AccessScope): PolicyAccess {
  return scope.type === 'cluster' ? { policyArn } : { policyArn, namespaces: [...scope.namespaces] };
}

function minus(a: readonly string[], b: readonly string[]): string[] {
  return a.filter((x) => !b.includes(x));
}

const bytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value), 'utf8');

/**
 * Keeps the payload under MAX_PAYLOAD_BYTES by cutting `changes` from the end (revocations are
 * listed last per target) and saying how many were left out; `counts` keep the totals.
 */
function withinSizeLimit(payload: NotificationPayload): NotificationPayload {
  if (bytes(payload) <= MAX_PAYLOAD_BYTES) return payload;
  const total = payload.changes.length;
  const cut = (included: number): NotificationPayload => ({
    ...payload,
    changes: payload.changes.slice(0, included),
    truncated: {
      changesIncluded: included,
      changesOmitted: total - included,
      reason: `the full list would exceed ${MAX_PAYLOAD_BYTES} bytes (SNS and EventBridge accept 256 KiB); the run's log lists every change`,
    },
  });
  // The largest prefix that fits: sizes grow with the prefix, so a binary search finds it.
  let low = 0;
  let high = total;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (bytes(cut(mid)) <= MAX_PAYLOAD_BYTES) low = mid;
    else high = mid - 1;
  }
  return cut(low);
}

/** Where notifications go: either, both, or neither (then nothing is published). */
export interface NotificationTargets {
  /** A standard SNS topic's ARN. */
  topicArn?: string;
  /** An EventBridge bus's name or ARN. */
  eventBusArn?: string;
}

/** The clients publishing uses; built on first use, so a run that publishes nothing builds none. */
export interface NotificationClients {
  sns: () => SNSClient;
  eventBridge: () => EventBridgeClient;
}

/** A publish that failed: which destination, and the error's name and message (never the payload). */
export interface PublishFailure {
  destination: string;
  error: string;
}

/** How often an entry PutEvents reports as failed in a 200 response is sent again. */
const PUT_EVENTS_ATTEMPTS = 3;

/**
 * Publishes `payload` to every configured destination, each on its own: one failing does not stop
 * the other. Returns the failures (empty: all delivered); never throws.
 * @example const failures = await publishNotification(payload, { topicArn }, defaultNotificationClients());
 */
export async function publishNotification(
  payload: NotificationPayload,
  targets: NotificationTargets,
  clients: NotificationClients,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<PublishFailure[]> {
  const attempts: Promise<PublishFailure | undefined>[] = [];
  if (targets.topicArn) attempts.push(settle(`SNS topic ${targets.topicArn}`, () => publishToSns(payload, targets.topicArn as string, clients)));
  if (targets.eventBusArn) attempts.push(settle(`EventBridge bus ${targets.eventBusArn}`, () => putEvent(payload, targets.eventBusArn as string, clients, sleep)));
  return (await Promise.all(attempts)).filter((f): f is PublishFailure => f !== undefined);
}

async function settle(destination: string, publish: () => Promise<void>): Promise<PublishFailure | undefined> {
  try {
    await publish();
    return undefined;
  } catch (err) {
    return { destination, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
  }
}

async function publishToSns(payload: NotificationPayload, topicArn: string, clients: NotificationClients): Promise<void> {
  const sns = clients.sns();
  await sns.send(new PublishCommand({
    TopicArn: topicArn,
    Subject: subjectOf(payload),
    Message: JSON.stringify(payload),
    // For subscription filter policies: e.g. only refusals, or only one cluster.
    MessageAttributes: {
      eventType: { DataType: 'String', StringValue: payload.detailType },
      cluster: { DataType: 'String', StringValue: payload.cluster.name },
      granted: { DataType: 'Number', StringValue: String(payload.counts.granted) },
      revoked: { DataType: 'Number', StringValue: String(payload.counts.revoked) },
    },
  }));
}

async function putEvent(payload: NotificationPayload, eventBus: string, clients: NotificationClients, sleep: (ms: number) => Promise<void>): Promise<void> {
  const events = clients.eventBridge();
  const entry = {
    Source: NOTIFICATION_SOURCE,
    DetailType: payload.detailType,
    Detail: JSON.stringify(payload),
    EventBusName: eventBus,
    ...(payload.cluster.arn === undefined ? {} : { Resources: [payload.cluster.arn] }),
  };
  // PutEvents answers 200 even when the entry failed (throttled, an internal error): the failure
  // is in FailedEntryCount and the entry's ErrorCode, so it is retried here, not by the SDK.
  let failure = '';
  for (let attempt = 1; attempt <= PUT_EVENTS_ATTEMPTS; attempt++) {
    const answer = await events.send(new PutEventsCommand({ Entries: [entry] }));
    if (!answer.FailedEntryCount) return;
    const result = answer.Entries?.[0];
    failure = `${result?.ErrorCode ?? 'unknown error'}: ${result?.ErrorMessage ?? 'no message'}`;
    if (attempt < PUT_EVENTS_ATTEMPTS) await sleep(100 * 2 ** attempt);
  }
  throw new Error(`PutEvents failed for the entry after ${PUT_EVENTS_ATTEMPTS} attempts (${failure})`);
}

/** SNS subjects: at most 100 printable ASCII characters, no line break (e-mail subscribers see it). */
export function subjectOf(payload: NotificationPayload): string {
  const { counts } = payload;
  const what = payload.detailType === DETAIL_TYPE.refused
    ? `sync refused (${payload.refusals.map((r) => r.guard).join(', ')})`
    : `${counts.changes} access change${counts.changes === 1 ? '' : 's'} (${counts.granted} granted, ${counts.revoked} revoked, ${counts.changed} changed)`;
  const subject = `${NOTIFICATION_SOURCE}: ${payload.cluster.name}: ${what}`.replace(/[^\x20-\x7e]/g, '?');
  return subject.length <= 100 ? subject : `${subject.slice(0, 97)}...`;
}

/** The environment variables the construct sets (infra/notifications.ts) and the handler reads. */
export const NOTIFICATION_ENV = { topicArn: 'NOTIFICATION_TOPIC_ARN', eventBusArn: 'NOTIFICATION_EVENT_BUS_ARN' } as const;

/** Where to publish, from the environment the construct sets. */
export function notificationTargetsFromEnv(env: NodeJS.ProcessEnv): NotificationTargets {
  const targets: NotificationTargets = {};
  const topicArn = env[NOTIFICATION_ENV.topicArn];
  const eventBusArn = env[NOTIFICATION_ENV.eventBusArn];
  if (topicArn) targets.topicArn = topicArn;
  if (eventBusArn) targets.eventBusArn = eventBusArn;
  return targets;
}

/**
 * A destination that does not answer must not hold the run past its deadline (the handler's
 * 10 s margin): two attempts of at most 3 s each, plus connecting.
 */
const CLIENT_SETTINGS = { maxAttempts: 2, requestHandler: { requestTimeout: 3_000, connectionTimeout: 1_000 } } as const;

/** Clients in the destination's region (from its ARN; else the function's), built on first use. */
export function defaultNotificationClients(targets: NotificationTargets): NotificationClients {
  const regionOf = (arn: string | undefined): { region?: string } => {
    const region = arn?.startsWith('arn:') ? arn.split(':')[3] : undefined;
    return region ? { region } : {};
  };
  let sns: SNSClient | undefined;
  let eventBridge: EventBridgeClient | undefined;
  return {
    sns: () => (sns ??= new SNSClient({ ...CLIENT_SETTINGS, ...regionOf(targets.topicArn) })),
    eventBridge: () => (eventBridge ??= new EventBridgeClient({ ...CLIENT_SETTINGS, ...regionOf(targets.eventBusArn) })),
  };
}

/** Publishes a payload; resolves to the destinations that failed. */
export type Notifier = (payload: NotificationPayload) => Promise<PublishFailure[]>;

/**
 * The notifier the construct's environment asks for (NOTIFICATION_TOPIC_ARN,
 * NOTIFICATION_EVENT_BUS_ARN), or undefined when it names no destination.
 */
export function notifierFromEnv(env: NodeJS.ProcessEnv): Notifier | undefined {
  const targets = notificationTargetsFromEnv(env);
  if (!targets.topicArn && !targets.eventBusArn) return undefined;
  const clients = defaultNotificationClients(targets);
  return (payload) => publishNotification(payload, targets, clients);
}
