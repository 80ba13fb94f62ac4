/**
 * Bundles the CLI into dist/cli.mjs with esbuild. The Lambda bundle is built by the CDK
 * construct (infra/) so that what is tested is what is deployed.
 */
import { build } from 'esbuild';

await build({
  entryPoints: ['lambda/cli.ts'],
  outfile: 'dist/cli.mjs',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  mainFields: ['module', 'main'],
  sourcemap: 'linked',
  // Some dependencies are CommonJS and call require(); give the ES module bundle one.
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
