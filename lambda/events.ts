/**
 * Event-driven sync: which EventBridge events announce a change a run could pick up, whether one
 * is relevant to this config (decided from the event and the config alone, without an AWS call),
 * and the rule that folds a burst of events into one run.
 *
 * The shapes are AWS's own:
 * - "Parameter Store Change" (source `aws.ssm`, `detail.name`, `detail.operation` one of Create,
 *   Update, Delete, LabelParameterVersion): AWS Systems Manager User Guide, "Amazon EventBridge
 *   event examples for Systems Manager", Parameter Store events
 *   (https://docs.aws.amazon.com/systems-manager/latest/userguide/monitoring-systems-manager-event-examples.html).
 * - "AWS API Call via CloudTrail" from `aws.iam` (`detail.eventSource` iam.amazonaws.com,
 *   `detail.eventName`, `detail.requestParameters`): EventBridge events reference, IAM
 *   (https://docs.aws.amazon.com/eventbridge/latest/ref/events-ref-iam.html). IAM is global and its
 *   events reach EventBridge in us-east-1 only (https://repost.aws/knowledge-center/iam-eventbridge-sns-rule).
 * - IAM Identity Center's CreateAccountAssignment and DeleteAccountAssignment are public API
 *   operations CloudTrail records with eventSource sso.amazonaws.com (IAM Identity Center User Guide,
 *   "IAM Identity Center information in CloudTrail",
 *   https://docs.aws.amazon.com/singlesignon/latest/userguide/sso-info-in-cloudtrail.html), so they
 *   reach EventBridge as "AWS API Call via CloudTrail" from `aws.sso`, in the Identity Center
 *   instance's home region and account.
 *
 * A run is level-triggered: whatever woke it, it reconciles everything. So an event only decides
 * whether to run now; it never narrows what the run reads.
 */
import type { Config, ScannerConfig } from './config.js';
import { permissionSetOf, SSO_ROLE_PATH } from './scanners/identity-center.js';

/** The CloudTrail detail type on EventBridge. */
export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
/** The Parameter Store detail type on EventBridge. */
export const PARAMETER_STORE_DETAIL_TYPE = 'Parameter Store Change';

/**
 * The IAM calls that can change what an `iam` scanner reads: tags on users and roles, identities
 * created (with tags) or deleted, and group membership (for group-based sources). CreateUser is
 * here too: like CreateRole it may carry tags.
 */
export const IAM_EVENT_NAMES = [
  'TagRole', 'UntagRole', 'TagUser', 'UntagUser', 'CreateRole', 'CreateUser', 'DeleteRole', 'DeleteUser',
  'AddUserToGroup', 'RemoveUserFromGroup',
] as const;
/** Identity Center calls that create or remove the AWSReservedSSO_ role in an account. */
export const IDENTITY_CENTER_EVENT_NAMES = ['CreateAccountAssignment', 'DeleteAccountAssignment'] as const;
/** The Parameter Store operations that change what GetParameter by name returns (a label does not). */
export const PARAMETER_OPERATIONS = ['Create', 'Update', 'Delete'] as const;

type IamEventName = (typeof IAM_EVENT_NAMES)[number];
type IdentityCenterEventName = (typeof IDENTITY_CENTER_EVENT_NAMES)[number];

/** A change event the handler acts on; `time` is the event's time in ms (EventBridge gives whole seconds). */
export type ChangeEvent =
  | { kind: 'ssm'; time: number; name: string; operation: string }
  | { kind: 'iam'; time: number; eventName: IamEventName; failed: boolean; roleName?: string; userName?: string; groupName?: string; tagKeys: string[] }
  | { kind: 'identityCenter'; time: number; eventName: IdentityCenterEventName; failed: boolean; accountId?: string };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringField(record: Record<string, unknown>, key: string): string | undefined {
  const value = record[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The tag keys a CloudTrail record of an IAM call names: `tags: [{key, value}]` (TagRole,
 * CreateRole, …) or `tagKeys: [...]` (UntagRole, UntagUser). CloudTrail writes `key`; `Key` is
 * accepted too, as the API spells it.
 */
function tagKeysOf(parameters: Record<string, unknown>): string[] {
  const keys: string[] = [];
  const tags = parameters['tags'];
  if (Array.isArray(tags)) {
    for (const tag of tags) {
      if (!isRecord(tag)) continue;
      const key = stringField(tag, 'key') ?? stringField(tag, 'Key');
      if (key !== undefined) keys.push(key);
    }
  }
  const tagKeys = parameters['tagKeys'];
  if (Array.isArray(tagKeys)) for (const key of tagKeys) if (typeof key === 'string') keys.push(key);
  return keys;
}

/**
 * The change an EventBridge event announces, or undefined when it is not one of the events above
 * (a scheduled event, a manual payload, an event of another kind).
 * @example changeEventOf({ source: 'aws.ssm', 'detail-type': 'Parameter Store Change', time: '2026-03-04T05:00:00Z', detail: { name: '/eks/prod/auth', operation: 'Update' } })
 * // { kind: 'ssm', time: 1772600400000, name: '/eks/prod/auth', operation: 'Update' }
 */
export function changeEventOf(event: unknown): ChangeEvent | undefined {
  if (!isRecord(event) || !isRecord(event['detail'])) return undefined;
  const detail = event['detail'];
  const timeText = stringField(event, 'time');
  const time = timeText === undefined ? NaN : Date.parse(timeText);
  if (!Number.isFinite(time)) return undefined;
  const source = event['source'];
  const detailType = event['detail-type'];
  if (source === 'aws.ssm' && detailType === PARAMETER_STORE_DETAIL_TYPE) {
    const name = stringField(detail, 'name');
    const operation = stringField(detail, 'operation');
    return name === undefined || operation === undefined ? undefined : { kind: 'ssm', time, name, operation };
  }
  if (detailType !== CLOUDTRAIL_DETAIL_TYPE) return undefined;
  const eventName = stringField(detail, 'eventName');
  // CloudTrail records refused calls too; they changed nothing.
  const failed = detail['errorCode'] !== undefined;
  const parameters = isRecord(detail['requestParameters']) ? detail['requestParameters'] : {};
  if (source === 'aws.iam' && stringField(detail, 'eventSource') === 'iam.amazonaws.com') {
    if (!(IAM_EVENT_NAMES as readonly (string | undefined)[]).includes(eventName)) return undefined;
    const change: ChangeEvent = { kind: 'iam', time, eventName: eventName as IamEventName, failed, tagKeys: tagKeysOf(parameters) };
    for (const key of ['roleName', 'userName', 'groupName'] as const) {
      const value = stringField(parameters, key);
      if (value !== undefined) change[key] = value;
    }
    return change;
  }
  if (source === 'aws.sso' && stringField(detail, 'eventSource') === 'sso.amazonaws.com') {
    if (!(IDENTITY_CENTER_EVENT_NAMES as readonly (string | undefined)[]).includes(eventName)) return undefined;
    const accountId = stringField(parameters, 'targetId');
    return { kind: 'identityCenter', time, eventName: eventName as IdentityCenterEventName, failed, ...(accountId === undefined ? {} : { accountId }) };
  }
  return undefined;
}

type IamScanner = Extract<ScannerConfig, { type: 'iam' }>;

function iamScanners(config: Config): IamScanner[] {
  return config.scanners.filter((s): s is IamScanner => s.type === 'iam');
}

/**
 * The tag key prefixes this config's iam scanners read, as patterns: `eks/<account>/<cluster>/`,
 * any 12-digit account when the config does not name it (the scanner then asks STS, which the
 * event cannot).
 */
function tagPrefixPatterns(scanners: IamScanner[], config: Config): RegExp[] {
  const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return scanners.map((s) => {
    const account = s.iam.clusterAccountID ?? config.cluster.accountID;
    const cluster = s.iam.clusterName ?? config.cluster.name;
    return new RegExp(`^eks/${account === undefined ? '\\d{12}' : escape(account)}/${escape(cluster)}/`);
  });
}

/**
 * The IAM groups whose membership can change a mapping: those the iamGroups scanners map, in
 * lower case (IAM group names are case-insensitive). Tags never depend on group membership.
 */
export function relevantGroupNames(config: Config): ReadonlySet<string> {
  return new Set(config.scanners.flatMap((s) => (s.type === 'iamGroups' ? s.iamGroups.groups.map((g) => g.name.toLowerCase()) : [])));
}

/** The permission sets the identityCenter scanners map. */
function mappedPermissionSets(config: Config): ReadonlySet<string> {
  return new Set(config.scanners.flatMap((s) => (s.type === 'identityCenter' ? s.identityCenter.permissionSets.map((p) => p.name) : [])));
}

/** Whether a non-iam scanner's mappings may name an Identity Center role (AWSReservedSSO_…). */
function mayMapIdentityCenterRole(scanner: ScannerConfig): boolean {
  if (scanner.type === 'identityCenter') return true;
  if (scanner.type === 'static') return scanner.static.roles.some((r) => r.rolearn.includes('/AWSReservedSSO_'));
  // A file's or a parameter's content is not known without reading it.
  return scanner.type === 'file' || scanner.type === 'ssm';
}

/** Whether to run for `change`, and why: the reason is logged either way. */
export interface Relevance {
  relevant: boolean;
  reason: string;
}

/**
 * Whether `change` can alter what a run would write for `config`. Cheap and conservative: what
 * the event cannot tell (whether a deleted role carried a tag) counts as relevant.
 * @example relevance({ kind: 'ssm', time: 0, name: '/other', operation: 'Update' }, config).relevant // false
 */
export function relevance(change: ChangeEvent, config: Config): Relevance {
  switch (change.kind) {
    case 'ssm': {
      const what = `SSM parameter ${change.name} (${change.operation})`;
      if (!(PARAMETER_OPERATIONS as readonly string[]).includes(change.operation)) {
        return { relevant: false, reason: `${what}: a label does not change what the ssm scanner reads` };
      }
      const read = config.scanners.some((s) => s.type === 'ssm' && s.ssm.path === change.name);
      return read
        ? { relevant: true, reason: `${what} is a configured ssm scanner's parameter` }
        : { relevant: false, reason: `${what} is not a configured ssm scanner's parameter` };
    }
    case 'iam':
      return iamRelevance(change, config);
    case 'identityCenter': {
      const what = `Identity Center ${change.eventName}${change.accountId === undefined ? '' : ` in account ${change.accountId}`}`;
      if (change.failed) return { relevant: false, reason: `${what} failed, so nothing changed` };
      // Provisioned again, a permission set's role gets a new suffix: the ARN every target holds changes.
      if (mappedPermissionSets(config).size > 0) {
        return { relevant: true, reason: `${what} may create or remove the role of a permission set an identityCenter scanner maps` };
      }
      if (config.sync.target === 'configMap') {
        return { relevant: false, reason: `${what}: an aws-auth entry does not depend on its role existing, and sync.target is configMap` };
      }
      const account = config.cluster.accountID;
      if (account !== undefined && change.accountId !== undefined && change.accountId !== account) {
        return { relevant: false, reason: `${what}: not the cluster's account ${account}` };
      }
      return config.scanners.some(mayMapIdentityCenterRole)
        ? { relevant: true, reason: `${what} creates or removes an AWSReservedSSO_ role a source may map, and an access entry needs its role to exist` }
        : { relevant: false, reason: `${what}: no source maps an Identity Center role` };
    }
  }
}

function iamRelevance(change: Extract<ChangeEvent, { kind: 'iam' }>, config: Config): Relevance {
  const subject = change.roleName !== undefined ? `role ${change.roleName}` : change.userName !== undefined ? `user ${change.userName}` : 'an identity';
  const what = `IAM ${change.eventName} on ${change.eventName.endsWith('ToGroup') || change.eventName.endsWith('FromGroup') ? `group ${change.groupName ?? '?'}` : subject}`;
  if (change.failed) return { relevant: false, reason: `${what} failed, so nothing changed` };
  const kind = change.eventName.endsWith('Role') ? 'role' : 'user';
  const scanners = iamScanners(config).filter((s) => (kind === 'role' ? !s.iam.disableRoleScan : !s.iam.disableUserScan));
  if (change.eventName === 'AddUserToGroup' || change.eventName === 'RemoveUserFromGroup') {
    const read = change.groupName !== undefined && relevantGroupNames(config).has(change.groupName.toLowerCase());
    return read
      ? { relevant: true, reason: `${what}: an iamGroups scanner maps this group` }
      : { relevant: false, reason: `${what}: no iamGroups scanner maps this group` };
  }
  const permissionSet = change.roleName === undefined ? undefined : permissionSetOf({ name: change.roleName, path: SSO_ROLE_PATH });
  if ((change.eventName === 'CreateRole' || change.eventName === 'DeleteRole') && permissionSet !== undefined && mappedPermissionSets(config).has(permissionSet)) {
    return { relevant: true, reason: `${what}: the role of permission set ${permissionSet}, which an identityCenter scanner maps` };
  }
  if (scanners.length === 0) return { relevant: false, reason: `${what}: no iam scanner reads ${kind}s` };
  if (change.eventName === 'DeleteRole' || change.eventName === 'DeleteUser') {
    return { relevant: true, reason: `${what}: the event does not say whether it carried a mapping tag` };
  }
  const patterns = tagPrefixPatterns(scanners, config);
  const touched = change.tagKeys.find((key) => patterns.some((p) => p.test(key)));
  return touched === undefined
    ? { relevant: false, reason: `${what}: no tag key an iam scanner reads (${change.tagKeys.length} tag key(s) touched)` }
    : { relevant: true, reason: `${what}: tag ${touched} is read by an iam scanner` };
}

/**
 * How long after an event's time a run waits before reading, so that a burst of writes (a
 * Terraform apply tagging ten roles) lands in one run and IAM, which is eventually consistent,
 * shows the change to the read. EventBridge's `time` has whole seconds; one more second covers
 * the fraction it drops.
 */
export const SETTLE_MS = 10_000;
const TIME_GRANULARITY_MS = 1_000;

/** The earliest a read can be sure to see the change `change` announces. */
export function settledAt(change: ChangeEvent): number {
  return change.time + TIME_GRANULARITY_MS + SETTLE_MS;
}

/** What a run that ended without an error did: when it started reading, and whether it could commit. */
export interface CompletedRun {
  readStarted: number;
  commit: boolean;
}

/**
 * The coalescing rule, in two parts.
 *
 * 1. Superseded: a successful run that started reading after an event had settled saw its effect
 *    (a run reconciles everything), so the event needs no run of its own. It is skipped when the
 *    last successful run (committing, if the event's run would commit) started reading at or after
 *    {@link settledAt}. A failed run records nothing, so its events still run.
 * 2. Spaced: an event's run starts reading no sooner than {@link SETTLE_MS} after the previous
 *    event-triggered run started reading, so a burst of any length makes at most one run per
 *    settle period, each covering every event that settled before it, instead of one per event.
 *
 * Kept per container: with reserved concurrency 1, Lambda queues a burst's invokes for the one
 * warm container; a cold container knows no run and runs once more, which is safe.
 */
export class RunLedger {
  /** When the last successful run of either kind, and the last committing one, started reading. */
  private lastRead = { any: -Infinity, commit: -Infinity };
  /** When the last event-triggered run started reading, successful or not. */
  private lastEventRead = -Infinity;

  /** Records that an event-triggered run starts reading at `readStarted`. */
  eventRunStarted(readStarted: number): void {
    this.lastEventRead = Math.max(this.lastEventRead, readStarted);
  }

  /** Records a run that ended without an error. */
  completed(run: CompletedRun): void {
    this.lastRead.any = Math.max(this.lastRead.any, run.readStarted);
    if (run.commit) this.lastRead.commit = Math.max(this.lastRead.commit, run.readStarted);
  }

  /** Why `change` needs no run of its own, or undefined when it does; `commit` says whether its run would commit. */
  supersededReason(change: ChangeEvent, commit: boolean): string | undefined {
    const readStarted = commit ? this.lastRead.commit : this.lastRead.any;
    if (readStarted < settledAt(change)) return undefined;
    return `a run that started reading at ${new Date(readStarted).toISOString()}, after the event of ${new Date(change.time).toISOString()} had settled, already saw it`;
  }

  /** The earliest `change`'s run may start reading: once it has settled, and one settle period after the last event run. */
  readAt(change: ChangeEvent): number {
    return Math.max(settledAt(change), this.lastEventRead + SETTLE_MS);
  }
}

/** What the handler does with a change event. */
export type EventDecision = { run: false; reason: string } | { run: true; reason: string; readAt: number };

/**
 * Decides whether `change` runs, and from when its run may read: irrelevant or superseded events
 * are skipped with the reason; a relevant one runs once it has settled.
 * @param commit whether the event's run would commit (not under DRY_RUN_ONLY).
 */
export function decide(change: ChangeEvent, config: Config | readonly Config[], ledger: RunLedger, commit: boolean): EventDecision {
  // A fleet (one Config per cluster) runs when the change can alter any cluster's mappings.
  const configs: readonly Config[] = Array.isArray(config) ? config : [config as Config];
  const judgements = configs.map((c) => ({ cluster: c.cluster.name, ...relevance(change, c) }));
  const hit = judgements.find((j) => j.relevant);
  const named = (j: { cluster: string; reason: string }): string => (configs.length > 1 ? `cluster ${j.cluster}: ${j.reason}` : j.reason);
  const judged = hit === undefined
    ? { relevant: false, reason: judgements.map(named).join('; ') }
    : { relevant: true, reason: named(hit) };
  if (!judged.relevant) return { run: false, reason: judged.reason };
  const superseded = ledger.supersededReason(change, commit);
  if (superseded !== undefined) return { run: false, reason: `${judged.reason}, but ${superseded}` };
  return { run: true, reason: judged.reason, readAt: ledger.readAt(change) };
}
