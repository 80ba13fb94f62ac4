/**
 * The flow, top-down: config → scan every source → desired mappings (→ plan → apply, in the
 * cluster part).
 */
import { GetCallerIdentityCommand } from '@aws-sdk/client-sts';
import { clientFactory } from './aws.js';
import type { Config } from './config.js';
import { EksAuthSyncError } from './errors.js';
import type { DesiredState } from './mappings.js';
import { runScanners, type ScanDeps } from './scanners/index.js';

/** What aws-auth should hold according to every configured source. */
export function desiredState(config: Config, deps: ScanDeps): Promise<DesiredState> {
  return runScanners(config, deps);
}

/**
 * The real dependencies for a run: SDK clients from the config's `aws` sections (default region:
 * the cluster's), and the caller's account asked of STS at most once, only if a scanner needs it.
 */
export function scanDeps(config: Config, baseDir: string): ScanDeps {
  const clients = clientFactory(config.aws, { region: config.cluster.region });
  let account: Promise<string> | undefined;
  const callerAccountId = (): Promise<string> => {
    account ??= clients.sts().send(new GetCallerIdentityCommand({})).then((out) => {
      if (!out.Account) throw new EksAuthSyncError('STS GetCallerIdentity returned no account; set cluster.accountID');
      return out.Account;
    });
    return account;
  };
  return { clients, baseDir, callerAccountId };
}
