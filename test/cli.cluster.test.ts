import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { main } from '../lambda/cli.js';
import { DEMO_CONFIG, seedAwsAuth, startEnvironment, type Environment } from './support/environment.js';

let world: Environment;
let configPath: string;

/** Runs the built CLI in its own process; asynchronously, since the stand-ins serve from this one. */
function cli(argv: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['dist/cli.mjs', ...argv], {
      env: { PATH: process.env['PATH'] ?? '', ...world.env(), AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

beforeAll(async () => {
  world = await startEnvironment();
  configPath = join(mkdtempSync(join(tmpdir(), 'eas-cli-')), 'demo.yaml');
  writeFileSync(configPath, stringify(DEMO_CONFIG));
});
afterAll(async () => {
  await world.close();
});
beforeEach(() => {
  world.kube.put(seedAwsAuth(world.accountId));
});

describe('eks-auth-sync sync against a cluster', () => {
  it('dry run: prints the desired mappings and, on stderr, each change with its source; writes nothing', async () => {
    const writes = world.kube.writes;
    const r = await cli(['sync', '--config', configPath]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('rolearn: arn:aws:iam::111122223333:role/github-actions-deploy');
    expect(r.stderr).toContain('aws-auth in cluster demo (as arn:aws:sts::111122223333:assumed-role/eks-auth-sync/eks-auth-sync):');
    expect(r.stderr).toContain('  + role arn:aws:iam::111122223333:role/github-actions-deploy → ci-deployer [deployers]  (from iam-tags)');
    expect(r.stderr).toContain('  + user arn:aws:iam::111122223333:user/contractors/mallory → mallory [viewers]  (from ssm-param)');
    expect(r.stderr).toMatch(/3 not managed by eks-auth-sync \(kept\)/);
    expect(r.stderr).toContain('dry run: nothing written; run again with --commit to apply.');
    expect(world.kube.writes).toBe(writes);
  });

  it('--commit writes the change, and a second run finds nothing to do', async () => {
    const first = await cli(['sync', '--config', configPath, '--commit']);
    expect(first.status).toBe(0);
    expect(first.stderr).toContain('committed: aws-auth updated.');
    expect(world.awsAuth()?.data?.['mapRoles']).toContain('github-actions-deploy');
    const writes = world.kube.writes;
    const second = await cli(['sync', '--config', configPath, '--commit']);
    expect(second.status).toBe(0);
    expect(second.stderr).toContain('no change: nothing to write.');
    expect(world.kube.writes).toBe(writes);
  });

  it('shows an identical entry it did not write as adopted and unchanged, not as a change; a commit records it as owned', async () => {
    // The seed's hand-added mapping for eks-auth-sync's own role, produced exactly by a static source.
    const self = { rolearn: `arn:aws:iam::${world.accountId}:role/eks-auth-sync`, username: 'eks-auth-sync', groups: ['eks-auth-sync'] };
    const config = stringify({ cluster: DEMO_CONFIG.cluster, scanners: [{ type: 'static', name: 'platform', static: { roles: [self] } }] });
    const run = async (argv: string[]): Promise<string> => {
      let stderr = '';
      const saved = { ...process.env };
      Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
      const status = await main(['sync', '--config', '-', ...argv], {
        stdout: { write: () => true },
        stderr: { write: (t: string) => (stderr += t) },
        stdin: Readable.from([config]),
      }).finally(() => {
        process.env = saved;
      });
      expect(status).toBe(0);
      return stderr;
    };
    const dry = await run([]);
    expect(dry).toContain(`  = role ${self.rolearn} → eks-auth-sync [eks-auth-sync]  (from platform; adopted: identical, not written by eks-auth-sync)\n`);
    expect(dry).not.toContain('  ~ ');
    expect(dry).toContain('  0 to add, 0 to remove, 0 to change; 1 unchanged (1 adopted); 2 not managed by eks-auth-sync (kept)');
    expect(dry).toContain('dry run: nothing written; run again with --commit to apply.');

    const entries = (): unknown[] => (parse(world.awsAuth()?.data?.['mapRoles'] ?? '[]') as { rolearn: string }[]).sort((a, b) => a.rolearn.localeCompare(b.rolearn));
    const before = entries();
    expect(await run(['--commit'])).toContain('committed: aws-auth updated.');
    expect(entries()).toEqual(before);
    const again = await run(['--commit']);
    expect(again).toContain('0 to change; 1 unchanged; 2 not managed');
    expect(again).toContain('no change: nothing to write.');
  });

  it('--commit fails with one message and exit 1 when a guard refuses, leaving aws-auth as it was', async () => {
    const before = world.awsAuth();
    let stderr = '';
    const saved = { ...process.env };
    Object.assign(process.env, world.env(), { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' });
    const status = await main(['sync', '--config', '-', '--commit'], {
      stdout: { write: () => true },
      stderr: { write: (t: string) => (stderr += t) },
      stdin: Readable.from([stringify({ ...DEMO_CONFIG, sync: { mode: 'replace', maxRemovals: 0 } })]),
    }).finally(() => {
      process.env = saved;
    });
    expect(status).toBe(1);
    expect(stderr).toMatch(/^error: The plan would remove \d+ aws-auth entries, more than the limit of 0 per run/m);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(world.awsAuth()).toEqual(before);
  });
});

const AWS_CLI = '/usr/bin/aws';
const haveTools = existsSync(AWS_CLI) && spawnSync('faketime', ['--version']).status === 0;
const needTools = process.env['CI'] !== undefined;

describe.skipIf(!haveTools && !needTools)('eks-auth-sync token', () => {
  it.each([
    ['prod-eu', 'eu-west-1', undefined],
    ['prod-eu', 'eu-west-1', 'FwoGZXIvYXdzEXAMPLE//////////wEaDH+vector/session+token=='],
    ['cn-cluster', 'cn-northwest-1', undefined],
    ['gov', 'us-gov-west-1', 'IQoJb3JpZ2luX2VjEGov+session/token='],
  ])('prints exactly what "aws eks get-token" prints for %s in %s', (cluster, region, sessionToken) => {
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      HOME: mkdtempSync(join(tmpdir(), 'eas-home-')),
      TZ: 'UTC',
      AWS_ACCESS_KEY_ID: sessionToken ? 'ASIACLITOKENTEST0002' : 'AKIACLITOKENTEST0001',
      AWS_SECRET_ACCESS_KEY: 'cli/Token+Test=Secret/0001abcdEFGHijkl',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      // A stopped wall clock, so both programs sign at the same second; real monotonic time keeps timers working.
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
      ...(sessionToken ? { AWS_SESSION_TOKEN: sessionToken } : {}),
    };
    const at = ['-f', '2026-05-06 07:08:09'];
    const ours = spawnSync('faketime', [...at, process.execPath, 'dist/cli.mjs', 'token', '--cluster-name', cluster, '--region', region], { env, encoding: 'utf8' });
    const theirs = spawnSync('faketime', [...at, AWS_CLI, 'eks', 'get-token', '--cluster-name', cluster, '--region', region], { env, encoding: 'utf8' });
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(ours.status, ours.stderr).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(JSON.parse(ours.stdout)).toMatchObject({ status: { expirationTimestamp: '2026-05-06T07:22:09Z' } });
  });

  it('fails with a clear message when there are no credentials', () => {
    const r = spawnSync(process.execPath, ['dist/cli.mjs', 'token', '--cluster-name', 'x', '--region', 'eu-west-1'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '', AWS_CONFIG_FILE: '/dev/null', AWS_SHARED_CREDENTIALS_FILE: '/dev/null', AWS_EC2_METADATA_DISABLED: 'true', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: token: no AWS credentials found/);
  });
});
