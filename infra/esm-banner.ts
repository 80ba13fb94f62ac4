/**
 * The first line of every ES module bundle (the Lambda's, the CLI's): some dependencies are
 * CommonJS and call require(), which an ES module does not have. Its own file, so the build
 * scripts can share it without loading aws-cdk-lib.
 */
export const ESM_REQUIRE_BANNER = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";
