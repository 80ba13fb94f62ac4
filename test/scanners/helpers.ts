import { clientFactory } from '../../lambda/aws.js';
import { parseConfig, type Config } from '../../lambda/config.js';
import type { DesiredState } from '../../lambda/mappings.js';
import { runScanners, type ScanDeps } from '../../lambda/scanners/index.js';

/** A config with the given scanners for cluster `prod` in account 111122223333. */
export function configWith(scanners: string, extra = ''): Config {
  return parseConfig(`cluster: {name: prod, region: eu-west-1, accountID: "111122223333"}\n${extra}scanners:\n${scanners}`, 'test.yaml');
}

/** The account {@link deps} reports as the caller's unless told otherwise. */
export const CALLER_ACCOUNT = '999999999999';

/** Real SDK clients (their transport mocked by the test or pointed at 127.0.0.1). */
export function deps(config: Config, baseDir = '/nonexistent', callerAccountId = async () => CALLER_ACCOUNT): ScanDeps {
  return { clients: clientFactory(config.aws, { region: config.cluster.region }), baseDir, callerAccountId };
}

/** Runs the scanners of `config` with {@link deps}, relative file paths resolving against `baseDir`. */
export function scanWith(config: Config, baseDir?: string): Promise<DesiredState> {
  return runScanners(config, deps(config, baseDir));
}
