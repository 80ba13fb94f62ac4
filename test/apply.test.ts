import { describe, expect, it } from 'vitest';
import { parseAwsAuth, syncAwsAuth, type AwsAuthStore } from '../lambda/targets/awsauth/index.js';
import type { ConfigMap } from '../lambda/configmap.js';
import { ConflictRetriesExhaustedError, EmptySourcesGuardError, KubeConflictError, KubeForbiddenError } from '../lambda/errors.js';
import type { DesiredState } from '../lambda/mappings.js';
import { MERGE_SETTINGS as SETTINGS, awsAuthMap, desiredState, nodeRoleEntry, role } from './support/awsauth-fixtures.js';
import { MemoryAwsAuthStore } from './support/memory-store.js';

const NODE_ENTRY = nodeRoleEntry(role('eks-node'));

/** Each name's role, mapped to the username `name` in group team, from the iam scanner. */
function desired(...names: string[]): DesiredState {
  return desiredState(names.map((n) => [role(n), n, ['team'], 'iam']));
}

const awsAuth = (mapRoles: string): ConfigMap => awsAuthMap({ mapRoles });

const roleArns = (cm: ConfigMap | null) => parseAwsAuth(cm).roles.map((e) => e.arn);

/** A colleague appending an entry with kubectl edit. */
const addForeign = (store: MemoryAwsAuthStore, name: string) => () =>
  store.edit((cm) => {
    cm.data = { ...cm.data, mapRoles: `${cm.data?.mapRoles ?? ''}- rolearn: ${role(name)}\n  username: ${name}\n` };
  });

describe('syncAwsAuth', () => {
  it('creates aws-auth when it does not exist', async () => {
    const store = new MemoryAwsAuthStore();
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result).toMatchObject({ committed: true, created: true, attempts: 1 });
    expect(roleArns(store.current)).toEqual([role('dev')]);
  });

  it('writes with the resourceVersion it read and keeps the node role', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result).toMatchObject({ committed: true, created: false, attempts: 1 });
    expect(store.current?.metadata.resourceVersion).toBe('2');
    expect(roleArns(store.current)).toEqual([role('eks-node'), role('dev')]);
  });

  it('only plans in a dry run, writing nothing', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: false });
    expect(result.committed).toBe(false);
    expect(result.plan.added.map((e) => e.arn)).toEqual([role('dev')]);
    expect(store.writeAttempts).toBe(0);
  });

  it('does not write at all when nothing changed', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    const again = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(again).toMatchObject({ committed: false, plan: { next: null, unchangedCount: 1 } });
    expect(store.writes).toHaveLength(1);
  });

  it('re-reads and re-plans when a colleague edits aws-auth between its read and its write, keeping both changes', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    store.raceNextWrite(addForeign(store, 'colleague'));
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result).toMatchObject({ committed: true, attempts: 2 });
    expect(roleArns(store.current)).toEqual([role('eks-node'), role('colleague'), role('dev')]);
  });

  it('merges into an aws-auth someone else created between its read and its create', async () => {
    const store = new MemoryAwsAuthStore();
    store.raceNextWrite(() => store.put(awsAuth(NODE_ENTRY)));
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result).toMatchObject({ committed: true, created: false, attempts: 2 });
    expect(roleArns(store.current)).toEqual([role('eks-node'), role('dev')]);
  });

  it('creates aws-auth again when it was deleted between its read and its write', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    store.raceNextWrite(() => store.delete());
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result).toMatchObject({ committed: true, created: true, attempts: 2 });
    expect(roleArns(store.current)).toEqual([role('dev')]);
  });

  it('reports a write whose answer was lost as committed, with its change, when the re-read finds it in place', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    // The PUT lands; the connection drops before the answer; the repeated PUT meets it as a 409.
    const lostReply: AwsAuthStore = {
      read: () => store.read(),
      create: (cm) => store.create(cm),
      replace: async (cm) => {
        await store.replace(cm);
        throw new KubeConflictError('Operation cannot be fulfilled on configmaps "aws-auth": the object has been modified');
      },
    };
    const result = await syncAwsAuth({ store: lostReply, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result).toMatchObject({ committed: true, created: false, attempts: 2, landedUnconfirmed: true });
    expect(result.plan.added.map((e) => e.arn)).toEqual([role('dev')]);
    expect(store.writes).toHaveLength(1);
    expect(roleArns(store.current)).toEqual([role('eks-node'), role('dev')]);
  });

  it('does not mistake a colleague\'s different change for its own landed write', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    store.raceNextWrite(addForeign(store, 'colleague'));
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true });
    expect(result.landedUnconfirmed).toBeUndefined();
    expect(result.plan.keptForeignCount).toBe(2);
    expect(store.writes).toHaveLength(1);
  });

  it('gives up after conflictRetries conflicts with a clear error, having written nothing', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    // A busy colleague beats every write: each race queues the next one.
    const raceEveryWrite = () => {
      addForeign(store, `busy${store.writeAttempts}`)();
      store.raceNextWrite(raceEveryWrite);
    };
    store.raceNextWrite(raceEveryWrite);
    const run = syncAwsAuth({ store, desired: desired('dev'), settings: { ...SETTINGS, conflictRetries: 2 }, commit: true });
    await expect(run).rejects.toThrow(ConflictRetriesExhaustedError);
    await expect(run).rejects.toThrow(/each of 3 write attempts.*nothing was written.*sync\.conflictRetries/);
    expect(store.writeAttempts).toBe(3);
    expect(store.writes).toEqual([]);
    expect(roleArns(store.current)).toEqual([role('eks-node'), role('busy1'), role('busy2'), role('busy3')]);
  });

  it('refuses a guarded plan without writing', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    await syncAwsAuth({ store, desired: desired('dev', 'deployer'), settings: SETTINGS, commit: true });
    const before = store.current;
    await expect(syncAwsAuth({ store, desired: desired(), settings: SETTINGS, commit: true })).rejects.toThrow(EmptySourcesGuardError);
    expect(store.current).toEqual(before);
  });

  it('keeps its own entry when the sources drop it: a dry run shows it and writes nothing, a commit applies the rest', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    await syncAwsAuth({ store, desired: desired('dev', 'deployer', 'leaver'), settings: SETTINGS, commit: true });
    const before = store.current;
    const self = { arn: 'arn:aws:sts::111122223333:assumed-role/deployer/s', canonicalArn: role('deployer') };
    const dry = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, self, commit: false });
    expect(dry.plan.selfEntryKept?.arn).toBe(role('deployer'));
    expect(dry.plan.removed.map((e) => e.arn)).toEqual([role('leaver')]);
    expect(store.current).toEqual(before);
    const result = await syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, self, commit: true });
    expect(result.committed).toBe(true);
    expect(roleArns(store.current)).toEqual([role('eks-node'), role('deployer'), role('dev')]);
  });

  it('stops before the write when beforeWrite throws (the Lambda deadline is near)', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    const deadline = () => {
      throw new Error('deadline');
    };
    await expect(syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true, beforeWrite: deadline })).rejects.toThrow('deadline');
    expect(store.writeAttempts).toBe(0);
  });

  it('passes on store errors other than conflicts without retrying', async () => {
    const store = new MemoryAwsAuthStore(awsAuth(NODE_ENTRY));
    store.raceNextWrite(() => {
      throw new KubeForbiddenError('forbidden');
    });
    await expect(syncAwsAuth({ store, desired: desired('dev'), settings: SETTINGS, commit: true })).rejects.toThrow(KubeForbiddenError);
    expect(store.writeAttempts).toBe(1);
  });
});
