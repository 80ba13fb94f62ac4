/**
 * The CLI: argv → command → stdout. `eks-auth-sync sync --config FILE` prints the mappings the
 * sources say aws-auth should hold; warnings go to stderr; any error is one `error: ...` message
 * and a non-zero exit.
 */
import { realpathSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { PlannedEntry } from './targets/awsauth/index.js';
import { execCredential, presignToken } from './cluster/token.js';
import { isFleetConfig, loadAnyConfig, type FleetConfig } from './config.js';
import { ConfigError, EksAuthSyncError, FleetFailedError, TargetsFailedError } from './errors.js';
import { runFleet, type ClusterOutcome } from './fleet.js';
import { renderMappingsYaml, type Warning } from './mappings.js';
import type { Step } from './targets/access-entries/index.js';
import type { AccessScope } from './targets/access-entries/translate.js';
import { runSync, type SyncReport } from './sync.js';

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
                       should hold, as YAML with top-level "users" and "roles". Then reach
                       the cluster (DescribeCluster, an EKS token, aws-auth over HTTPS) and
                       show what a commit would change. A dry run: nothing is written
                       unless --commit is given. sync.target chooses where the mappings
                       go: aws-auth (configMap), EKS access entries (accessEntries, over
                       the EKS API only), both, or auto (the default), which follows the
                       cluster's authentication mode.
  token --cluster-name NAME [--region REGION]
                       Print the ExecCredential JSON that "aws eks get-token" prints: a
                       kubectl exec credential plugin.

Options for sync:
  -c, --config FILE    The config file, YAML or JSON; "-" reads it from stdin. Relative
                       paths in it (file scanners) resolve against its directory (the
                       working directory for stdin).
      --commit         Write the change to aws-auth (merge by default: entries eks-auth-sync
                       did not write are kept). Safety guards refuse the write, leaving
                       aws-auth untouched, when the sources are empty, when the change would
                       remove or alter the mapping of the identity running the tool, when it
                       removes more than sync.maxRemovals entries, when the result is over
                       1 MiB, or when aws-auth is unreadable.
      --offline        Only print the desired mappings; do not contact the cluster.
      --cluster NAME   With a clusters: config, sync only this cluster (repeat for more).
  -h, --help           Show this help.

Options for token:
      --cluster-name NAME   The EKS cluster the token is for (signed into the token).
      --region REGION       The cluster's region (default: the SDK's region chain).

Output of sync:
  stdout               The desired mappings, sorted by ARN: the same inputs always print the
                       same bytes. Role ARNs are written without their IAM path, as the
                       authenticator matches them.
  stderr               "target: ..." the target(s) chosen and why;
                       "warning: [scanner] ARN: message" for each skipped identity or entry
                       and each ARN more than one source maps (the scanner listed first in
                       the config wins); the change against the live aws-auth, one line per
                       entry: "+" added, "-" removed, "~" changed, "=" adopted (an
                       identical entry eks-auth-sync did not write, owned from then on),
                       each with its source;
                       the access-entry steps in the order a commit runs them (grants
                       first), each with its source and why; with both on an
                       API_AND_CONFIG_MAP cluster, whether an access entry covers each
                       aws-auth entry;
                       "error: message" when the run fails.
  With a clusters: config, each cluster in the config's order: on stdout its mappings as
  one YAML document headed "--- # cluster NAME"; on stderr "== cluster NAME ==" and then
  its lines as above, or "error: message" for a cluster that failed. The other clusters
  still run; the exit status is 1 when any cluster failed.

Exit status:
  0  done (warnings may have been reported; in a dry run the cluster may have been
     unreachable, which stderr says)
  1  the run failed: invalid config, a source that could not be read (a missing SSM
     parameter, invalid YAML, an AWS error after retries), a guard refused the write, or
     the cluster refused access; with --commit nothing was written
  2  invalid command line

AWS:
  The standard credential chain (environment, shared config and SSO profiles, container
  and instance roles) and region chain apply; the config's cluster.region is the default
  region, and "aws" sections (top level or per scanner) set roleARN, region, endpoint and
  maxRetries. The cluster is reached with the top-level settings. AWS_ENDPOINT_URL and
  AWS_ENDPOINT_URL_<SERVICE> (e.g. AWS_ENDPOINT_URL_IAM, AWS_ENDPOINT_URL_SSM,
  AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL_EKS) are honoured, for LocalStack or VPC endpoints.

Examples:
  eks-auth-sync sync --config examples/local.yaml --offline
  eks-auth-sync sync --config cluster.yaml            # dry run: shows the change
  eks-auth-sync sync --config cluster.yaml --commit   # applies it
  cat config.yaml | eks-auth-sync sync --config -
  eks-auth-sync token --cluster-name prod --region eu-west-1
`;

/** A command-line mistake: reported with a pointer to --help and exit status 2. */
class UsageError extends Error {}

type Command = (args: string[], io: CliIo) => Promise<number>;

const syncOptions = {
  config: { type: 'string', short: 'c' },
  commit: { type: 'boolean' },
  offline: { type: 'boolean' },
  cluster: { type: 'string', multiple: true },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

const tokenOptions = {
  'cluster-name': { type: 'string' },
  region: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} satisfies ParseArgsConfig['options'];

const commands: Record<string, Command> = {
  async sync(args, io) {
    const { values } = parseCommandLine(args, syncOptions);
    if (values.help) return printHelp(io);
    if (values.config === undefined) throw new UsageError('sync: --config FILE is required ("-" reads stdin)');
    if (values.commit && values.offline) throw new UsageError('sync: --commit needs the cluster; it cannot be combined with --offline');
    const { config, baseDir } = await loadAnyConfig(values.config, io.stdin);
    const run = { configDir: baseDir, commit: values.commit === true, offline: values.offline === true, tolerateUnreachableCluster: true };
    if (isFleetConfig(config)) return syncFleet(config, run, values.cluster, io);
    const other = values.cluster?.find((name) => name !== config.cluster.name);
    if (other !== undefined) throw new ConfigError(`--cluster ${other}: the config's only cluster is ${config.cluster.name}`);
    const report = await runSync({ ...run, config });
    reportWarnings(report.warnings, io);
    io.stdout.write(renderMappingsYaml(report.mappings));
    io.stderr.write(describeOutcome(report));
    return EXIT_OK;
  },

  async token(args, io) {
    const { values } = parseCommandLine(args, tokenOptions);
    if (values.help) return printHelp(io);
    const clusterName = values['cluster-name'];
    if (clusterName === undefined || clusterName === '') throw new UsageError('token: --cluster-name NAME is required');
    io.stdout.write(await tokenFor(clusterName, values.region));
    return EXIT_OK;
  },
};

/**
 * The ExecCredential for `clusterName`, signed with the standard credential chain's
 * credentials, exactly as `aws eks get-token` would print it.
 */
async function tokenFor(clusterName: string, regionOption: string | undefined): Promise<string> {
  const sts = new STSClient(regionOption === undefined ? {} : { region: regionOption });
  let region: string;
  try {
    region = await sts.config.region();
  } catch {
    throw new EksAuthSyncError('token: no region: pass --region or set AWS_REGION');
  }
  let credentials: AwsCredentialIdentity;
  try {
    credentials = await sts.config.credentials();
  } catch (err) {
    throw new EksAuthSyncError(`token: no AWS credentials found (${(err as Error).message})`);
  }
  const now = new Date();
  const { token, expiration } = await presignToken({ clusterName, region, credentials, now });
  return execCredential(token, expiration);
}

// ---- many clusters (clusters:) ----------------------------------------------------------------
/** Syncs a fleet and prints each cluster under its heading; 1 when any cluster failed. */
async function syncFleet(config: FleetConfig, run: Omit<Parameters<typeof runSync>[0], 'config'>, only: string[] | undefined, io: CliIo): Promise<number> {
  let outcomes: ClusterOutcome[];
  let failure: FleetFailedError | undefined;
  try {
    outcomes = (await runFleet({ ...run, config, ...(only === undefined ? {} : { only }) })).clusters;
  } catch (err) {
    if (!(err instanceof FleetFailedError)) throw err;
    failure = err;
    outcomes = err.report.clusters;
  }
  for (const { cluster, report, error } of outcomes) {
    io.stderr.write(`== cluster ${cluster} ==\n`);
    if (report !== undefined) {
      io.stdout.write(`--- # cluster ${cluster}\n${renderMappingsYaml(report.mappings)}`);
      reportWarnings(report.warnings, io);
      io.stderr.write(describeOutcome(report));
    }
    if (error !== undefined) io.stderr.write(`error: ${error instanceof EksAuthSyncError ? error.message : describeBug(error)}\n`);
  }
  if (failure === undefined) return EXIT_OK;
  const { failed, clusters } = failure.report;
  io.stderr.write(`error: ${failed.length} of ${clusters.length} clusters failed: ${failed.join(', ')}\n`);
  return EXIT_ERROR;
}
// ---- end of many clusters

function describeBug(err: unknown): string {
  return `unexpected failure (a bug): ${(err as Error).stack ?? String(err)}`;
}

/** The target chosen, then each target's change against the cluster (or why there is none), for stderr. */
function describeOutcome(report: SyncReport): string {
  if (report.target === undefined) {
    return report.clusterError === undefined
      ? ''
      : `note: the cluster was not reached, so only the desired mappings are shown: ${report.clusterError}\n`;
  }
  const { target } = report;
  let out = `target: ${target.targets.join(' and ')} (${target.reason})\n`;
  if (target.note !== undefined) out += `note: ${target.note}\n`;
  if (report.change !== null) out += describeAwsAuth(report, report.change);
  if (report.accessEntries !== null) out += describeAccessEntries(report, report.accessEntries);
  if (report.migration !== undefined) {
    out += 'migration: each aws-auth entry and the access entry that covers it:\n';
    for (const row of report.migration) out += `  ${row.accessEntry ? '=' : '!'} ${row.kind} ${row.arn}: ${row.note}\n`;
  }
  for (const [name, message] of Object.entries(report.targetErrors)) out += `failed: ${name}: ${message}\n`;
  return out;
}

/** The aws-auth change, one line per entry. */
function describeAwsAuth(report: SyncReport, change: NonNullable<SyncReport['change']>): string {
  const lines = [`aws-auth in cluster ${report.cluster?.name ?? '?'} (as ${report.identity ?? '?'}):`];
  for (const e of change.added) lines.push(`  + ${entryLine(e)}  (from ${e.source})`);
  for (const e of change.removed) lines.push(`  - ${entryLine(e)}  (was ${e.source})`);
  for (const { before, after } of change.changed) {
    lines.push(`  ~ ${entryLine(before)}  (was ${before.source})`);
    lines.push(`    → ${entryLine(after)}  (from ${after.source})`);
  }
  for (const e of change.adopted) lines.push(`  = ${entryLine(e)}  (from ${e.source}; adopted: identical, not written by eks-auth-sync)`);
  // An adoption changes no entry, but the ownership record is written.
  const total = change.added.length + change.removed.length + change.changed.length + change.adopted.length;
  const adopted = change.adopted.length > 0 ? ` (${change.adopted.length} adopted)` : '';
  lines.push(
    `  ${change.added.length} to add, ${change.removed.length} to remove, ${change.changed.length} to change; ` +
      `${change.unchanged} unchanged${adopted}; ${change.keptForeign} not managed by eks-auth-sync (kept)`,
  );
  if (report.committed) lines.push(report.created ? 'committed: aws-auth created.' : 'committed: aws-auth updated.');
  else if (total === 0) lines.push('no change: nothing to write.');
  else if (report.dryRun) lines.push('dry run: nothing written; run again with --commit to apply.');
  return `${lines.join('\n')}\n`;
}

/** The access-entries plan, one line per step in the order apply runs them, each with its source and why. */
function describeAccessEntries(report: SyncReport, outcome: NonNullable<SyncReport['accessEntries']>): string {
  const { plan, applied } = outcome;
  const lines = [`access entries of cluster ${report.cluster?.name ?? '?'} (as ${report.identity ?? '?'}):`];
  for (const step of plan.steps) lines.push(`  ${stepLine(step)}`);
  lines.push(
    `  ${plan.creates.length} to create, ${plan.updates.length} to update, ${plan.deletes.length} to delete, ` +
      `${plan.associations.length} to associate, ${plan.disassociations.length} to disassociate; ` +
      `${plan.unchanged.length} unchanged; ${plan.keptForeign.length} not managed by eks-auth-sync (kept)`,
  );
  if (outcome.committed) lines.push(`committed: ${applied} step${applied === 1 ? '' : 's'} applied.`);
  else if (plan.steps.length === 0) lines.push('no change: nothing to write.');
  else if (report.dryRun) lines.push('dry run: nothing written; run again with --commit to apply.');
  return `${lines.join('\n')}\n`;
}

function stepLine(step: Step): string {
  const groups = (g: readonly string[]) => `[${g.join(', ')}]`;
  const why = (w: readonly string[]) => (w.length === 0 ? '' : `; ${w.join('; ')}`);
  switch (step.action) {
    case 'create':
      return `+ create ${step.type} ${step.principalArn} → ${step.username ?? "EKS's default username"} ${groups(step.kubernetesGroups)}  (from ${step.source}${why(step.why)})`;
    case 'associate':
      return `+ associate ${step.principalArn} ${policyName(step.policyArn)} at ${scopeText(step.scope)}${step.before ? ` (was ${scopeText(step.before)})` : ''}  (from ${step.source})`;
    case 'update':
      return `~ update ${step.principalArn} ${step.before.username} ${groups(step.before.kubernetesGroups)} → ${step.username} ${groups(step.kubernetesGroups)}  (from ${step.source}${why(step.why)})`;
    case 'disassociate':
      return `- disassociate ${step.principalArn} ${policyName(step.policyArn)}  (from ${step.source})`;
    case 'delete':
      return `- delete ${step.type} ${step.principalArn}  (${step.reason === 'type change' ? `type change, from ${step.source}` : `was ${step.source}`})`;
  }
}

function policyName(arn: string): string {
  return arn.slice(arn.lastIndexOf('/') + 1);
}

function scopeText(scope: AccessScope): string {
  return scope.type === 'cluster' ? 'cluster scope' : `namespaces ${scope.namespaces.join(', ')}`;
}

function entryLine(e: PlannedEntry): string {
  return `${e.kind} ${e.arn} → ${e.username} [${e.groups.join(', ')}]`;
}

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
    // Own keys only: `constructor` or `__proto__` on the command line must be an unknown command, not a crash.
    const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
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
    // In `both`, the target that did not fail did its work: show it before the error.
    if (err instanceof TargetsFailedError) {
      reportWarnings(err.report.warnings, io);
      io.stderr.write(describeOutcome(err.report));
    }
    const message = err instanceof EksAuthSyncError ? err.message : describeBug(err);
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
  // The SDK warns on every run under Node.js 20 that its 2027 releases will need Node.js 22; the
  // CLI supports what package.json's engines field says, and its user can do nothing about the
  // SDK's plans. An explicit setting of the variable is left as it is.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';
  process.exitCode = await main(process.argv.slice(2), process);
}
