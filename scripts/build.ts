/**
 * Bundles the CLI into dist/cli.mjs with esbuild. The Lambda bundle is built by the CDK
 * construct (infra/) so that what is tested is what is deployed.
 */
import { build } from 'esbuild';
import { ESM_REQUIRE_BANNER, MAIN_FIELDS } from '../infra/bundling.js';

await build({
  entryPoints: ['lambda/cli.ts'],
  outfile: 'dist/cli.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  mainFields: MAIN_FIELDS,
  sourcemap: 'linked',
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'warning',
});
