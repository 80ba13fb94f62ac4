/**
 * The package's public API, `import { … } from 'eks-auth-sync'`: the CDK construct and its props,
 * the configuration's types and loaders, and the core functions a program calls (one sync, one
 * EKS token). Only what is exported here is public (see docs/versioning.md); every other module
 * is internal and the package's `exports` map keeps it out of reach.
 */
export { EksAuthSync, type EksAuthSyncProps } from './eks-auth-sync.js';
export { settingsFromConfig, type AppSettings } from './settings.js';
export {
  loadConfig,
  parseConfig,
  parseYamlText,
  validateConfig,
  type AwsSettings,
  type Config,
  type FileScannerConfig,
  type IamScannerConfig,
  type ScannerConfig,
  type SsmScannerConfig,
  type StaticScannerConfig,
  type SyncSettings,
} from '../lambda/config.js';
export { runSync, type Change, type RunOptions, type SyncReport } from '../lambda/sync.js';
export { execCredential, presignToken } from '../lambda/cluster/token.js';
export { ConfigError, EksAuthSyncError, GuardRefusalError } from '../lambda/errors.js';
