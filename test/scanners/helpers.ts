import { clientFactory } from '../../lambda/aws.js';
import { parseConfig, type Config } from '../../lambda/config.js';
import type { ScanDeps } from '../../lambda/scanners/index.js';

/** A config with the given scanners for cluster `prod` in account 111122223333. */
export function configWith(scanners: string, extra = ''): Config {
  return parseConfig(`cluster: {name: prod, region: eu-west-1, accountID: "111122223333"}\n${extra}scanners:\n${scanners}`, 'test.yaml');
}

/** Real SDK clients (their transport mocked by the test or pointed at 127.0.0.1). */
export function deps(config: Config, baseDir = '/nonexistent', callerAccountId = async () => '999999999999'): ScanDeps {
  return { clients: clientFactory(config.aws, { region: config.cluster.region }), baseDir, callerAccountId };
}
