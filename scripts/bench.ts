/**
 * `npm run bench`: the project's speed and size figures, measured side by side in one run.
 *
 * Every sync runs the deployed Lambda bundle (built through the CDK construct) in a fresh node
 * process, as a manual dry-run invoke, against the stand-ins with 30 ms latency on every AWS
 * call and IAM limited to 20 requests per second; the config maps IAM tags, 50 IAM groups and 10
 * Identity Center permission sets, all in the run's mode. The original tool's algorithm runs in this
 * process against the same stand-ins. Runs that would take minutes are measured at 700
 * identities and scaled linearly, and labelled so. Then the access-entries target against an
 * API-mode cluster (scripts/bench-access-entries.ts). Exits 1 when a sync fails or a target is
 * missed, 2 when the watchdog stops it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import type { HandlerResponse } from '../lambda/handler.js';
import { generateDataset } from '../test/support/aws-standins/index.js';
import { buildBundle, invokeBundle, lambdaEnv, metric, type Bundle } from '../test/support/bundle.js';
import { startEnvironment, type Environment } from '../test/support/environment.js';
import { sdkClientImports, sdkReferenceEntry, type SdkClientImports } from './bench-references.js';
import { ACCESS_ENTRIES, ACCESS_ENTRIES_SETUP, benchAccessEntries, type AccessEntriesRun } from './bench-access-entries.js';
import { originalIamScan } from './original-algorithm.js';
import { benchFleet } from './bench-fleet.js';
import { ESM_REQUIRE_BANNER, MAIN_FIELDS } from '../infra/bundling.js';

const LATENCY_MS = 30;
const IAM_REQUESTS_PER_SECOND = 20;
const SIZES = [
  { roles: 500, users: 200 },
  { roles: 5_000, users: 2_000 },
] as const;
const COLD_START_RUNS = 9;
/** A hard stop, so a stuck run never outlives a CI job. */
const WATCHDOG_MS = 15 * 60_000;

const TARGET = { calls: 20, wallMs: 3_000, speedup: 50, ownLoadMs: 50, peakMb: 128 };

type Mode = 'bulk' | 'perIdentity';

interface SyncRun {
  calls: number;
  byAction: string;
  wallMs: number;
  mappings: number;
  peakRssMb: number;
  /** CPU time of the whole process (start, import, invoke): less sensitive than wall time to a busy machine. */
  cpuMs: number;
}

/**
 * Preloaded into each sync's process: writes its peak resident memory in KB and its CPU time when it exits. On
 * Linux that is VmHWM: `resourceUsage().maxRSS` would also count the memory of the (large)
 * process it was forked from, because Linux carries the high-water mark across exec.
 */
const PEAK_MEMORY_REPORTER = `
process.on('exit', () => {
  const fs = require('node:fs');
  const kb = Number(/VmHWM:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);
  const cpu = process.cpuUsage();
  fs.writeFileSync(process.env.BENCH_USAGE_FILE, JSON.stringify({ peakKb: kb, cpuMs: (cpu.user + cpu.system) / 1000 }));
});
`;

const print = (line = ''): void => void process.stdout.write(`${line}\n`);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
};
const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtS = (ms: number): string => (ms >= 10_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`);
const fmtKb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;
const verdict = (pass: boolean): string => (pass ? 'PASS' : 'MISS');

/** A bench step that did not work; the figures would be meaningless. */
class BenchRunError extends Error {
  override name = 'BenchRunError';
}

/** IAM groups and permission sets the bench maps, beside the tags (issue 12's figure). */
const MAPPED = { groups: 50, permissionSets: 10 } as const;
const pad = (i: number): string => String(i).padStart(2, '0');

function benchConfig(mode: Mode): Record<string, unknown> {
  return {
    cluster: { name: 'bench', region: 'eu-west-1' },
    scanners: [
      { type: 'iam', name: 'iam-tags', iam: { mode } },
      {
        type: 'iamGroups', name: 'groups',
        iamGroups: { mode, groups: Array.from({ length: MAPPED.groups }, (_, i) => ({ name: `group-${pad(i)}`, username: 'user:{{UserName}}', groups: [`team-${pad(i)}`] })) },
      },
      {
        type: 'identityCenter', name: 'sso',
        identityCenter: { mode, permissionSets: Array.from({ length: MAPPED.permissionSets }, (_, i) => ({ name: `PermissionSet${pad(i)}`, groups: ['viewers'] })) },
      },
    ],
  };
}

function callSummary(world: Environment): { calls: number; byAction: string } {
  const parts: string[] = [];
  for (const [service, actions] of Object.entries(world.aws.calls())) {
    for (const [action, n] of Object.entries(actions)) parts.push(`${service}:${action} ${n}`);
  }
  const throttled = Object.values(world.aws.iam.throttled()).reduce((a, b) => a + b, 0);
  if (throttled > 0) parts.push(`(${throttled} of them throttled)`);
  return { calls: world.aws.totalCalls(), byAction: parts.join(', ') };
}

/**
 * One manual dry-run invoke of the bundle in a fresh process. The wall time is the handler's
 * own `DurationMs` metric (the invoke, not the process start); peak memory is the process's
 * peak resident memory, reported by a preloaded module when the process exits.
 */
async function runBundle(bundle: Bundle, world: Environment, scratch: string): Promise<SyncRun> {
  const usageFile = join(scratch, 'usage.json');
  rmSync(usageFile, { force: true });
  world.aws.reset();
  const outcome = await invokeBundle(bundle, { dryRun: true }, {
    env: {
      ...world.env(),
      NODE_OPTIONS: `${bundle.environment['NODE_OPTIONS'] ?? ''} --require ${join(scratch, 'usage.cjs')}`,
      BENCH_USAGE_FILE: usageFile,
    },
  });
  if (outcome.error) throw new BenchRunError(`the dry run failed: ${outcome.error.name}: ${outcome.error.message}`);
  const response = outcome.result as HandlerResponse;
  const wallMs = metric(outcome, 'DurationMs');
  if (wallMs === undefined) throw new BenchRunError('the handler published no DurationMs metric');
  const usage = JSON.parse(readFileSync(usageFile, 'utf8')) as { peakKb: number; cpuMs: number };
  return {
    ...callSummary(world),
    wallMs,
    mappings: response.desired.roles + response.desired.users,
    peakRssMb: usage.peakKb / 1024,
    cpuMs: usage.cpuMs,
  };
}

async function runOriginal(world: Environment): Promise<{ calls: number; byAction: string; wallMs: number; mappings: number }> {
  world.aws.reset();
  const started = performance.now();
  const found = await originalIamScan({ iam: world.aws.clientConfig('iam'), sts: world.aws.clientConfig('sts') }, world.clusterName);
  const wallMs = performance.now() - started;
  return { ...callSummary(world), wallMs, mappings: found.roles + found.users };
}

/**
 * Two bundles that are not the function, built the way the construct bundles it, to put the
 * cold-start figure in proportion on the machine at hand:
 * - `sdk`: the AWS SDK clients the function imports, with the names it imports from them, and
 *   nothing else. Read from the function's own bundle (`sdkClientImports`), so the row follows
 *   the code: what is left of the function's load over it is our own code's share;
 * - `floor`: what any implementation must load whatever its AWS client: the config schema, the
 *   aws-auth YAML parser and renderer, the token's SigV4 signing and the Kubernetes HTTPS
 *   client (our core modules, without the AWS SDK or Powertools).
 */
const FLOOR_ENTRY = `export * as config from './lambda/config.js';
export * as awsauth from './lambda/targets/awsauth/index.js';
export * as mappings from './lambda/mappings.js';
export * as token from './lambda/cluster/token.js';
export * as kube from './lambda/cluster/kube.js';`;
type Reference = 'sdk' | 'floor';
const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Builds both references as the construct builds the function (minified ESM for node24, the same banner). */
async function buildReferences(dir: string, clients: readonly SdkClientImports[]): Promise<Record<Reference, { entry: string; bytes: number }>> {
  const entries: Record<Reference, string> = {
    sdk: sdkReferenceEntry(clients),
    floor: FLOOR_ENTRY,
  };
  const built = {} as Record<Reference, { entry: string; bytes: number }>;
  for (const [name, contents] of Object.entries(entries) as [Reference, string][]) {
    const entry = join(dir, `${name}.mjs`);
    await build({
      stdin: { contents, resolveDir: PROJECT_ROOT, loader: 'ts', sourcefile: `${name}.ts` },
      outfile: entry,
      bundle: true,
      platform: 'node',
      target: 'node24',
      format: 'esm',
      minify: true,
      mainFields: MAIN_FIELDS,
      banner: { js: ESM_REQUIRE_BANNER },
      logLevel: 'warning',
    });
    built[name] = { entry, bytes: statSync(entry).size };
  }
  return built;
}

/**
 * Median time to start node and import each module with the function's environment, against
 * bare `node -e ''`, interleaved so that a change in the machine's load affects all alike.
 */
function coldStart(bundle: Bundle, references: Record<Reference, { entry: string }>): { bareMs: number; deployedMs: number } & Record<Reference, number> {
  const env = lambdaEnv(bundle);
  const importer = (file: string): string[] => ['--input-type=module', '-e', `await import(${JSON.stringify(pathToFileURL(file).href)});`];
  const time = (args: string[]): number => {
    const started = performance.now();
    const run = spawnSync(process.execPath, args, { env, cwd: bundle.dir, stdio: 'ignore' });
    if (run.status !== 0) throw new BenchRunError(`node ${args.join(' ')} exited with ${run.status}`);
    return performance.now() - started;
  };
  const runs = { bare: [] as number[], deployed: [] as number[], sdk: [] as number[], floor: [] as number[] };
  for (let i = 0; i < COLD_START_RUNS; i++) {
    runs.bare.push(time(['-e', '']));
    runs.deployed.push(time(importer(bundle.entry)));
    runs.sdk.push(time(importer(references.sdk.entry)));
    runs.floor.push(time(importer(references.floor.entry)));
  }
  return { bareMs: median(runs.bare), deployedMs: median(runs.deployed), sdk: median(runs.sdk), floor: median(runs.floor) };
}

interface Row {
  figure: string;
  small: string;
  full: string;
  target: string;
  result: string;
}

/** The access-entry figures beside their targets: no write call without a change, each run within 1.3× its read floor. */
function accessEntryRows(noChange: AccessEntriesRun, changed: AccessEntriesRun): Row[] {
  const ratio = (r: AccessEntriesRun): number => r.wallMs / r.floorMs;
  const withinFloor = (r: AccessEntriesRun): boolean => ratio(r) <= ACCESS_ENTRIES.floorRatio;
  const calls = (c: AccessEntriesRun['reads']): string => `${fmtInt(c.calls)}${c.throttled > 0 ? ` (${fmtInt(c.throttled)} throttled)` : ''}`;
  return [
    { figure: 'EKS read calls (every attempt)', small: calls(noChange.reads), full: calls(changed.reads), target: '', result: '' },
    { figure: 'EKS write calls (every attempt)', small: calls(noChange.writes), full: calls(changed.writes), target: '0 with no change', result: verdict(noChange.writes.calls === 0) },
    { figure: 'Wall time', small: fmtS(noChange.wallMs), full: fmtS(changed.wallMs), target: '', result: '' },
    { figure: 'Read floor (reads the design must make ÷ rate limit)', small: `${fmtS(noChange.floorMs)} (${fmtInt(noChange.floorReads)} reads)`, full: `${fmtS(changed.floorMs)} (${fmtInt(changed.floorReads)} reads)`, target: '', result: '' },
    { figure: 'Wall time ÷ read floor', small: `${ratio(noChange).toFixed(2)}×`, full: `${ratio(changed).toFixed(2)}×`, target: `≤ ${ACCESS_ENTRIES.floorRatio}× both runs`, result: verdict(withinFloor(noChange) && withinFloor(changed)) },
  ];
}

async function main(): Promise<boolean> {
  const benchStarted = performance.now();
  print(`eks-auth-sync bench: node ${process.version}, ${LATENCY_MS} ms latency per AWS call, IAM limited to ${IAM_REQUESTS_PER_SECOND} requests/s`);
  print(`Machine: ${availableParallelism()} CPUs, load average ${loadavg()[0]?.toFixed(1)} at the start`);
  const scratch = mkdtempSync(join(tmpdir(), 'eks-auth-sync-bench-'));
  writeFileSync(join(scratch, 'usage.cjs'), PEAK_MEMORY_REPORTER);
  const bundles: Partial<Record<Mode, Bundle>> = {};
  try {
    print('Building the deployed bundle (bulk and perIdentity configs)...');
    bundles.bulk = buildBundle({ config: benchConfig('bulk') });
    bundles.perIdentity = buildBundle({ config: benchConfig('perIdentity') });

    const results: { bulk: SyncRun[]; perIdentity?: SyncRun; original?: Awaited<ReturnType<typeof runOriginal>> } = { bulk: [] };
    const summaries: string[] = [];
    for (const size of SIZES) {
      const dataset = generateDataset({ ...size, seed: 1, ...MAPPED });
      const n = size.roles + size.users;
      const s = dataset.summary;
      summaries.push(`${fmtInt(n)} identities: ${s.taggedRoles + s.taggedUsers} tagged for the cluster (${s.invalidTagged} with values to refuse), ` +
        `${s.ssoRoles} Identity Center roles (${MAPPED.permissionSets} of them the mapped permission sets'), ${s.withPath} with a path, ` +
        `${MAPPED.groups} mapped IAM groups with ${dataset.account.users.filter((u) => (u.groups ?? []).length > 0).length} member users`);
      const world = await startEnvironment({
        aws: { dataset, all: { latencyMs: LATENCY_MS }, iam: { rateLimit: { requestsPerSecond: IAM_REQUESTS_PER_SECOND } } },
      });
      try {
        print(`${fmtInt(n)} identities: bulk mode...`);
        results.bulk.push(await runBundle(bundles.bulk, world, scratch));
        if (n <= 1_000) {
          print(`${fmtInt(n)} identities: perIdentity mode...`);
          results.perIdentity = await runBundle(bundles.perIdentity, world, scratch);
          print(`${fmtInt(n)} identities: the original algorithm...`);
          results.original = await runOriginal(world);
        }
      } finally {
        await world.close();
      }
    }
    const [small, full] = results.bulk;
    const { perIdentity, original } = results;
    if (!small || !full || !perIdentity || !original) throw new BenchRunError('a run is missing');
    const scale = (SIZES[1].roles + SIZES[1].users) / (SIZES[0].roles + SIZES[0].users);
    if (perIdentity.mappings !== small.mappings) {
      throw new BenchRunError(`perIdentity mode found ${perIdentity.mappings} mappings, bulk mode ${small.mappings}`);
    }

    print('Cold start...');
    const clients = await sdkClientImports(PROJECT_ROOT);
    const references = await buildReferences(scratch, clients);
    const cold = coldStart(bundles.bulk, references);
    const coldOver = cold.deployedMs - cold.bareMs;
    const ownLoad = cold.deployedMs - cold.sdk;
    const clientNames = clients.map((c) => c.client).join(', ');
    const speedupSmall = original.wallMs / small.wallMs;
    const speedupFull = (original.wallMs * scale) / full.wallMs;

    const rows: Row[] = [
      { figure: 'Bulk mode: AWS calls', small: fmtInt(small.calls), full: fmtInt(full.calls), target: `≤ ${TARGET.calls} at 7,000`, result: verdict(full.calls <= TARGET.calls) },
      { figure: 'Bulk mode: wall time', small: fmtS(small.wallMs), full: fmtS(full.wallMs), target: `< ${TARGET.wallMs / 1000} s at 7,000`, result: verdict(full.wallMs < TARGET.wallMs) },
      { figure: 'Bulk mode: CPU time of the process', small: fmtS(small.cpuMs), full: fmtS(full.cpuMs), target: '', result: '' },
      { figure: 'perIdentity mode: AWS calls', small: fmtInt(perIdentity.calls), full: `${fmtInt(perIdentity.calls * scale)} (scaled)`, target: '', result: '' },
      { figure: 'perIdentity mode: wall time', small: fmtS(perIdentity.wallMs), full: `${fmtS(perIdentity.wallMs * scale)} (scaled)`, target: '', result: '' },
      { figure: 'Original algorithm: AWS calls', small: fmtInt(original.calls), full: `${fmtInt(original.calls * scale)} (scaled)`, target: '', result: '' },
      { figure: 'Original algorithm: wall time', small: fmtS(original.wallMs), full: `${fmtS(original.wallMs * scale)} (scaled)`, target: '', result: '' },
      { figure: 'Bulk mode vs original: speed-up', small: `${speedupSmall.toFixed(0)}×`, full: `${speedupFull.toFixed(0)}× (vs scaled)`, target: `≥ ${TARGET.speedup}× at 7,000`, result: verdict(speedupFull >= TARGET.speedup) },
      { figure: 'Bundle size (index.mjs)', small: '', full: fmtKb(bundles.bulk.sizeBytes), target: '', result: '' },
      { figure: 'Cold-start load over bare node', small: '', full: `${coldOver.toFixed(0)} ms (${cold.deployedMs.toFixed(0)} vs ${cold.bareMs.toFixed(0)} ms)`, target: '', result: '' },
      { figure: `↳ reference: the AWS SDK clients the bundle imports (${clientNames}) alone`, small: '', full: `${(cold.sdk - cold.bareMs).toFixed(0)} ms (${fmtKb(references.sdk.bytes)})`, target: 'reference', result: '' },
      { figure: '↳ load − reference (our own code\'s share)', small: '', full: `${ownLoad.toFixed(0)} ms (${cold.deployedMs.toFixed(0)} vs ${cold.sdk.toFixed(0)} ms)`, target: `≤ ${TARGET.ownLoadMs} ms`, result: verdict(ownLoad <= TARGET.ownLoadMs) },
      { figure: '↳ for scale: our core without the AWS SDK', small: '', full: `${(cold.floor - cold.bareMs).toFixed(0)} ms (${fmtKb(references.floor.bytes)})`, target: 'reference', result: '' },
      { figure: 'Peak memory, bulk dry run (VmHWM)', small: `${small.peakRssMb.toFixed(0)} MB`, full: `${full.peakRssMb.toFixed(0)} MB`, target: `≤ ${TARGET.peakMb} MB at 7,000`, result: verdict(full.peakRssMb <= TARGET.peakMb) },
    ];

    print(`Access entries: ${ACCESS_ENTRIES.managed} managed, a run with nothing to change, then one with ${ACCESS_ENTRIES.changes} changes...`);
    const entries = await benchAccessEntries();
    const entryRows = accessEntryRows(entries.noChange, entries.changed);

    print();
    print('| Figure | 700 identities | 7,000 identities | Target | Result |');
    print('|---|--:|--:|---|---|');
    for (const r of rows) print(`| ${r.figure} | ${r.small} | ${r.full} | ${r.target} | ${r.result} |`);
    print();
    print(`| Access entries (${ACCESS_ENTRIES.latencyMs} ms per EKS call, EKS limited to ${ACCESS_ENTRIES.eksRequestsPerSecond} requests/s) | No change | ${ACCESS_ENTRIES.changes} changes | Target | Result |`);
    print('|---|--:|--:|---|---|');
    for (const r of entryRows) print(`| ${r.figure} | ${r.small} | ${r.full} | ${r.target} | ${r.result} |`);
    print();
    print('Datasets (generateDataset, seed 1):');
    for (const line of summaries) print(`- ${line}`);
    print(`Mappings found: bulk ${small.mappings} / ${full.mappings}, perIdentity ${perIdentity.mappings}, original ${original.mappings} (700; it has no refusal rules and drops Fargate roles)`);
    print('AWS calls per action:');
    print(`- bulk, 700: ${small.byAction}`);
    print(`- bulk, 7,000: ${full.byAction}`);
    print(`- perIdentity, 700: ${perIdentity.byAction}`);
    print(`- original, 700: ${original.byAction}`);
    print(`- access entries, no change: ${entries.noChange.byAction}`);
    print(`- access entries, ${ACCESS_ENTRIES.changes} changes: ${entries.changed.byAction}`);
    print(`Sources: IAM tags, ${MAPPED.groups} IAM groups and ${MAPPED.permissionSets} permission sets, in the run's mode (perIdentity: one GetGroup per group and one ListRoles, scaled like the rest).`);
    print(`Syncs: the deployed bundle, a manual {"dryRun": true} invoke in a fresh node process each; wall time is the handler's DurationMs metric. ` +
      `Cold start: median of ${COLD_START_RUNS} interleaved runs of \`node -e ''\` and \`node --input-type=module -e "await import(file)"\` for the bundle and the two references ` +
      `(the AWS SDK clients the bundle imports, with the names it imports from them, alone; config, aws-auth, token and Kubernetes client modules without the SDK or Powertools), built as the construct builds. ` +
      `Scaled: the 700-identity figure × ${scale}. Bench took ${fmtS(performance.now() - benchStarted)}; load average ${loadavg()[0]?.toFixed(1)} at the end.`);
    print(`Access entries: ${ACCESS_ENTRIES_SETUP}`);
    // Many clusters: its own table and notes (scripts/bench-fleet.ts).
    print();
    const fleetMet = await benchFleet(print);
    return [...rows, ...entryRows].every((r) => r.result !== 'MISS') && fleetMet;
  } finally {
    bundles.bulk?.dispose();
    bundles.perIdentity?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  }
}

const watchdog = setTimeout(() => {
  process.stderr.write(`BENCH FAILED: still running after ${WATCHDOG_MS / 60_000} minutes\n`);
  process.exit(2);
}, WATCHDOG_MS);
watchdog.unref();
try {
  const allMet = await main();
  if (!allMet) print('\nAt least one target was missed (MISS above).');
  process.exitCode = allMet ? 0 : 1;
} catch (error) {
  process.stderr.write(`\nBENCH FAILED: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exitCode = 1;
}
