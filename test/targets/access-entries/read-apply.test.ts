import {
  AssociateAccessPolicyCommand, CreateAccessEntryCommand, DeleteAccessEntryCommand, DescribeAccessEntryCommand,
  DisassociateAccessPolicyCommand, EKSClient, InvalidParameterException, InvalidRequestException, ListAccessEntriesCommand, ListAssociatedAccessPoliciesCommand,
  ResourceNotFoundException, UpdateAccessEntryCommand,
} from '@aws-sdk/client-eks';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DeadlineError, EksAuthSyncError } from '../../../lambda/errors.js';
import type { Warning } from '../../../lambda/mappings.js';
import { applyAccessEntriesPlan } from '../../../lambda/targets/access-entries/apply.js';
import { OWNED_TAG, planAccessEntries, type Step } from '../../../lambda/targets/access-entries/plan.js';
import { readAccessEntries } from '../../../lambda/targets/access-entries/read.js';
import type { DesiredAccessEntry, PrincipalArn } from '../../../lambda/targets/access-entries/translate.js';

const CLUSTER = 'prod';
const ACCT = '111122223333';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const arn = (name: string): PrincipalArn => `arn:aws:iam::${ACCT}:role/team/${name}` as PrincipalArn;
const OWNED = { [OWNED_TAG.key]: OWNED_TAG.value };
const notFound = () => new ResourceNotFoundException({ message: 'The specified access entry resource is not found.', $metadata: {} });

const eksMock = mockClient(EKSClient);
const eks = new EKSClient({ region: 'eu-west-1' });
afterAll(() => eksMock.restore());
beforeEach(() => eksMock.reset());

/** The calls made, as `Command principal [policy]`, in order. */
function calls(): string[] {
  return eksMock.calls().map((c) => {
    const input = c.args[0].input as { principalArn?: string; policyArn?: string };
    const name = c.args[0].constructor.name.replace(/Command$/, '');
    return [name, input.principalArn?.split('/').pop(), input.policyArn?.split('/').pop()].filter((x) => x !== undefined).join(' ');
  });
}

describe('readAccessEntries', () => {
  it('lists every page, describes each entry, and reads policies only for the entries eks-auth-sync owns', async () => {
    eksMock.on(ListAccessEntriesCommand, { clusterName: CLUSTER, nextToken: undefined }).resolves({ accessEntries: [arn('mine'), arn('creator')], nextToken: 't1' });
    eksMock.on(ListAccessEntriesCommand, { clusterName: CLUSTER, nextToken: 't1' }).resolves({ accessEntries: [arn('raced')] });
    eksMock.on(DescribeAccessEntryCommand, { principalArn: arn('mine') }).resolves({
      accessEntry: { principalArn: arn('mine'), type: 'STANDARD', username: 'mine', kubernetesGroups: ['devs'], tags: OWNED },
    });
    eksMock.on(DescribeAccessEntryCommand, { principalArn: arn('creator') }).resolves({
      accessEntry: { principalArn: arn('creator'), type: 'STANDARD', username: 'admin', kubernetesGroups: [], tags: {} },
    });
    // Deleted between the list and the describe.
    eksMock.on(DescribeAccessEntryCommand, { principalArn: arn('raced') }).rejects(notFound());
    eksMock.on(ListAssociatedAccessPoliciesCommand, { principalArn: arn('mine'), nextToken: undefined }).resolves({
      associatedAccessPolicies: [{ policyArn: VIEW, accessScope: { type: 'namespace', namespaces: ['prod', 'dev'] } }], nextToken: 'p1',
    });
    eksMock.on(ListAssociatedAccessPoliciesCommand, { principalArn: arn('mine'), nextToken: 'p1' }).resolves({
      associatedAccessPolicies: [{ policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy', accessScope: { type: 'cluster', namespaces: [] } }],
    });

    const live = await readAccessEntries(eks, CLUSTER);
    expect(live).toEqual([
      {
        principalArn: arn('mine'), type: 'STANDARD', username: 'mine', kubernetesGroups: ['devs'], tags: OWNED,
        policies: [
          { policyArn: VIEW, scope: { type: 'namespace', namespaces: ['dev', 'prod'] } },
          { policyArn: 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy', scope: { type: 'cluster' } },
        ],
      },
      { principalArn: arn('creator'), type: 'STANDARD', username: 'admin', kubernetesGroups: [], tags: {} },
    ]);
    expect(eksMock.commandCalls(ListAccessEntriesCommand)).toHaveLength(2);
    expect(eksMock.commandCalls(ListAssociatedAccessPoliciesCommand).map((c) => c.args[0].input.principalArn)).toEqual([arn('mine'), arn('mine')]);
  });

  it('names the cluster and says what to change when the cluster does not use access entries', async () => {
    eksMock.on(ListAccessEntriesCommand).rejects(new InvalidRequestException({
      message: 'The cluster\'s authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.', $metadata: {},
    }));
    const err = await readAccessEntries(eks, CLUSTER).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EksAuthSyncError);
    expect((err as Error).message).toMatch(/eks:ListAccessEntries on cluster prod failed .*authentication mode must be API_AND_CONFIG_MAP or API/);
  });
});

describe('applyAccessEntriesPlan', () => {
  const noWait = { clusterName: CLUSTER, sleep: () => Promise.resolve() };
  const desired = (name: string, over: Partial<DesiredAccessEntry> = {}): DesiredAccessEntry => (
    { principalArn: arn(name), type: 'STANDARD', username: name, kubernetesGroups: ['devs'], policies: [], source: 'static', why: [], ...over }
  );

  it('makes no call for a plan with nothing to change', async () => {
    const plan = planAccessEntries({
      desired: [desired('a')],
      live: [{ principalArn: arn('a'), type: 'STANDARD', username: 'a', kubernetesGroups: ['devs'], tags: OWNED, policies: [] }],
      settings: { maxRemovals: 5, allowEmpty: false },
    });
    expect(await applyAccessEntriesPlan(eks, plan, noWait)).toBe(0);
    expect(eksMock.calls()).toEqual([]);
  });

  it('starts no step once the run\'s deadline has passed, and says how many were applied', async () => {
    eksMock.onAnyCommand().resolves({});
    const plan = planAccessEntries({ desired: [desired('a'), desired('b')], live: [], settings: { maxRemovals: 5, allowEmpty: false } });
    let now = new Date('2026-01-01T00:00:00Z');
    const deadline = new Date('2026-01-01T00:00:10Z');
    // The first step takes the run past its deadline.
    eksMock.on(CreateAccessEntryCommand).callsFake(() => {
      now = new Date('2026-01-01T00:00:11Z');
      return {};
    });
    const applying = applyAccessEntriesPlan(eks, plan, { ...noWait, deadline, clock: () => now });
    await expect(applying).rejects.toThrow(DeadlineError);
    await expect(applying).rejects.toThrow(/stopped before create .*b, .*1 of 2 steps were applied \(grants first\), and the next run does the rest/);
    expect(calls()).toEqual(['CreateAccessEntry a']);
  });

  it('makes the plan\'s calls in its order, tagging what it creates as its own', async () => {
    eksMock.onAnyCommand().resolves({});
    const plan = planAccessEntries({
      desired: [
        desired('new', { policies: [{ policyArn: VIEW, scope: { type: 'namespace', namespaces: ['dev'] } }] }),
        desired('changed', { kubernetesGroups: ['ops'] }),
        desired('node', { type: 'EC2_LINUX', kubernetesGroups: [] }),
      ],
      live: [
        { principalArn: arn('changed'), type: 'STANDARD', username: 'changed', kubernetesGroups: ['devs'], tags: OWNED, policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] },
        { principalArn: arn('gone'), type: 'STANDARD', username: 'gone', kubernetesGroups: [], tags: OWNED, policies: [] },
      ],
      settings: { maxRemovals: 5, allowEmpty: false },
    });
    expect(await applyAccessEntriesPlan(eks, plan, noWait)).toBe(plan.steps.length);
    expect(calls()).toEqual([
      'CreateAccessEntry new', 'AssociateAccessPolicy new AmazonEKSViewPolicy', 'CreateAccessEntry node',
      'UpdateAccessEntry changed', 'DisassociateAccessPolicy changed AmazonEKSViewPolicy', 'DeleteAccessEntry gone',
    ]);
    expect(eksMock.commandCalls(CreateAccessEntryCommand)[0]?.args[0].input).toMatchObject({
      clusterName: CLUSTER, type: 'STANDARD', username: 'new', kubernetesGroups: ['devs'], tags: OWNED,
    });
    const nodeCreate = eksMock.commandCalls(CreateAccessEntryCommand)[1]?.args[0].input;
    expect(nodeCreate).toMatchObject({ type: 'EC2_LINUX', tags: OWNED });
    expect(nodeCreate).not.toHaveProperty('kubernetesGroups');
    expect(nodeCreate).not.toHaveProperty('username');
    expect(eksMock.commandCalls(AssociateAccessPolicyCommand)[0]?.args[0].input.accessScope).toEqual({ type: 'namespace', namespaces: ['dev'] });
    expect(eksMock.commandCalls(UpdateAccessEntryCommand)[0]?.args[0].input).toMatchObject({ username: 'changed', kubernetesGroups: ['ops'] });
  });

  const create: Step = { action: 'create', principalArn: arn('new'), type: 'STANDARD', kubernetesGroups: [], source: 'static', why: [] };
  const associate: Step = { action: 'associate', principalArn: arn('new'), policyArn: VIEW, scope: { type: 'cluster' }, source: 'static' };

  it('retries a step on a just-created entry that EKS does not see yet, waiting between tries, and reports no failure', async () => {
    eksMock.on(CreateAccessEntryCommand).resolves({});
    eksMock.on(AssociateAccessPolicyCommand).rejectsOnce(notFound()).rejectsOnce(notFound()).resolves({});
    const waits: number[] = [];
    const n = await applyAccessEntriesPlan(eks, { steps: [create, associate] }, {
      clusterName: CLUSTER, notFoundRetry: { attempts: 3, delayMs: 700 }, sleep: (ms) => { waits.push(ms); return Promise.resolve(); },
    });
    expect(n).toBe(2);
    expect(waits).toEqual([700, 700]);
    expect(eksMock.commandCalls(AssociateAccessPolicyCommand)).toHaveLength(3);
  });

  it('stops after the bounded retries, naming the step and how far it got', async () => {
    eksMock.on(CreateAccessEntryCommand).resolves({});
    eksMock.on(AssociateAccessPolicyCommand).rejects(notFound());
    const err = await applyAccessEntriesPlan(eks, { steps: [create, associate] }, { ...noWait, notFoundRetry: { attempts: 2, delayMs: 1 } }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/cluster prod: associate arn:aws:iam::111122223333:role\/team\/new .*AmazonEKSViewPolicy failed \(ResourceNotFoundException.*after 1 of 2 steps/);
    expect(eksMock.commandCalls(AssociateAccessPolicyCommand)).toHaveLength(2);
  });

  it('skips a principal EKS refuses on create (a leaver still in a source), reports it, and applies the rest, revocations included', async () => {
    const invalid = new InvalidParameterException({ message: 'The specified principalArn is invalid: invalid principal.', $metadata: {} });
    eksMock.on(CreateAccessEntryCommand, { principalArn: arn('new') }).rejects(invalid);
    eksMock.onAnyCommand().resolves({});
    eksMock.on(CreateAccessEntryCommand, { principalArn: arn('new') }).rejects(invalid);
    const other: Step = { ...create, principalArn: arn('other') };
    const remove: Step = { action: 'delete', principalArn: arn('gone'), type: 'STANDARD', reason: 'not desired', source: 'static' };
    const warnings: Warning[] = [];
    const n = await applyAccessEntriesPlan(eks, { steps: [create, associate, other, remove] }, { ...noWait, warnings });
    expect(n).toBe(2);
    expect(calls()).toEqual(['CreateAccessEntry new', 'CreateAccessEntry other', 'DeleteAccessEntry gone']);
    expect(warnings).toEqual([expect.objectContaining({ subject: arn('new'), message: expect.stringMatching(/EKS refused this principal .*does not exist.*rest of the plan was applied/) })]);
  });

  it('fails on any other refusal of a create, naming the step', async () => {
    eksMock.on(CreateAccessEntryCommand).rejects(new InvalidParameterException({ message: 'The kubernetes group name system:masters is invalid', $metadata: {} }));
    await expect(applyAccessEntriesPlan(eks, { steps: [create] }, noWait)).rejects.toThrow(/create .*new failed \(InvalidParameterException/);
  });

  it('does not retry NotFound on an entry it did not just create', async () => {
    eksMock.on(UpdateAccessEntryCommand).rejects(notFound());
    const update: Step = { action: 'update', principalArn: arn('x'), username: 'x', kubernetesGroups: [], before: { username: 'y', kubernetesGroups: [] }, source: 'static', why: [] };
    await expect(applyAccessEntriesPlan(eks, { steps: [update] }, noWait)).rejects.toThrow(/update .*x failed/);
    expect(eksMock.commandCalls(UpdateAccessEntryCommand)).toHaveLength(1);
  });

  it('counts a delete or disassociation that finds nothing as done, so a repeated run is harmless', async () => {
    eksMock.on(DeleteAccessEntryCommand).rejects(notFound());
    eksMock.on(DisassociateAccessPolicyCommand).rejects(notFound());
    const steps: Step[] = [
      { action: 'disassociate', principalArn: arn('a'), policyArn: VIEW, source: 'static' },
      { action: 'delete', principalArn: arn('b'), type: 'STANDARD', reason: 'not desired', source: 'static' },
    ];
    expect(await applyAccessEntriesPlan(eks, { steps }, noWait)).toBe(2);
  });
});
