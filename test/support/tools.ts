/**
 * Where the tests find the command-line tools they compare the stand-ins with, looked up in one
 * place so .ci/run, the tests and a developer's machine agree.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The aws-cli 1.x from pip that has the access-entry commands (Debian's aws-cli 2.9 predates
 * them): `ACCESS_ENTRY_AWS_CLI` when set, else `bin/aws` of the newest Python under pyenv
 * (`$PYENV_ROOT`, default `/root/.pyenv`) that has one; undefined when there is none.
 */
export function accessEntryCli(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const named = env['ACCESS_ENTRY_AWS_CLI'];
  if (named !== undefined && named !== '') return named;
  const versions = join(env['PYENV_ROOT'] ?? '/root/.pyenv', 'versions');
  if (!existsSync(versions)) return undefined;
  const candidates = readdirSync(versions)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .map((v) => join(versions, v, 'bin', 'aws'))
    .filter((p) => existsSync(p));
  return candidates.at(-1);
}

/**
 * The access-entry CLI, or an error saying how to provide it: in CI (`CI` set) a missing tool
 * fails its tests instead of skipping them.
 */
export function requireAccessEntryCli(env: NodeJS.ProcessEnv = process.env): string {
  const cli = accessEntryCli(env);
  if (cli === undefined || !existsSync(cli)) {
    throw new Error(`aws-cli 1.x from pip not found (${cli ?? `no bin/aws under ${env['PYENV_ROOT'] ?? '/root/.pyenv'}/versions`}): install it with pip under pyenv or set ACCESS_ENTRY_AWS_CLI to its path`);
  }
  return cli;
}
