/**
 * `eks-auth-sync sync` with a `clusters:` config, in-process against the stand-ins: each
 * cluster's plan under its heading, `--cluster` to pick some, and a failed cluster that neither
 * hides the others nor passes unnoticed (exit 1).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { parseAllDocuments } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { main } from '../lambda/cli.js';
import type { Environment } from './support/environment.js';
import { startFleetWorld } from './support/fleet-world.js';

const A = '111122223333';
let world: Environment;
let stop: () => Promise<void>;

// The demo dataset tags its roles for two clusters, demo and staging.
beforeEach(async () => void ({ world, stop } = await startFleetWorld(['staging'])));
afterEach(() => stop());

async function cli(clusters: unknown[], ...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'eas-fleet-cli-'));
  const path = join(dir, 'fleet.json');
  writeFileSync(path, JSON.stringify({ clusters, sync: { target: 'accessEntries' }, scanners: [{ type: 'iam', iam: {} }] }));
  let stdout = '';
  let stderr = '';
  const status = await main(['sync', '--config', path, ...args], {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from([]),
  });
  return { status, stdout, stderr };
}
const region = 'eu-west-1';

describe('eks-auth-sync sync with a clusters: config', () => {
  it("prints each cluster's desired mappings as one YAML document and its plan under its heading", async () => {
    const { status, stdout, stderr } = await cli([{ name: 'demo', region }, { name: 'staging', region }]);
    expect(status).toBe(0);
    const docs = parseAllDocuments(stdout).map((d) => d.toJS() as { roles: { rolearn: string }[] });
    expect(docs).toHaveLength(2);
    expect(stdout).toMatch(/^--- # cluster demo\n/);
    expect(docs[1]?.roles.map((r) => r.rolearn)).toEqual([`arn:aws:iam::${A}:role/staging-cluster-viewer`]);
    const demo = stderr.indexOf('== cluster demo ==');
    const staging = stderr.indexOf('== cluster staging ==');
    expect(demo).toBeGreaterThanOrEqual(0);
    expect(staging).toBeGreaterThan(demo);
    expect(stderr.slice(demo, staging)).toContain('access entries of cluster demo');
    expect(stderr.slice(staging)).toContain(`+ create STANDARD arn:aws:iam::${A}:role/staging-cluster-viewer`);
    expect(stderr).toContain('dry run: nothing written');
  });

  it('--cluster syncs only the clusters named, and refuses a name the config does not have', async () => {
    const only = await cli([{ name: 'demo', region }, { name: 'staging', region }], '--cluster', 'staging');
    expect(only.status).toBe(0);
    expect(only.stderr).not.toContain('== cluster demo ==');
    expect(only.stderr).toContain('== cluster staging ==');
    const unknown = await cli([{ name: 'demo', region }], '--cluster', 'prod');
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toContain("error: --cluster prod: not in the config's clusters (demo)");
  });

  it('a cluster that fails is reported under its heading, the others are still shown, and the exit status is 1', async () => {
    const { status, stderr } = await cli([{ name: 'gone', region }, { name: 'staging', region }], '--commit');
    expect(status).toBe(1);
    expect(stderr).toMatch(/== cluster gone ==\nerror: .*gone/);
    expect(stderr).toContain('committed: ');
    expect(stderr.trimEnd().split('\n').at(-1)).toBe('error: 1 of 2 clusters failed: gone');
    expect(world.aws.eks.accessEntries('staging').map((e) => e.principalArn)).toContain(`arn:aws:iam::${A}:role/staging-cluster-viewer`);
  });
});
