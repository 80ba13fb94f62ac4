import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AccessEntryQuotaGuardError, EmptySourcesGuardError, MaxRemovalsGuardError } from '../../../lambda/errors.js';
import type { SelfIdentity } from '../../../lambda/guards.js';
import {
  MAX_ACCESS_ENTRIES, OWNED_TAG, SOURCE_NOT_MANAGED, SOURCE_PREVIOUSLY_SYNCED, defaultUsername, isOwned,
  planAccessEntries, type AccessEntrySettings, type LiveAccessEntry, type PlanInput, type Step,
} from '../../../lambda/targets/access-entries/plan.js';
import type { AccessEntryType, DesiredAccessEntry, DesiredPolicy, PrincipalArn } from '../../../lambda/targets/access-entries/translate.js';

const ACCT = '111122223333';
const VIEW = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy';
const EDIT = 'arn:aws:eks::aws:cluster-access-policy/AmazonEKSEditPolicy';
const OWNED = { [OWNED_TAG.key]: OWNED_TAG.value };
const SETTINGS: AccessEntrySettings = { maxRemovals: 10, allowEmpty: false };

const arn = (name: string): PrincipalArn => `arn:aws:iam::${ACCT}:role/team/${name}` as PrincipalArn;

function desired(name: string, over: Partial<DesiredAccessEntry> = {}): DesiredAccessEntry {
  return { principalArn: arn(name), type: 'STANDARD', username: name, kubernetesGroups: ['devs'], policies: [], source: 'static', why: [], ...over };
}

function live(name: string, over: Partial<LiveAccessEntry> = {}): LiveAccessEntry {
  return { principalArn: arn(name), type: 'STANDARD', username: name, kubernetesGroups: ['devs'], tags: OWNED, policies: [], ...over };
}

function plan(input: Partial<PlanInput>) {
  return planAccessEntries({ desired: [], live: [], settings: SETTINGS, ...input });
}

const brief = (steps: readonly Step[]) => steps.map((s) => `${s.action} ${s.principalArn.split('/').pop()}${'policyArn' in s ? ` ${s.policyArn.split('/').pop()}` : ''}`);

describe('planAccessEntries', () => {
  it('creates a missing entry with the ownership tag\'s owner recorded, and associates its policies after it', () => {
    const p = plan({ desired: [desired('a', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }], why: ['note'] })] });
    expect(brief(p.steps)).toEqual(['create a', 'associate a AmazonEKSViewPolicy']);
    expect(p.creates[0]).toMatchObject({ username: 'a', kubernetesGroups: ['devs'], source: 'static', why: ['note'] });
  });

  it('makes no step when the owned entries already are as desired', () => {
    const policies: DesiredPolicy[] = [{ policyArn: VIEW, scope: { type: 'namespace', namespaces: ['a', 'b'] } }];
    const p = plan({
      desired: [desired('a', { policies, kubernetesGroups: ['x', 'y'] })],
      live: [live('a', { policies: [{ policyArn: VIEW, scope: { type: 'namespace', namespaces: ['b', 'a'] } }], kubernetesGroups: ['y', 'x'] })],
    });
    expect(p.steps).toEqual([]);
    expect(p.unchanged).toEqual([{ principalArn: arn('a'), source: 'static' }]);
  });

  const changeCases: { name: string; d: DesiredAccessEntry; l: LiveAccessEntry; steps: string[]; check?: (p: ReturnType<typeof plan>) => void }[] = [
    { name: 'a changed group list is one update', d: desired('a', { kubernetesGroups: ['ops'] }), l: live('a'), steps: ['update a'],
      check: (p) => expect(p.updates[0]).toMatchObject({ kubernetesGroups: ['ops'], before: { kubernetesGroups: ['devs'] } }) },
    { name: 'a changed username is one update', d: desired('a', { username: 'b' }), l: live('a'), steps: ['update a'] },
    {
      name: 'no username: EKS\'s default is spelled out in the update, since an update cannot unset it',
      d: (() => { const d = desired('a'); delete d.username; return d; })(), l: live('a', { username: 'custom' }), steps: ['update a'],
      check: (p) => expect(p.updates[0]?.username).toBe(`arn:aws:sts::${ACCT}:assumed-role/a/{{SessionName}}`),
    },
    {
      name: 'no username and EKS\'s default in place: nothing to do',
      d: (() => { const d = desired('a'); delete d.username; return d; })(), l: live('a', { username: defaultUsername(arn('a')) }), steps: [],
    },
    { name: 'a new policy is associated', d: desired('a', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] }), l: live('a'), steps: ['associate a AmazonEKSViewPolicy'] },
    {
      name: 'a policy\'s new scope is one association, naming the old scope',
      d: desired('a', { policies: [{ policyArn: VIEW, scope: { type: 'namespace', namespaces: ['dev'] } }] }),
      l: live('a', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] }), steps: ['associate a AmazonEKSViewPolicy'],
      check: (p) => expect(p.associations[0]?.before).toEqual({ type: 'cluster' }),
    },
    { name: 'a policy no longer listed is disassociated', d: desired('a'), l: live('a', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] }), steps: ['disassociate a AmazonEKSViewPolicy'] },
    {
      name: 'a type change is a delete and a create, counted as a removal',
      d: desired('a', { type: 'EC2_LINUX', kubernetesGroups: [] }), l: live('a'), steps: ['delete a', 'create a'],
      check: (p) => expect(p.deletes[0]).toMatchObject({ reason: 'type change', source: 'static' }),
    },
    { name: 'a node entry\'s username is EKS\'s, never updated', d: desired('n', { type: 'EC2_LINUX', kubernetesGroups: [] }), l: live('n', { type: 'EC2_LINUX', username: 'system:node:{{EC2PrivateDNSName}}', kubernetesGroups: [] }), steps: [] },
  ];
  it.each(changeCases)('$name', ({ d, l, steps, check }) => {
    const p = plan({ desired: [d], live: [l] });
    expect(brief(p.steps)).toEqual(steps);
    check?.(p);
  });

  it('deletes an owned entry no source asks for, naming the earlier sync as its source', () => {
    const p = plan({ desired: [desired('a')], live: [live('a'), live('gone')] });
    expect(brief(p.steps)).toEqual(['delete gone']);
    expect(p.deletes[0]).toMatchObject({ reason: 'not desired', source: SOURCE_PREVIOUSLY_SYNCED });
  });

  it('never writes an entry without the ownership tag, and reports a source that maps one', () => {
    const creator = live('creator', { tags: {}, kubernetesGroups: [], policies: undefined });
    const otherTool = live('other', { tags: { [OWNED_TAG.key]: 'false', 'managed-by': 'terraform' } });
    const p = plan({ desired: [desired('other', { kubernetesGroups: ['ops'], source: 'ssm' })], live: [creator, otherTool] });
    expect(p.steps).toEqual([]);
    expect(p.keptForeign).toEqual([
      expect.objectContaining({ principalArn: arn('other'), source: 'ssm' }),
      expect.objectContaining({ principalArn: arn('creator'), source: SOURCE_NOT_MANAGED }),
    ]);
    expect(p.warnings).toEqual([expect.objectContaining({ source: 'ssm', subject: arn('other'), message: expect.stringMatching(/does not own/) })]);
  });

  it('leaves the node entry EKS made for a node role without a warning', () => {
    const p = plan({ desired: [desired('n', { type: 'EC2_LINUX', kubernetesGroups: [] })], live: [live('n', { type: 'EC2_LINUX', tags: {}, kubernetesGroups: ['system:nodes'] })] });
    expect(p.steps).toEqual([]);
    expect(p.keptForeign[0]?.reason).toMatch(/EKS creates these/);
    expect(p.warnings).toEqual([]);
  });

  it('orders grants before revocations and type changes last', () => {
    const p = plan({
      desired: [
        desired('changed', { kubernetesGroups: ['ops'], policies: [{ policyArn: EDIT, scope: { type: 'cluster' } }] }),
        desired('new', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] }),
        desired('retyped', { type: 'FARGATE_LINUX', kubernetesGroups: [] }),
      ],
      live: [live('changed', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] }), live('gone'), live('retyped')],
    });
    expect(brief(p.steps)).toEqual([
      'create new', 'associate new AmazonEKSViewPolicy',
      'associate changed AmazonEKSEditPolicy',
      'update changed',
      'disassociate changed AmazonEKSViewPolicy',
      'delete gone',
      'delete retyped', 'create retyped',
    ]);
  });
});

describe('planAccessEntries guards', () => {
  const selfRole: SelfIdentity = { arn: `arn:aws:sts::${ACCT}:assumed-role/sync/lambda`, canonicalArn: `arn:aws:iam::${ACCT}:role/sync` };

  it('refuses to delete every owned entry when the sources produced none', () => {
    expect(() => plan({ desired: [], live: [live('a')] })).toThrow(EmptySourcesGuardError);
    // The refusal names the target it left alone, not aws-auth.
    expect(() => plan({ desired: [], live: [live('a')] })).toThrow(/access entries .*No access entry was changed/);
    expect(() => plan({ desired: [], live: [live('a')] })).not.toThrow(/aws-auth/);
    expect(plan({ desired: [], live: [live('a')], settings: { ...SETTINGS, allowEmpty: true } }).deletes).toHaveLength(1);
    expect(plan({ desired: [], live: [live('foreign', { tags: {} })] }).steps).toEqual([]);
  });

  it('refuses more removals than maxRemovals, counting a type change', () => {
    const input = { desired: [desired('t', { type: 'EC2_LINUX' as AccessEntryType, kubernetesGroups: [] })], live: [live('t'), live('gone')] };
    expect(() => plan({ ...input, settings: { ...SETTINGS, maxRemovals: 1 } })).toThrow(MaxRemovalsGuardError);
    expect(() => plan({ ...input, settings: { ...SETTINGS, maxRemovals: 1 } })).toThrow(/remove 2 access entries.*No access entry was changed/);
    expect(() => plan({ ...input, settings: { ...SETTINGS, maxRemovals: 1 } })).not.toThrow(/aws-auth/);
    expect(plan({ ...input, settings: { ...SETTINGS, maxRemovals: 2 } }).deletes).toHaveLength(2);
  });

  it('keeps the tool\'s own entry exactly as it is, applies the rest, and warns', () => {
    const mine = live('sync', { policies: [{ policyArn: VIEW, scope: { type: 'cluster' } }] });
    const p = plan({ desired: [desired('b')], live: [mine, live('gone')], self: selfRole, settings: { ...SETTINGS, maxRemovals: 1 } });
    expect(brief(p.steps)).toEqual(['create b', 'delete gone']);
    expect(p.keptForeign).toContainEqual(expect.objectContaining({ principalArn: arn('sync'), reason: expect.stringMatching(/runs as/) }));
    expect(p.warnings).toContainEqual(expect.objectContaining({ subject: arn('sync'), message: expect.stringMatching(/kept exactly as it is/) }));
    // The SelfEntryKept metric reads this; the role's path (/team/) does not hide it from the guard.
    expect(p.selfEntryKept).toMatchObject({ principalArn: arn('sync') });
  });

  it('keeps the tool\'s own entry from an update or a policy change too', () => {
    const p = plan({ desired: [desired('sync', { kubernetesGroups: [], policies: [{ policyArn: EDIT, scope: { type: 'cluster' } }] })], live: [live('sync')], self: selfRole });
    expect(p.steps).toEqual([]);
  });

  it('refuses a plan that would go over the access-entry quota at its peak, before any write', () => {
    const many = Array.from({ length: MAX_ACCESS_ENTRIES - 1 }, (_, i) => live(`l${i}`, { tags: {} }));
    expect(plan({ desired: [desired('a')], live: many }).creates).toHaveLength(1);
    // Creates run before deletes: one create over the quota is refused even if a delete would follow.
    expect(() => plan({ desired: [desired('a'), desired('b')], live: many, settings: { ...SETTINGS, allowEmpty: true } })).toThrow(AccessEntryQuotaGuardError);
  });
});

/** EKS's behaviour, for the property: what each step does to the entries. */
function applySteps(before: readonly LiveAccessEntry[], steps: readonly Step[]): LiveAccessEntry[] {
  const entries = new Map(before.map((e) => [e.principalArn.toLowerCase(), structuredClone(e)]));
  for (const s of steps) {
    const key = s.principalArn.toLowerCase();
    const e = entries.get(key);
    if (s.action === 'create') {
      expect(e, `create of ${s.principalArn} over an existing entry`).toBeUndefined();
      entries.set(key, { principalArn: s.principalArn, type: s.type, username: s.username ?? defaultUsername(s.principalArn), kubernetesGroups: s.kubernetesGroups, tags: OWNED, policies: [] });
    } else {
      if (!e) throw new Error(`${s.action} of ${s.principalArn}, which has no entry`);
      expect(isOwned(e), `${s.action} of a foreign entry`).toBe(true);
      if (s.action === 'delete') entries.delete(key);
      else if (s.action === 'update') Object.assign(e, { username: s.username, kubernetesGroups: s.kubernetesGroups });
      else if (s.action === 'associate') e.policies = [...(e.policies ?? []).filter((p) => p.policyArn !== s.policyArn), { policyArn: s.policyArn, scope: s.scope }];
      else e.policies = (e.policies ?? []).filter((p) => p.policyArn !== s.policyArn);
    }
  }
  return [...entries.values()];
}

/** Policy ARN → scope, namespaces in order: EKS keeps a scope's namespaces as a set. */
function scopes(policies: readonly DesiredPolicy[]): Map<string, unknown> {
  return new Map(policies.map((p) => [p.policyArn, p.scope.type === 'cluster' ? p.scope : { ...p.scope, namespaces: [...p.scope.namespaces].sort() }]));
}

describe('planAccessEntries property', () => {
  const names = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'sync');
  const policy = fc.record({
    policyArn: fc.constantFrom(VIEW, EDIT),
    scope: fc.oneof(fc.constant({ type: 'cluster' as const }), fc.record({ type: fc.constant('namespace' as const), namespaces: fc.uniqueArray(fc.constantFrom('dev', 'prod', 'team-*'), { minLength: 1 }) })),
  });
  const policies = fc.uniqueArray(policy, { selector: (p) => p.policyArn, maxLength: 2 });
  const type = fc.constantFrom<AccessEntryType>('STANDARD', 'EC2_LINUX');
  const groups = fc.uniqueArray(fc.constantFrom('devs', 'ops', 'view'), { maxLength: 2 });
  const desiredArb = fc.uniqueArray(
    fc.record({ name: names, type, username: fc.option(fc.constantFrom('u1', 'u2'), { nil: undefined }), groups, policies }),
    { selector: (d) => d.name },
  ).map((ds) => ds.map((d) => {
    const e = desired(d.name, { type: d.type, kubernetesGroups: d.type === 'STANDARD' ? d.groups : [], policies: d.type === 'STANDARD' ? d.policies : [] });
    if (d.username === undefined || d.type !== 'STANDARD') delete e.username;
    else e.username = d.username;
    return e;
  }));
  const liveArb = fc.uniqueArray(
    fc.record({ name: names, type: fc.constantFrom('STANDARD', 'EC2_LINUX', 'EC2_WINDOWS'), owned: fc.boolean(), username: fc.constantFrom('u1', 'u2', 'x'), groups, policies }),
    { selector: (l) => l.name },
  ).map((ls) => ls.map((l) => live(l.name, { type: l.type, tags: l.owned ? OWNED : {}, username: l.username, kubernetesGroups: l.groups, policies: l.policies })));

  it('applying a plan makes the owned entries the desired ones, leaves foreign and the tool\'s own untouched, and a re-plan is empty', () => {
    fc.assert(fc.property(desiredArb, liveArb, fc.boolean(), (want, have, withSelf) => {
      const self: SelfIdentity | undefined = withSelf ? { arn: `arn:aws:sts::${ACCT}:assumed-role/sync/s`, canonicalArn: `arn:aws:iam::${ACCT}:role/sync` } : undefined;
      const settings = { maxRemovals: 100, allowEmpty: true };
      const p = planAccessEntries({ desired: want, live: have, settings, self });
      const after = applySteps(have, p.steps);
      const byKey = new Map(after.map((e) => [e.principalArn.toLowerCase(), e]));
      const selfKey = arn('sync').toLowerCase();

      for (const before of have) {
        const key = before.principalArn.toLowerCase();
        if (!isOwned(before) || (self && key === selfKey)) expect(byKey.get(key)).toEqual(before);
      }
      const protectedKeys = new Set(have.filter((e) => !isOwned(e) || (self && e.principalArn.toLowerCase() === selfKey)).map((e) => e.principalArn.toLowerCase()));
      for (const d of want) {
        const key = d.principalArn.toLowerCase();
        if (protectedKeys.has(key)) continue;
        const got = byKey.get(key);
        expect(got).toMatchObject({ type: d.type, tags: OWNED });
        if (d.type === 'STANDARD') {
          expect(got?.username).toBe(d.username ?? defaultUsername(d.principalArn));
          expect([...(got?.kubernetesGroups ?? [])].sort()).toEqual([...d.kubernetesGroups].sort());
        }
        expect(scopes(got?.policies ?? [])).toEqual(scopes(d.policies));
      }
      const wantKeys = new Set(want.map((d) => d.principalArn.toLowerCase()));
      for (const e of after) {
        const key = e.principalArn.toLowerCase();
        if (isOwned(e) && !protectedKeys.has(key)) expect(wantKeys.has(key), `${e.principalArn} owned but not desired`).toBe(true);
      }
      expect(planAccessEntries({ desired: want, live: after, settings, self }).steps).toEqual([]);
    }));
  });
});
