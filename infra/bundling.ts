/**
 * esbuild settings every ES module bundle of this project shares (the Lambda's, the CLI's, the
 * bench's reference bundles). Its own file, so the build scripts can use it without loading
 * aws-cdk-lib.
 */

/** The first line of the bundle: some dependencies are CommonJS and call require(), which an ES module does not have. */
export const ESM_REQUIRE_BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/** The SDK's ES module builds tree-shake; their CommonJS builds would double the bundle. */
export const MAIN_FIELDS = ['module', 'main'];
