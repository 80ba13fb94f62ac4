/**
 * Builds what the package ships (`npm run build`, run by `npm ci` through `prepare`):
 * - dist/lambda/index.mjs (+ .map): the Lambda handler, prebuilt, so a CDK app that installs the
 *   package needs neither esbuild nor our TypeScript sources; the construct copies it into the
 *   function's asset with the config;
 * - dist/cli.mjs: the CLI, behind bin/eks-auth-sync.mjs.
 *
 * With `--library` (`npm run build:package`, run by `npm pack`/`npm publish` through `prepack`)
 * it also emits the library, dist/lib (JavaScript and .d.ts from infra/index.ts, by
 * tsconfig.build.json), from scratch so no module deleted from the sources stays in the package.
 *
 * Each bundle is written to a temporary name and renamed into place: tests may be loading the
 * previous one while `npm pack` builds again, and a rename is never seen half-written.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type BuildOptions } from 'esbuild';
import { ESM_REQUIRE_BANNER, HANDLER_BUNDLE, LAMBDA_NODE_TARGET, MAIN_FIELDS } from '../infra/bundling.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Bundles `entry` into `outfile` (relative to the project root), renaming each output file into place. */
async function bundle(entry: string, outfile: string, options: BuildOptions): Promise<void> {
  const result = await build({
    entryPoints: [join(ROOT, entry)],
    outfile: join(ROOT, outfile),
    absWorkingDir: ROOT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    mainFields: MAIN_FIELDS,
    banner: { js: ESM_REQUIRE_BANNER },
    logLevel: 'warning',
    write: false,
    ...options,
  });
  for (const file of result.outputFiles ?? []) {
    mkdirSync(dirname(file.path), { recursive: true });
    const partial = `${file.path}.${process.pid}.partial`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
}

await Promise.all([
  // The deployed function: minified (smaller asset, faster cold start), with a source map
  // (without the sources' text) that ships in the asset for NODE_OPTIONS=--enable-source-maps
  // when debugging. The pinned SDK is bundled rather than taken from the runtime, so what is
  // tested is what runs.
  bundle('lambda/handler.ts', join(HANDLER_BUNDLE.dir, HANDLER_BUNDLE.file), {
    target: LAMBDA_NODE_TARGET,
    minify: true,
    sourcemap: true,
    sourcesContent: false,
  }),
  // Readable, so a stack trace in a bug report names our functions; no source map, which would
  // triple the package's size for little.
  bundle('lambda/cli.ts', 'dist/cli.mjs', { target: 'node20' }),
]);

if (process.argv.includes('--library')) {
  rmSync(join(ROOT, 'dist', 'lib'), { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(ROOT, 'tsconfig.build.json')], {
    stdio: 'inherit',
  });
}
