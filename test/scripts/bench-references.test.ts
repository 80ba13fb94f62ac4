/**
 * The bench's "AWS SDK clients alone" row: the cold-start target is the function's load minus
 * this reference, so the reference must hold the SDK clients the deployed bundle really
 * contains, no more and no fewer, or the target measures the wrong thing.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sdkClientImports, sdkReferenceEntry, type SdkClientImports } from '../../scripts/bench-references.js';
import { buildBundle, type Bundle } from '../support/bundle.js';

const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let bundle: Bundle;
let clients: SdkClientImports[];
beforeAll(async () => {
  bundle = buildBundle({ config: { cluster: { name: 'bench', region: 'eu-west-1' }, scanners: [{ type: 'iam', name: 'iam-tags', iam: {} }] } });
  clients = await sdkClientImports(PROJECT_ROOT);
});
afterAll(() => bundle.dispose());

describe('the bench reference of the AWS SDK clients', () => {
  it('names every @aws-sdk/client-* package the deployed bundle contains, and only those', () => {
    // The deployed asset's source map lists every module esbuild put into index.mjs.
    const map = JSON.parse(readFileSync(`${bundle.entry}.map`, 'utf8')) as { sources: string[] };
    const bundled = new Set(map.sources.flatMap((s) => /@aws-sdk\/client-([\w-]+)\//.exec(s)?.[1] ?? []));

    expect(clients.map((c) => c.client)).toEqual([...bundled].sort());
    expect(bundled).toContain('eks');
  });

  it('builds into a module that exports what the function imports from each client, type-only imports left out', async () => {
    const result = await build({
      stdin: { contents: sdkReferenceEntry(clients), resolveDir: PROJECT_ROOT, loader: 'ts', sourcefile: 'sdk.ts' },
      bundle: true, write: false, platform: 'node', format: 'esm', metafile: true, logLevel: 'silent',
    });
    const exported = Object.values(result.metafile.outputs)[0]?.exports ?? [];

    expect(exported).toEqual(expect.arrayContaining(['EKSClient', 'DescribeClusterCommand', 'IAMClient', 'SSMClient', 'STSClient', 'GetCallerIdentityCommand']));
    // lambda/cluster/eks.ts imports `type Cluster`: an interface, nothing to load.
    expect(exported).not.toContain('Cluster');
    expect(exported.length).toBe(clients.reduce((n, c) => n + c.names.length, 0));
  });
});
