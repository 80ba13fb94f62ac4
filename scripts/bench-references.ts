/**
 * The bench's "AWS SDK clients alone" reference: which SDK clients the function imports, read
 * from the function's own bundle, so the reference row follows the code when a client is added
 * or dropped.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { MAIN_FIELDS } from '../infra/bundling.js';

/** The function's imports from one AWS SDK client package, e.g. `@aws-sdk/client-eks` → `EKSClient`, `DescribeClusterCommand`. */
export interface SdkClientImports {
  /** `eks`, `iam`, … */
  client: string;
  specifier: string;
  names: string[];
}

const SDK_CLIENT_IMPORT = /import\s*\{([^}]*)\}\s*from\s*'(@aws-sdk\/client-([\w-]+))'/g;

/**
 * The AWS SDK client packages the deployed bundle contains, and the value names our modules in
 * it import from each (type-only imports left out: they load nothing). Our modules are the
 * bundle's inputs under lambda/, from esbuild's metafile of the handler's entry.
 */
export async function sdkClientImports(projectRoot: string): Promise<SdkClientImports[]> {
  const handler = join(projectRoot, 'lambda', 'handler.ts');
  const result = await build({
    entryPoints: [handler], bundle: true, write: false, metafile: true, platform: 'node', format: 'esm',
    mainFields: MAIN_FIELDS, absWorkingDir: projectRoot, outdir: projectRoot, logLevel: 'warning',
  });
  const byClient = new Map<string, SdkClientImports>();
  for (const input of Object.keys(result.metafile.inputs).filter((f) => f.startsWith('lambda/'))) {
    for (const m of readFileSync(join(projectRoot, input), 'utf8').matchAll(SDK_CLIENT_IMPORT)) {
      const [, list = '', specifier = '', client = ''] = m;
      // `import type { … }` does not match; an item marked `type` loads nothing either.
      const names = list.split(',').map((item) => item.trim().split(/\s+as\s+/)[0] ?? '').filter((n) => n !== '' && !n.startsWith('type '));
      if (names.length === 0) continue;
      const entry = byClient.get(client) ?? { client, specifier, names: [] };
      for (const name of names) if (!entry.names.includes(name)) entry.names.push(name);
      byClient.set(client, entry);
    }
  }
  if (byClient.size === 0) throw new Error(`found no @aws-sdk/client-* import in the modules of ${handler}`);
  return [...byClient.values()].sort((a, b) => a.client.localeCompare(b.client));
}

/**
 * The reference bundle's entry: the SDK clients' imports as the function has them, and nothing else.
 * @example sdkReferenceEntry(await sdkClientImports(root)) // "export { EKSClient, … } from '@aws-sdk/client-eks';\n…"
 */
export function sdkReferenceEntry(clients: readonly SdkClientImports[]): string {
  return clients.map((c) => `export { ${[...c.names].sort().join(', ')} } from '${c.specifier}';`).join('\n');
}
