/**
 * The package as a CDK user gets it: `npm pack` of this repository (its `prepare` builds the
 * bundles and the library), installed offline into a fresh, hand-made CDK app from the tarball
 * and the local npm cache. The app is TypeScript compiled to CommonJS, as `cdk init app` makes
 * it; `cdk synth` runs it with this repository's aws-cdk CLI. Nothing of this repository is on
 * the app's module path: only what the tarball holds.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { installIntoApp, packRepository, REPO_ROOT, type PackedTarball } from '../../scripts/package-install.js';

const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const CDK = join(REPO_ROOT, 'node_modules', 'aws-cdk', 'bin', 'cdk');
const ROLE = 'arn:aws:iam::111122223333:role/platform-team';

/** The user's app: the construct and its props from the package, typed. */
const APP_TS = `
import { App, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { EksAuthSync, type EksAuthSyncProps } from 'eks-auth-sync';

const app = new App();
const stack = new Stack(app, 'Consumer');
const props: EksAuthSyncProps = {
  config: {
    cluster: { name: 'prod', region: 'eu-west-1' },
    scanners: [
      { type: 'file', file: { path: 'team.yaml' } },
      { type: 'iam', name: 'iam-tags', iam: {} },
    ],
  },
  schedule: events.Schedule.rate(Duration.minutes(30)),
};
new EksAuthSync(stack, 'Sync', props);
`;

/** Misuse the types must catch: a prop of the wrong type, and an internal module's export. */
const WRONG_TS = `
import { App, Stack } from 'aws-cdk-lib';
import { EksAuthSync } from 'eks-auth-sync';
import { KubeClient } from 'eks-auth-sync';

new EksAuthSync(new Stack(new App(), 'S'), 'Sync', { config: {}, memorySize: '256' });
export const client = KubeClient;
`;

/** A program using the core functions from an ES module: an offline sync of a file source. */
const USE_MJS = `
import { parseConfig, runSync } from 'eks-auth-sync';
const config = parseConfig('cluster: {name: prod, region: eu-west-1}\\nscanners: [{type: file, file: {path: team.yaml}}]\\n', 'inline');
const report = await runSync({ config, configDir: process.cwd(), commit: false, offline: true });
process.stdout.write(JSON.stringify(report.mappings));
`;

const TSCONFIG = {
  compilerOptions: {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    strict: true,
    skipLibCheck: true,
    outDir: 'out',
    rootDir: '.',
    // A CDK app has @types/node; this one borrows the repository's rather than installing it.
    typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
    types: ['node'],
  },
  files: ['app.ts'],
};

let scratch: string;
let app: string;
let tarball: PackedTarball;
let compile: { status: number; output: string };
let template: Template;
let cloudAssembly: string;

/** Runs `command` in the app directory; throws with its stderr when it fails. */
function inApp(command: string, args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(command, args, { cwd: app, encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'eks-auth-sync-package-'));
  app = join(scratch, 'app');
  mkdirSync(app);
  tarball = await packRepository(scratch);
  await installIntoApp(app, tarball.path);
  writeFileSync(join(app, 'app.ts'), APP_TS);
  writeFileSync(join(app, 'wrong.ts'), WRONG_TS);
  writeFileSync(join(app, 'use.mjs'), USE_MJS);
  writeFileSync(join(app, 'tsconfig.json'), JSON.stringify(TSCONFIG, null, 2));
  writeFileSync(join(app, 'cdk.json'), JSON.stringify({ app: 'node out/app.js' }));
  writeFileSync(join(app, 'team.yaml'), `roles: [{rolearn: "${ROLE}", username: platform, groups: [platform-admins]}]\n`);
  writeFileSync(join(app, 'cluster.yaml'), 'cluster: {name: prod, region: eu-west-1}\nscanners: [{type: file, file: {path: team.yaml}}]\n');
  // Asynchronous: the worker must keep answering vitest while these take minutes under load.
  const run = promisify(execFile);
  compile = await run(process.execPath, [TSC, '-p', app], { cwd: app }).then(
    ({ stdout, stderr }) => ({ status: 0, output: `${stdout}${stderr}` }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ status: error.code ?? 1, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
  );
  if (compile.status !== 0) return;
  cloudAssembly = join(app, 'cdk.out');
  await run(process.execPath, [CDK, 'synth', '--output', cloudAssembly, '--no-notices', '--no-version-reporting', '--quiet'], {
    cwd: app,
    env: { ...process.env, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: 'true' },
  });
  template = Template.fromJSON(JSON.parse(readFileSync(join(cloudAssembly, 'Consumer.template.json'), 'utf8')));
}, 900_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

// Packing builds the library with tsc and installs about 200 MB from the cache: minutes under load.
describe('the npm package, installed into a fresh CDK app', { timeout: 120_000 }, () => {
  test('holds the built package only: no TypeScript sources, tests, scripts or the CLI\'s source map', () => {
    const outside = tarball.files.filter(
      (f) => !/^(bin\/eks-auth-sync\.mjs|dist\/cli\.mjs|dist\/lambda\/index\.mjs(\.map)?|dist\/lib\/.+\.(js|d\.ts)|package\.json|README\.md|CHANGELOG\.md|docs\/versioning\.md)$/.test(f),
    );
    expect(outside).toEqual([]);
    expect(tarball.files).toEqual(expect.arrayContaining(['dist/lambda/index.mjs', 'dist/lib/infra/index.js', 'dist/lib/infra/index.d.ts', 'CHANGELOG.md']));
    expect(tarball.files.some((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toBe(false);
  });

  test('a TypeScript app imports the construct and its props with their types', () => {
    expect(compile.output).toBe('');
    expect(compile.status).toBe(0);
  });

  test('the types catch a prop of the wrong type and an import of an internal module', () => {
    const wrong = spawnSync(process.execPath, [TSC, '--noEmit', ...tscFlags(), 'wrong.ts'], { cwd: app, encoding: 'utf8' });
    const output = `${wrong.stdout}${wrong.stderr}`;
    expect(wrong.status).not.toBe(0);
    expect(output).toMatch(/wrong\.ts.*error TS2305: Module '"eks-auth-sync"' has no exported member 'KubeClient'/);
    expect(output).toMatch(/wrong\.ts.*error TS2322: Type 'string' is not assignable to type 'number'/);
  });

  test('cdk synth: the function runs the prebuilt handler on Node.js 24, on the given schedule, with the derived policy', () => {
    template.hasResourceProperties('AWS::Lambda::Function', { Runtime: 'nodejs24.x', Handler: 'index.handler', Architectures: ['arm64'] });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(30 minutes)',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [Match.stringLikeRegexp('SyncFunction'), 'Arn'] } })],
    });
    const statements = Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as { Properties: { PolicyDocument: { Statement: { Sid?: string; Action: string | string[] }[] } } }).Properties.PolicyDocument.Statement,
    );
    const sids = statements.map((s) => s.Sid);
    expect(sids).toEqual(expect.arrayContaining(['DescribeTheCluster', 'ReadIamIdentities']));
    expect(JSON.stringify(statements)).toContain(':cluster/prod');
  });

  test('the code asset is the packaged handler with the config and its file; it loads without any node_modules', () => {
    const manifest = JSON.parse(readFileSync(join(cloudAssembly, 'Consumer.assets.json'), 'utf8')) as { files: Record<string, { source: { path: string } }> };
    const asset = Object.values(manifest.files).map((f) => join(cloudAssembly, f.source.path)).find((dir) => readdirSync(dir).includes('index.mjs'));
    if (asset === undefined) throw new Error(`no asset with index.mjs in ${cloudAssembly}`);
    const sha = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');
    expect(sha(join(asset, 'index.mjs'))).toBe(sha(join(app, 'node_modules', 'eks-auth-sync', 'dist', 'lambda', 'index.mjs')));
    const config = JSON.parse(readFileSync(join(asset, 'config.json'), 'utf8')) as { scanners: { file?: { path: string } }[] };
    expect(config.scanners[0]?.file?.path).toBe('files/0-team.yaml');
    expect(readFileSync(join(asset, 'files', '0-team.yaml'), 'utf8')).toContain(ROLE);
    // The asset directory has no node_modules above it that could supply a missing import.
    const loaded = execFileSync(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(asset, 'index.mjs'))}); process.stdout.write(typeof m.handler);`], {
      cwd: asset,
      encoding: 'utf8',
    });
    expect(loaded).toBe('function');
  });

  test('only the public entry can be imported: the internal modules are not exported', () => {
    const deep = spawnSync(process.execPath, ['-e', "import('eks-auth-sync/dist/lib/lambda/sync.js')"], { cwd: app, encoding: 'utf8' });
    expect(deep.status).not.toBe(0);
    expect(deep.stderr).toContain('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  test('an ES module program runs an offline sync with parseConfig and runSync from the package', () => {
    const mappings = JSON.parse(inApp(process.execPath, ['use.mjs'])) as { roles: { rolearn: string; username: string }[] };
    expect(mappings.roles).toEqual([expect.objectContaining({ rolearn: ROLE, username: 'platform' })]);
  });

  test('npx eks-auth-sync: --help, sync --offline and token run from the installed package', () => {
    expect(inApp('npx', ['--offline', 'eks-auth-sync', '--help'])).toMatch(/^Usage: eks-auth-sync <command>/);
    expect(inApp('npx', ['--offline', 'eks-auth-sync', 'sync', '--config', 'cluster.yaml', '--offline'])).toContain(`rolearn: ${ROLE}`);
    const credential = JSON.parse(
      inApp('npx', ['--offline', 'eks-auth-sync', 'token', '--cluster-name', 'prod', '--region', 'eu-west-1'], {
        AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      }),
    ) as { kind: string; status: { token: string } };
    expect(credential.kind).toBe('ExecCredential');
    expect(credential.status.token).toMatch(/^k8s-aws-v1\.[A-Za-z0-9_-]+$/);
  });
});

/** The app's compiler options as command-line flags, to check a file outside its `files`. */
function tscFlags(): string[] {
  const o = TSCONFIG.compilerOptions;
  return ['--target', o.target, '--module', o.module, '--moduleResolution', o.moduleResolution, '--strict', '--skipLibCheck', '--typeRoots', o.typeRoots.join(','), '--types', o.types.join(',')];
}
