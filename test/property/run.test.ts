import { GetAccountAuthorizationDetailsCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { OWNED_ANNOTATION, ownershipMark, parseAwsAuth, planAwsAuth } from '../../lambda/targets/awsauth/index.js';
import { parseConfig } from '../../lambda/config.js';
import type { ConfigMap } from '../../lambda/configmap.js';
import { EksAuthSyncError } from '../../lambda/errors.js';
import { arnKey } from '../../lambda/mappings.js';
import { runScanners } from '../../lambda/scanners/index.js';
import { awsAuthMap } from '../support/awsauth-fixtures.js';
import { deps } from '../scanners/helpers.js';
import { ACCOUNT, CLUSTER, asText, iamIdentities, liveData, mappingsDoc, ssmValue, validMappingsDoc } from './arbitraries.js';

const iam = mockClient(IAMClient);
const ssm = mockClient(SSMClient);
const dir = mkdtempSync(join(tmpdir(), 'eks-auth-sync-property-'));
afterAll(() => {
  iam.restore();
  ssm.restore();
  rmSync(dir, { recursive: true, force: true });
});

const inputs = fc.record({
  order: fc.shuffledSubarray(['static', 'file', 'ssm', 'iam'], { minLength: 1 }),
  // Mostly valid sources, so most runs get as far as a plan; the rest are hostile.
  staticDoc: fc.oneof({ weight: 4, arbitrary: validMappingsDoc }, { weight: 1, arbitrary: mappingsDoc }),
  fileText: fc.oneof({ weight: 4, arbitrary: validMappingsDoc.map((d) => stringify(d)) }, { weight: 1, arbitrary: mappingsDoc.chain(asText) }),
  ssmValue: fc.oneof({ weight: 4, arbitrary: validMappingsDoc.map((d) => Buffer.from(stringify(d)).toString('base64')) }, { weight: 1, arbitrary: ssmValue }),
  identities: iamIdentities('::'),
  live: fc.option(liveData, { nil: null, freq: 8 }),
  owned: fc.constantFrom('none', 'some', 'garbage'),
  sync: fc.record({
    mode: fc.constantFrom('merge', 'replace'),
    allowEmpty: fc.boolean(),
    maxRemovals: fc.constantFrom(0, 2, 20),
    repairBrokenAwsAuth: fc.boolean(),
  }),
});
type Inputs = typeof inputs extends fc.Arbitrary<infer T> ? T : never;

/** One run without a cluster: parse the config, scan every source, read aws-auth, plan. */
async function run(i: Inputs, file: string) {
  const config = parseConfig(JSON.stringify({
    cluster: { name: CLUSTER, region: 'eu-west-1', accountID: ACCOUNT },
    sync: i.sync,
    scanners: i.order.map((type) => ({
      static: { type, static: i.staticDoc },
      file: { type, file: { path: file } },
      ssm: { type, ssm: { path: '/eks/prod/auth' } },
      iam: { type, iam: {} },
    })[type]),
  }), 'config.json');
  const desired = await runScanners(config, deps(config, dir));
  const live = parseAwsAuth(liveConfigMap(i), { repair: config.sync.repairBrokenAwsAuth === true });
  return { desired, live, plan: planAwsAuth({ desired, live, settings: config.sync }) };
}

function liveConfigMap(i: Inputs): ConfigMap | null {
  if (i.live === null) return null;
  const annotations: Record<string, string> = {};
  if (i.owned === 'garbage') annotations[OWNED_ANNOTATION] = 'v9:???';
  if (i.owned === 'some') {
    // Mark every other ARN-looking string in the text as synced earlier.
    const arns = Object.values(i.live).join('\n').match(/arn:[\w-]+:iam::\d{12}:(?:role|user)\/[\w+=,.@/-]+/g) ?? [];
    annotations[OWNED_ANNOTATION] = `v1:${arns.filter((_, n) => n % 2 === 0).map((a) => ownershipMark(a.includes(':role/') ? 'role' : 'user', a)).join(',')}`;
  }
  return awsAuthMap(i.live, { resourceVersion: '1', annotations });
}

type Outcome = { ok: Awaited<ReturnType<typeof run>> } | { error: unknown };

async function outcome(i: Inputs, file: string): Promise<Outcome> {
  try {
    return { ok: await run(i, file) };
  } catch (error) {
    return { error };
  }
}

describe('a whole run over hostile sources and a hostile aws-auth (properties)', () => {
  it('plans the same aws-auth every time, which reads back as exactly the plan, or fails with one EksAuthSyncError', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(inputs, async (i) => {
        const file = `m${n++}.yaml`;
        writeFileSync(join(dir, file), i.fileText);
        iam.reset();
        iam.on(GetAccountAuthorizationDetailsCommand).resolves({
          IsTruncated: false,
          RoleDetailList: i.identities.roles.map((r) => ({ RoleName: r.name, Path: r.path, Arn: r.arn, Tags: r.tags })),
          UserDetailList: i.identities.users.map((u) => ({ UserName: u.name, Path: u.path, Arn: u.arn, Tags: u.tags })),
        });
        ssm.reset();
        ssm.on(GetParameterCommand).resolves({ Parameter: { Name: '/eks/prod/auth', Value: i.ssmValue } });

        const first = await outcome(i, file);
        const second = await outcome(i, file);
        if ('error' in first) {
          expect(first.error).toBeInstanceOf(EksAuthSyncError);
          expect((first.error as Error).message).not.toBe('');
          expect('error' in second && (second.error as Error).message).toBe((first.error as Error).message);
          return;
        }
        if (!('ok' in second)) throw new Error('the second identical run failed');
        expect(JSON.stringify(second.ok.plan)).toBe(JSON.stringify(first.ok.plan));

        const { desired, live, plan } = first.ok;
        if (plan.next === null) return;
        // The written aws-auth reads back, without any repair, as exactly what was planned.
        const back = parseAwsAuth(plan.next);
        const backKinds = { role: back.roles, user: back.users };
        const want = [
          ...desired.mappings.roles.map((r) => ({ kind: 'role' as const, arn: r.rolearn as string, username: r.username, groups: r.groups })),
          ...desired.mappings.users.map((u) => ({ kind: 'user' as const, arn: u.userarn as string, username: u.username, groups: u.groups })),
        ];
        for (const d of want) {
          const found = backKinds[d.kind].filter((e) => e.arn !== null && arnKey(e.arn) === arnKey(d.arn));
          expect(found.map((e) => [e.arn, e.username, e.groups])).toEqual([[d.arn, d.username, d.groups]]);
          expect(back.ownedMarks.has(ownershipMark(d.kind, d.arn))).toBe(true);
        }
        expect(back.ownedMarks.size).toBe(want.length);
        // Entries nobody owns or wants survive a merge with every field, unknown ones included.
        if (i.sync.mode === 'merge') {
          for (const kind of ['role', 'user'] as const) {
            const wanted = new Set(want.filter((d) => d.kind === kind).map((d) => arnKey(d.arn)));
            // A duplicated ARN collapses to its last entry, at the last entry's place.
            const lastByArn = new Map<unknown, (typeof live.roles)[number]>();
            for (const e of kind === 'role' ? live.roles : live.users) {
              const k = e.arn === null ? e : arnKey(e.arn);
              lastByArn.delete(k);
              lastByArn.set(k, e);
            }
            const foreign = [...lastByArn.values()].filter((e) => e.arn === null || (!wanted.has(arnKey(e.arn)) && !live.ownedMarks.has(ownershipMark(kind, e.arn))));
            expect(backKinds[kind].slice(0, foreign.length).map((e) => e.raw)).toEqual(foreign.map((e) => e.raw));
          }
        }
        expect(plan.next.data?.['mapAccounts']).toBe(i.live?.['mapAccounts']);
      }),
      { numRuns: 120 },
    );
  });
});
