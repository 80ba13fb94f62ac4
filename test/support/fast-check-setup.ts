/**
 * Property tests explore new random inputs on every local run, but CI replays a fixed seed so a
 * submission's result does not depend on luck. Set FC_SEED to replay a failure seen elsewhere.
 */
import fc from 'fast-check';

const seed = process.env['FC_SEED'] ?? (process.env['CI'] ? '20261127' : undefined);
if (seed !== undefined) fc.configureGlobal({ seed: Number(seed) });
