/**
 * The CLI: argv → command → stdout. `eks-auth-sync sync --config FILE` prints the mappings the
 * sources say aws-auth should hold; warnings go to stderr; any error is one `error: ...` message
 * and a non-zero exit.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from './config.js';
import { EksAuthSyncError } from './errors.js';
import { renderMappingsYaml, type Warning } from './mappings.js';
import { desiredState, scanDeps } from './sync.js';

/** Where the CLI reads and writes; `process` in real use, buffers in tests. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream;
}

const EXIT_OK = 0;
const EXIT_ERROR = 1;
const EXIT_USAGE = 2;

const HELP = `Usage: eks-auth-sync <command> [options]

Keeps the EKS aws-auth ConfigMap in step with IAM tags, SSM parameters, files and static config.

Commands:
  sync --config FILE   Scan every source in the config and print the mappings aws-auth
                       should hold, as YAML with top-level "users" and "roles" (a dry run:
                       nothing is written to the cluster).

Options:
  -c, --config FILE    The config file, YAML or JSON; "-" reads it from stdin. Relative
                       paths in it (file scanners) resolve against its directory (the
                       working directory for stdin).
  -h, --help           Show this help.

Output:
  stdout               The desired mappings, sorted by ARN: the same inputs always print the
                       same bytes. Role ARNs are written without their IAM path, as the
                       authenticator matches them.
  stderr               "warning: [scanner] ARN: message" for each skipped identity or entry
                       and each ARN more than one source maps (the scanner listed first in
                       the config wins); "error: message" when the run fails.

Exit status:
  0  the mappings were printed (warnings may have been reported)
  1  the run failed: invalid config, or a source that could not be read (a missing SSM
     parameter, invalid YAML, an AWS error after retries); nothing is printed to stdout
  2  invalid command line

AWS:
  The standard credential chain (environment, shared config and SSO profiles, container
  and instance roles) and region chain apply; the config's cluster.region is the default
  region, and "aws" sections (top level or per scanner) set roleARN, region, endpoint and
  maxRetries. AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_IAM,
  AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL_STS) are honoured, for LocalStack or VPC endpoints.

Examples:
  eks-auth-sync sync --config examples/local.yaml
  cat config.yaml | eks-auth-sync sync --config -
`;

/** A command-line mistake: reported with a pointer to --help and exit status 2. */
class UsageError extends Error {}

type Command = (args: string[], io: CliIo) => Promise<number>;

const syncOptions = {
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

const commands: Record<string, Command> = {
  async sync(args, io) {
    const { values } = parseCommandLine(args, syncOptions);
    if (values.help) return printHelp(io);
    if (values.config === undefined) throw new UsageError('sync: --config FILE is required ("-" reads stdin)');
    const { config, baseDir } = await loadConfig(values.config, io.stdin);
    const desired = await desiredState(config, scanDeps(config, baseDir));
    reportWarnings(desired.warnings, io);
    io.stdout.write(renderMappingsYaml(desired.mappings));
    return EXIT_OK;
  },
};

function parseCommandLine<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function printHelp(io: CliIo): number {
  io.stdout.write(HELP);
  return EXIT_OK;
}

function reportWarnings(warnings: readonly Warning[], io: CliIo): void {
  for (const w of warnings) {
    io.stderr.write(`warning: [${w.source}] ${w.subject !== undefined ? `${w.subject}: ` : ''}${w.message}\n`);
  }
}

/**
 * Runs the CLI with `argv` (without node and the script) and returns the exit status.
 * @example await main(['sync', '--config', 'examples/local.yaml'], process)
 */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      if (name === undefined) {
        io.stderr.write(HELP);
        return EXIT_USAGE;
      }
      return printHelp(io);
    }
    const command = commands[name];
    if (command === undefined) {
      const what = name.startsWith('-') ? `unknown option "${name}"; a command comes first` : `unknown command "${name}"`;
      throw new UsageError(`${what} (commands: ${Object.keys(commands).join(', ')})`);
    }
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`error: ${err.message}\nRun "eks-auth-sync --help" for usage.\n`);
      return EXIT_USAGE;
    }
    const message = err instanceof EksAuthSyncError ? err.message : `unexpected failure (a bug): ${(err as Error).stack ?? String(err)}`;
    io.stderr.write(`error: ${message}\n`);
    return EXIT_ERROR;
  }
}

/** True when this module is the program: run directly, or through the package's bin script. */
function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  let real: string;
  try {
    real = realpathSync(script);
  } catch {
    return false;
  }
  return real === fileURLToPath(import.meta.url) || basename(real) === 'eks-auth-sync.mjs';
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2), process);
}
