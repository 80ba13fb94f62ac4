/**
 * `npm run demo`: the whole flow on this machine, no AWS account. Starts the stand-ins (IAM,
 * STS, SSM, EKS and a Kubernetes API, all on 127.0.0.1) with the demo account, builds the
 * Lambda bundle `cdk deploy` would upload, and invokes it three times as Lambda would: a manual
 * dry run, a scheduled run that commits, and a second scheduled run that has nothing to do. Then
 * the cluster switches to authentication mode API and the same three runs sync access entries.
 * Exits non-zero if any step does not behave as described.
 */
import type { HandlerResponse } from '../lambda/handler.js';
import { OWNED_TAG } from '../lambda/targets/access-entries/index.js';
import type { PlannedEntry } from '../lambda/targets/awsauth/index.js';
import { buildBundle, invokeBundle, type Bundle, type Invocation } from '../test/support/bundle.js';
import { DEMO_CONFIG, startEnvironment, type Environment } from '../test/support/environment.js';
import { SCHEDULED_EVENT } from '../test/support/events.js';

/** What EventBridge sends on a schedule, from the demo's account at the time of the run. */
function scheduledEvent(accountId: string): Record<string, unknown> {
  return { ...SCHEDULED_EVENT, account: accountId, time: new Date().toISOString() };
}

/** A step that did not do what the demo promises. */
class DemoStepError extends Error {
  override name = 'DemoStepError';
}

function expectThat(condition: boolean, what: string): void {
  if (!condition) throw new DemoStepError(what);
}

const print = (line = ''): void => void process.stdout.write(`${line}\n`);
const heading = (title: string): void => print(`\n== ${title} ==`);

function entryLine(sign: string, e: PlannedEntry): string {
  const groups = e.groups.length ? ` groups [${e.groups.join(', ')}]` : '';
  return `  ${sign} ${e.kind} ${e.arn}\n      as ${e.username}${groups}   (from ${e.source})`;
}

function printChange(response: HandlerResponse): void {
  const { change } = response;
  if (!change) return print('  (the cluster was not reached)');
  for (const e of change.added) print(entryLine('+', e));
  for (const e of change.removed) print(entryLine('-', e));
  for (const e of change.adopted) print(entryLine('=', e));
  for (const { before, after } of change.changed) {
    print(entryLine('~', after));
    print(`      was ${before.username}${before.groups.length ? ` groups [${before.groups.join(', ')}]` : ''}`);
  }
  print(`  ${change.added.length} to add, ${change.removed.length} to remove, ${change.changed.length} to change; ` +
    `${change.unchanged} already in place; ${change.keptForeign} entries eks-auth-sync does not manage kept as they are`);
  for (const w of response.warnings) print(`  warning  ${w.source}${w.subject ? ` ${w.subject}` : ''}: ${w.message}`);
}

function printAccessEntrySteps(response: HandlerResponse): void {
  const ae = response.accessEntries;
  if (!ae) return print('  (no access-entries plan)');
  for (const step of ae.steps) {
    const what = step.action === 'create' ? `${step.type} as ${step.username ?? '(EKS default username)'}${step.kubernetesGroups.length ? ` groups [${step.kubernetesGroups.join(', ')}]` : ''}`
      : step.action === 'associate' || step.action === 'disassociate' ? step.policyArn.split('/').pop() ?? step.policyArn
        : step.action === 'update' ? `as ${step.username} groups [${step.kubernetesGroups.join(', ')}]` : step.reason;
    print(`  ${step.action} ${step.principalArn}\n      ${what}   (from ${step.source})`);
  }
  print(`  ${ae.steps.length} steps; ${ae.unchanged} entries already in place; ${ae.keptForeign} entries eks-auth-sync does not own kept as they are`);
}

/**
 * The demo account's sources: {@link DEMO_CONFIG}'s tags and SSM parameter, then two IAM groups
 * (alice and bob are also tagged, and the tags, listed first, win: the warnings say so) and an
 * Identity Center permission set, whose role is found by name.
 */
const CONFIG = {
  ...DEMO_CONFIG,
  scanners: [
    ...DEMO_CONFIG.scanners,
    {
      type: 'iamGroups', name: 'iam-groups',
      iamGroups: { groups: [{ name: 'oncall', username: 'oncall:{{UserName}}', groups: ['oncall'] }, { name: 'developers', groups: ['developers'] }] },
    },
    { type: 'identityCenter', name: 'identity-center', identityCenter: { permissionSets: [{ name: 'ReadOnlyAccess', groups: ['viewers'] }] } },
  ],
};

async function invoke(bundle: Bundle, world: Environment, event: unknown): Promise<HandlerResponse> {
  const outcome: Invocation = await invokeBundle(bundle, event, { env: world.env() });
  if (outcome.error) throw new DemoStepError(`the handler failed: ${outcome.error.name}: ${outcome.error.message}`);
  return outcome.result as HandlerResponse;
}

async function main(): Promise<void> {
  print('eks-auth-sync demo: the deployed Lambda bundle against local stand-ins (no AWS account)');
  const world = await startEnvironment();
  let bundle: Bundle | undefined;
  try {
    const { dataset } = world.aws;
    print(`Stand-ins on 127.0.0.1: IAM, STS, SSM, EKS (SigV4 checked) and the Kubernetes API at ${world.kube.url}`);
    print(`Account ${world.accountId}, cluster ${world.clusterName} (${dataset.region}): ` +
      `${dataset.account.roles.length} IAM roles, ${dataset.account.users.length} users, SSM parameter /eks/demo/auth`);
    print('aws-auth before: the EKS node group role, eks-auth-sync\'s own role, a hand-added admin, mapAccounts');

    print('\nBuilding the Lambda bundle as `cdk deploy` would (CDK synth + esbuild)...');
    bundle = buildBundle({ config: CONFIG });
    print(`  index.mjs ${(bundle.sizeBytes / 1024).toFixed(0)} KB; config: iam tags (scanner iam-tags) + SSM /eks/demo/auth (ssm-param) ` +
      '+ IAM groups developers and oncall (iam-groups) + permission set ReadOnlyAccess (identity-center)');

    heading('1. Manual dry run: invoke {"dryRun": true}');
    const writesBefore = world.kube.writes;
    const dry = await invoke(bundle, world, { dryRun: true });
    printChange(dry);
    print(`  aws-auth writes: ${writesBefore} -> ${world.kube.writes} (a dry run never writes)`);
    expectThat(dry.dryRun && !dry.committed, 'the manual invoke was not a dry run');
    expectThat(world.kube.writes === writesBefore, 'the dry run wrote aws-auth');
    expectThat((dry.change?.added.length ?? 0) > 0, 'the dry run planned no additions for the demo account');
    expectThat(dry.warnings.some((w) => /system:masters/.test(w.message)), 'the tag asking for system:masters was not refused with a warning');
    expectThat(dry.change?.added.some((e) => e.source === 'iam-groups: oncall') === true, 'no entry from the IAM group oncall');
    expectThat(dry.change?.added.some((e) => e.source === 'identity-center: ReadOnlyAccess' && !e.arn.includes('aws-reserved')) === true,
      'no path-less entry from the permission set ReadOnlyAccess');

    heading('2. Scheduled run (EventBridge): commits');
    const scheduled = await invoke(bundle, world, scheduledEvent(world.accountId));
    const writesAfterCommit = world.kube.writes;
    expectThat(scheduled.committed, 'the scheduled run did not write aws-auth');
    expectThat(writesAfterCommit === writesBefore + 1, `the scheduled run wrote aws-auth ${writesAfterCommit - writesBefore} times, expected once`);
    const c = scheduled.change;
    print(`  Wrote kube-system/aws-auth: ${c?.added.length ?? 0} added, ${c?.removed.length ?? 0} removed, ${c?.changed.length ?? 0} changed`);
    for (const e of c?.added ?? []) print(`  + ${e.kind} ${e.arn} as ${e.username} (from ${e.source})`);
    print(`  aws-auth writes: ${writesBefore} -> ${writesAfterCommit}`);

    heading('3. Scheduled run again: nothing changed at the sources');
    const again = await invoke(bundle, world, scheduledEvent(world.accountId));
    const nothing = again.change !== null && again.change.added.length + again.change.removed.length + again.change.changed.length === 0;
    print(`  ${nothing ? 'No change' : 'UNEXPECTED change'}; committed: ${again.committed}; ` +
      `${again.change?.unchanged ?? 0} entries already in place`);
    print(`  aws-auth writes: ${writesAfterCommit} -> ${world.kube.writes} (no write when nothing changes)`);
    expectThat(nothing && !again.committed, 'the second scheduled run planned or made a change');
    expectThat(world.kube.writes === writesAfterCommit, 'the second scheduled run wrote aws-auth');

    heading('Final aws-auth (kube-system/aws-auth)');
    const live = world.awsAuth();
    expectThat(live?.data !== undefined, 'aws-auth is gone');
    for (const [key, value] of Object.entries(live?.data ?? {})) {
      print(`${key}: |`);
      for (const line of value.trimEnd().split('\n')) print(`  ${line}`);
    }
    const roles = live?.data?.['mapRoles'] ?? '';
    expectThat(roles.includes('role/hand-added-admin') && roles.includes('role/eks-managed-nodegroup-NodeInstanceRole'),
      'the hand-added admin or the EKS node role is no longer in aws-auth');

    heading('4. The cluster switches to authentication mode API: the same sources, synced as EKS access entries');
    world.setAuthenticationMode('API');
    const kubeRequests = world.kube.log.length;
    const aeDry = await invoke(bundle, world, { dryRun: true });
    print(`  target: ${aeDry.target?.targets.join(' + ') ?? '?'} (${aeDry.target?.reason ?? 'no reason given'})`);
    printAccessEntrySteps(aeDry);
    expectThat(aeDry.target?.targets.join() === 'accessEntries', 'auto did not choose access entries on an API cluster');
    expectThat((aeDry.accessEntries?.steps.length ?? 0) > 0 && (aeDry.accessEntries?.applied ?? 0) === 0, 'the dry run planned no access entries, or applied some');
    const aeCommit = await invoke(bundle, world, scheduledEvent(world.accountId));
    const owned = world.aws.eks.accessEntries(world.clusterName).filter((e) => e.tags[OWNED_TAG.key] === OWNED_TAG.value);
    print(`  Scheduled run: ${aeCommit.accessEntries?.applied ?? 0} steps applied over the EKS API; ` +
      `${owned.length} access entries now carry ${OWNED_TAG.key}=${OWNED_TAG.value}`);
    expectThat(aeCommit.committed && owned.length > 0, 'the scheduled run created no access entries');
    const refused = aeCommit.warnings.filter((w) => /EKS refused this principal/.test(w.message));
    for (const w of refused) print(`  warning  ${w.subject ?? ''}: ${w.message}`);
    expectThat(refused.some((w) => w.subject?.endsWith(':user/contractors/mallory') === true),
      'the SSM entry for a user IAM does not have (mallory) was not reported as refused by EKS');
    const aeAgain = await invoke(bundle, world, scheduledEvent(world.accountId));
    print(`  Scheduled run again: ${aeAgain.accessEntries?.applied ?? 0} steps applied; the only step planned is the create EKS refuses ` +
      `(${aeAgain.accessEntries?.steps.length ?? 0}), tried again on every run until the source drops it`);
    expectThat(aeAgain.accessEntries?.applied === 0 && aeAgain.accessEntries.steps.length === refused.length,
      'the second access-entries run changed something');
    print(`  Kubernetes API requests during these three runs: ${world.kube.log.length - kubeRequests} (access entries need only the EKS API)`);
    expectThat(world.kube.log.length === kubeRequests, 'the access-entries target reached the Kubernetes API');
  } finally {
    bundle?.dispose();
    await world.close();
  }
  print('\nDemo complete; the stand-ins are stopped.');
}

try {
  await main();
} catch (error) {
  process.stderr.write(`\nDEMO FAILED: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exitCode = 1;
}
