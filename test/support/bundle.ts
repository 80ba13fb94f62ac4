/**
 * THE artifact the stack deploys: the EksAuthSync construct is synthesized (staging the prebuilt
 * dist/lambda handler with the config, exactly as `cdk synth`/`cdk deploy` do) and the function's
 * code asset is taken from the cloud assembly. Handler tests, the demo and the bench run this directory, so they
 * run what `cdk deploy` would upload, config.json included.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { EksAuthSync, type EksAuthSyncProps } from '../../infra/eks-auth-sync.js';

/** The deployed function's code, unzipped. */
export interface Bundle {
  /** The asset directory: index.mjs, index.mjs.map, config.json, files/. */
  dir: string;
  /** The handler module, `<dir>/index.mjs`. */
  entry: string;
  /** The size of index.mjs in bytes (what Node loads at cold start; the map is read only on errors). */
  sizeBytes: number;
  /** The function's environment as the stack sets it. */
  environment: Record<string, string>;
  /** Deletes the cloud assembly. */
  dispose(): void;
}

interface TemplateResource {
  Type: string;
  Properties: { Code?: { S3Key?: string }; Environment?: { Variables?: Record<string, string> } };
}

/**
 * Synthesizes the stack for `props` into a temporary cloud assembly and returns the function's
 * asset. Takes a few seconds (CDK synth), so call it once per test file or script.
 *
 * @example
 * const bundle = buildBundle({ config: { cluster: { name: 'demo' }, scanners: [...] } });
 * const result = await invokeBundle(bundle, { dryRun: true });
 */
export function buildBundle(props: EksAuthSyncProps): Bundle {
  const outdir = mkdtempSync(join(tmpdir(), 'eks-auth-sync-cdk-'));
  const app = new App({ outdir });
  const stack = new Stack(app, 'EksAuthSyncBundle');
  new EksAuthSync(stack, 'EksAuthSync', props);
  const assembly = app.synth();
  const artifact = assembly.getStackByName(stack.stackName);
  const resources = (artifact.template as { Resources: Record<string, TemplateResource> }).Resources;
  const fn = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function');
  const key = fn?.Properties.Code?.S3Key;
  if (!fn || !key) throw new Error('the synthesized stack has no Lambda function with a code asset');
  const manifest = JSON.parse(readFileSync(join(outdir, `${stack.stackName}.assets.json`), 'utf8')) as {
    files: Record<string, { source: { path: string } }>;
  };
  const asset = manifest.files[key.replace(/\.zip$/, '')];
  if (!asset) throw new Error(`no file asset ${key} in the cloud assembly`);
  const dir = join(outdir, asset.source.path);
  const entry = join(dir, 'index.mjs');
  return {
    dir,
    entry,
    sizeBytes: statSync(entry).size,
    environment: fn.Properties.Environment?.Variables ?? {},
    dispose: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

/** What one invoke of the bundled handler produced. */
export interface Invocation {
  /** The handler's return value, when it returned. */
  result?: unknown;
  /** The error it threw, when it threw. */
  error?: { name: string; message: string };
  /** Every JSON line the function printed (Powertools logs and EMF metrics). */
  lines: Record<string, unknown>[];
  /** Whatever it printed that was not JSON. */
  otherOutput: string;
}

/** The log line Powertools printed with this message, if any. */
export function logLine(invocation: Invocation, message: string): Record<string, unknown> | undefined {
  return invocation.lines.find((line) => line['message'] === message);
}

/** The value of an EMF metric the function published, summed over every metrics line. */
export function metric(invocation: Invocation, name: string): number | undefined {
  const values = invocation.lines
    .filter((line) => '_aws' in line && typeof line[name] === 'number')
    .map((line) => line[name] as number);
  return values.length === 0 ? undefined : values.reduce((a, b) => a + b, 0);
}

/**
 * The environment the function's process gets, as Lambda sets it: PATH, the region and the
 * function name, the stack's variables, then `extra` (e.g. `AWS_ENDPOINT_URL_*`).
 */
export function lambdaEnv(bundle: Bundle, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    AWS_REGION: 'eu-west-1',
    AWS_LAMBDA_FUNCTION_NAME: 'eks-auth-sync',
    ...bundle.environment,
    ...extra,
  };
}

/** Runs in a fresh `node`, like a Lambda cold start: imports the bundle, invokes it once, reports. */
const RUNNER = `
const { writeFileSync } = await import('node:fs');
const [entry, eventJson, remaining, resultFile] = process.argv.slice(1);
const started = Date.now();
const context = {
  callbackWaitsForEmptyEventLoop: true, functionName: 'eks-auth-sync', functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:eks-auth-sync', memoryLimitInMB: '256',
  awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678', logGroupName: '/aws/lambda/eks-auth-sync',
  logStreamName: 'local', getRemainingTimeInMillis: () => Number(remaining) - (Date.now() - started),
  done() {}, fail() {}, succeed() {},
};
let outcome;
try {
  const { handler } = await import(entry);
  outcome = { result: await handler(JSON.parse(eventJson), context) };
} catch (error) {
  outcome = { error: { name: error?.name ?? 'Error', message: String(error?.message ?? error) } };
}
writeFileSync(resultFile, JSON.stringify(outcome));
`;

/**
 * Invokes the bundled handler once in a child `node` process with the stack's environment plus
 * `env` (e.g. `AWS_ENDPOINT_URL_*` pointing at the stand-ins), as Lambda would.
 */
export function invokeBundle(
  bundle: Bundle,
  event: unknown,
  options: { env?: NodeJS.ProcessEnv; remainingMs?: number } = {},
): Promise<Invocation> {
  const resultDir = mkdtempSync(join(tmpdir(), 'eks-auth-sync-invoke-'));
  const resultFile = join(resultDir, 'result.json');
  writeFileSync(resultFile, '{}');
  const env = lambdaEnv(bundle, options.env);
  const args = [
    '--input-type=module',
    '-e',
    RUNNER,
    pathToFileURL(bundle.entry).href,
    JSON.stringify(event ?? null),
    String(options.remainingMs ?? 120_000),
    resultFile,
  ];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { env, cwd: bundle.dir, maxBuffer: 64 * 1024 * 1024 }, (failure, stdout, stderr) => {
      try {
        if (failure) throw new Error(`the bundled handler's process failed: ${failure.message}\n${stderr}`);
        const outcome = JSON.parse(readFileSync(resultFile, 'utf8')) as Pick<Invocation, 'result' | 'error'>;
        const lines: Record<string, unknown>[] = [];
        let otherOutput = '';
        // Powertools writes errors to stderr and everything else to stdout.
        for (const line of `${stdout}\n${stderr}`.split('\n')) {
          if (line.trim() === '') continue;
          try {
            lines.push(JSON.parse(line) as Record<string, unknown>);
          } catch {
            otherOutput += `${line}\n`;
          }
        }
        resolve({ ...outcome, lines, otherOutput });
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      } finally {
        rmSync(resultDir, { recursive: true, force: true });
      }
    });
  });
}
