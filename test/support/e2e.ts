/**
 * The end-to-end harness: the deployed handler bundle, invoked in a fresh `node` per run, against
 * the AWS and Kubernetes stand-ins reached through fault proxies. Each test file builds one world.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { ConfigMap } from '../../lambda/configmap.js';
import { buildBundle, invokeBundle, type Bundle, type Invocation } from './bundle.js';
import { DEMO_CONFIG, seedAwsAuth, startEnvironment, type Environment, type EnvironmentOptions } from './environment.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

export { DEMO_CONFIG } from './environment.js';
export { logLine, metric } from './bundle.js';

export type Service = 'iam' | 'sts' | 'ssm' | 'eks' | 'kube';

/** The parts of aws-auth a run may change: what the authenticator reads and what marks ownership. */
export interface AwsAuthContent {
  data: Record<string, string> | undefined;
  annotations: Record<string, string> | undefined;
}

export interface E2eWorld {
  environment: Environment;
  bundle: Bundle;
  /** One proxy per service; the bundle reaches every stand-in through them. */
  proxy: Record<Service, FaultProxy>;
  /** aws-auth as each test starts with it (the demo cluster's). */
  seed: AwsAuthContent;
  /** Writes a config (and files beside it) for one invoke; pass the returned path as `config`. */
  writeConfig(config: unknown, files?: Record<string, string>): string;
  /** Invokes the bundle once with the stand-ins' environment; `config` replaces the deployed config. */
  invoke(event: unknown, opts?: { config?: string; remainingMs?: number }): Promise<Invocation>;
  /** The live aws-auth's content, or undefined when there is none. */
  awsAuth(): AwsAuthContent | undefined;
  /** Back to the seeded aws-auth and the demo SSM value, hooks and counters cleared. */
  reset(): void;
  close(): Promise<void>;
}

/** Builds the bundle from `config` and starts the stand-ins behind fault proxies. */
export async function startE2eWorld(config: unknown = DEMO_CONFIG, opts: EnvironmentOptions = {}): Promise<E2eWorld> {
  const bundle = buildBundle({ config });
  const environment = await startEnvironment(opts);
  const configs = mkdtempSync(join(tmpdir(), 'eks-auth-sync-e2e-'));
  const { aws, kube } = environment;
  const proxy: Record<Service, FaultProxy> = {
    iam: await startFaultProxy(aws.iam.endpoint),
    sts: await startFaultProxy(aws.sts.endpoint),
    ssm: await startFaultProxy(aws.ssm.endpoint),
    eks: await startFaultProxy(aws.eks.endpoint),
    kube: await startFaultProxy(kube.url),
  };
  aws.eks.putCluster({ name: environment.clusterName, endpoint: proxy.kube.url, caPem: kube.caPem, authenticationMode: opts.authenticationMode ?? 'API_AND_CONFIG_MAP' });
  const demoSsm = aws.dataset.ssmParameters.map((p) => ({ ...p }));
  let configCount = 0;
  const content = (cm: ConfigMap | undefined): AwsAuthContent | undefined =>
    cm && { data: cm.data, annotations: cm.metadata.annotations };
  return {
    environment,
    bundle,
    proxy,
    seed: content(seedAwsAuth(environment.accountId)) as AwsAuthContent,
    writeConfig: (cfg, files = {}) => {
      const dir = join(configs, String(++configCount));
      mkdirSync(dir);
      for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
      const path = join(dir, 'config.json');
      writeFileSync(path, JSON.stringify(cfg));
      return path;
    },
    invoke: (event, o = {}) =>
      invokeBundle(bundle, event, {
        env: {
          ...environment.env(),
          AWS_ENDPOINT_URL_IAM: proxy.iam.url,
          AWS_ENDPOINT_URL_STS: proxy.sts.url,
          AWS_ENDPOINT_URL_SSM: proxy.ssm.url,
          AWS_ENDPOINT_URL_EKS: proxy.eks.url,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          ...(o.config === undefined ? {} : { CONFIG_PATH: o.config }),
        },
        ...(o.remainingMs === undefined ? {} : { remainingMs: o.remainingMs }),
      }),
    awsAuth: () => content(environment.awsAuth()),
    reset: () => {
      aws.reset();
      for (const service of [aws.iam, aws.sts, aws.ssm, aws.eks]) {
        service.intercept(undefined);
        service.setLatency(0);
      }
      for (const p of demoSsm) aws.ssm.putParameter(p);
      kube.put(seedAwsAuth(environment.accountId));
      kube.beforeWrite(() => undefined);
      kube.setClock(() => new Date());
      kube.delayMs = 0;
    },
    close: async () => {
      await Promise.all(Object.values(proxy).map((p) => p.close()));
      await environment.close();
      bundle.dispose();
      rmSync(configs, { recursive: true, force: true });
    },
  };
}

/**
 * Asserts that nothing the function printed carries a credential or a bearer token: not the
 * secret access key, not the session token (of the stand-ins' credential in `environment`), not
 * any `k8s-aws-v1.` token; the error it threw included.
 */
export function expectNoSecrets(environment: Environment, invocation: Invocation): void {
  const { secretAccessKey, sessionToken } = environment.aws.credential;
  const secrets = [secretAccessKey, sessionToken, 'k8s-aws-v1.'].filter((s): s is string => s !== undefined);
  const printed = [...invocation.lines.map((line) => JSON.stringify(line)), invocation.otherOutput, JSON.stringify(invocation.error ?? {})];
  for (const text of printed) {
    for (const secret of secrets) expect(text, 'a printed line carries a secret').not.toContain(secret);
  }
}

/**
 * Runs `fn` while the Kubernetes stand-in authenticates its `n`-th request from now (1-based),
 * after that request's injected failure, if any, was taken: a hook between the read and the
 * write. It relies on the stand-in reading its clock exactly once per authentication.
 */
export function onKubeRequest(world: E2eWorld, n: number, fn: () => void, clock: () => Date = () => new Date()): void {
  let seen = 0;
  world.environment.kube.setClock(() => {
    if (++seen === n) fn();
    return clock();
  });
}
