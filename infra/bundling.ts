/**
 * esbuild settings every ES module bundle of this project shares (the Lambda's, the CLI's, the
 * bench's reference bundles), and where the prebuilt Lambda bundle lives. Its own file, so the
 * build scripts can use it without loading aws-cdk-lib.
 */

/** The first line of the bundle: some dependencies are CommonJS and call require(), which an ES module does not have. */
export const ESM_REQUIRE_BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/** The SDK's ES module builds tree-shake; their CommonJS builds would double the bundle. */
export const MAIN_FIELDS = ['module', 'main'];

/**
 * The prebuilt handler, relative to the package root: scripts/build.ts writes it (with its
 * source map next to it), the construct copies it into the function's code asset.
 */
export const HANDLER_BUNDLE = { dir: 'dist/lambda', file: 'index.mjs' } as const;

/** The Node.js major version of the function's Lambda runtime, which the handler bundle targets. */
export const LAMBDA_NODE_MAJOR = 24;

/** esbuild's target for the handler bundle: the Lambda runtime's Node.js. */
export const LAMBDA_NODE_TARGET = `node${LAMBDA_NODE_MAJOR}`;
