/**
 * AWS SDK clients from the config's `aws` sections.
 *
 * A scanner's `aws` section overrides the top-level one field by field (`endpoints` service by
 * service). Without `roleARN` the standard credential chain is used. Endpoints are per service:
 * `endpoints.<service>` first; the older `endpoint` setting only for the scanners' own services
 * (IAM, SSM), never for STS or EKS; without either the SDK resolves the endpoint itself, which
 * keeps `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` working. An `http://` endpoint,
 * configured or from those variables, is refused unless it is on the loopback interface.
 */
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import { doesIdentityRequireRefresh, isIdentityExpired, memoizeIdentityProvider } from '@smithy/core';
import type { AwsCredentialIdentityProvider, RetryStrategyV2 } from '@smithy/types';
import { regionPartition } from './cluster/token.js';
import { endpointProblem, type AwsSettings } from './config.js';
import { ConfigError } from './errors.js';
import { deadlineRetryStrategy, namingRetryOutcome, type RetryBudget } from './retry.js';

/** Builds each client once per distinct settings, so one run makes one client per service and account. */
export interface ClientFactory {
  /** IAM for a scanner: its `aws` section over the top-level one. */
  iam(s?: AwsSettings): IAMClient;
  /** SSM for a scanner: its `aws` section over the top-level one. */
  ssm(s?: AwsSettings): SSMClient;
  /**
   * Names what the IAM client for a scanner's `aws` section reads (credentials, endpoint, region):
   * equal keys read the same account the same way, so one read can serve every scanner (and, in a
   * fleet, every cluster) that asks.
   */
  iamReadKey(s?: AwsSettings): string;
  /** STS GetCallerIdentity: the top-level settings (as `cluster.roleARN` when set), in the cluster's region. */
  sts(): STSClient;
  /**
   * Every EKS call, with the top-level settings (as `cluster.roleARN` when set) in the cluster's
   * region; the cluster token is signed with its credentials.
   */
  eks(): EKSClient;
}

type Service = 'iam' | 'ssm' | 'sts' | 'eks';

interface CommonConfig {
  region?: string;
  endpoint?: string;
  retryStrategy: RetryStrategyV2;
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
  maxAttempts?: number;
  credentials?: AwsCredentialIdentityProvider;
}

/** What the factory needs besides the `aws` sections. */
export interface ClientDefaults {
  /** `cluster.region`: the region of the cluster's calls, and the scanners' default. */
  region?: string;
  /**
   * `cluster.roleARN`: the role the cluster's calls (EKS, STS, the token) are made as, assumed
   * with the function's own credentials; it replaces the top-level `roleARN` for them only.
   */
  clusterRoleARN?: string;
  /** Per attempt. @default REQUEST_TIMEOUTS */
  timeouts?: { connectionTimeout: number; requestTimeout: number };
  /** How long throttling and 5xx are retried. @default retried up to CLI_RETRY_WINDOW_MS from the factory's creation */
  retry?: Partial<RetryBudget>;
  /** Where `AWS_ENDPOINT_URL*` are read for the http check. @default process.env */
  env?: NodeJS.ProcessEnv;
}

const SESSION_NAME = 'eks-auth-sync';

/**
 * Per-attempt limits. By default the SDK only warns when a request exceeds its timeout (and
 * otherwise waits on a 5-minute idle socket), so one hung call would outlive the Lambda's timeout
 * and end the run with no named error; with these (and `throwOnRequestTimeout`), a hung attempt
 * is abandoned and retried like any other failure.
 */
export const REQUEST_TIMEOUTS = { connectionTimeout: 5_000, requestTimeout: 20_000 } as const;

/** Without a deadline (the CLI), throttling and 5xx are retried for this long at most. */
export const CLI_RETRY_WINDOW_MS = 5 * 60_000;

/**
 * Returns a factory of SDK clients configured from the top-level `aws` section, overridden by a
 * scanner's own section when one is passed. A scanner's region: its own, the top-level one, then
 * `defaults.region` (the cluster's); the cluster's calls (EKS, STS) use the cluster's region
 * first. Without any, the SDK's own region chain decides.
 * @example clientFactory(config.aws, { region: config.cluster.region }).iam(scanner.aws)
 */
export function clientFactory(top: AwsSettings | undefined, defaults: ClientDefaults): ClientFactory {
  const clients = new Map<string, unknown>();
  const credentials = new Map<string, AwsCredentialIdentityProvider>();
  const env = defaults.env ?? process.env;
  const retry: RetryBudget = {
    deadline: defaults.retry?.deadline ?? new Date(Date.now() + CLI_RETRY_WINDOW_MS),
    ...(defaults.retry?.clock !== undefined && { clock: defaults.retry.clock }),
    ...(defaults.retry?.delayScale !== undefined && { delayScale: defaults.retry.delayScale }),
  };

  const commonConfig = (service: Service, s: AwsSettings, region: string | undefined): CommonConfig => {
    const endpoint = s.endpoints?.[service] ?? (service === 'iam' || service === 'ssm' ? s.endpoint : undefined);
    if (endpoint === undefined) checkEnvEndpoint(service, env);
    const maxAttempts = s.maxRetries === undefined ? undefined : s.maxRetries + 1;
    const config: CommonConfig = {
      retryStrategy: deadlineRetryStrategy({ ...retry, ...(maxAttempts !== undefined && { maxAttempts }) }),
      requestHandler: { ...(defaults.timeouts ?? REQUEST_TIMEOUTS), throwOnRequestTimeout: true },
    };
    if (region !== undefined) config.region = region;
    if (endpoint !== undefined) config.endpoint = endpoint;
    if (maxAttempts !== undefined) config.maxAttempts = maxAttempts;
    if (s.roleARN !== undefined) config.credentials = assumed(s.roleARN, s, region);
    return config;
  };

  /** AssumeRole goes to STS with the same section's STS endpoint, retries and region. */
  const assumed = (roleArn: string, s: AwsSettings, region: string | undefined): AwsCredentialIdentityProvider => {
    const key = JSON.stringify([roleArn, region, s.endpoints?.sts, s.maxRetries]);
    let provider = credentials.get(key);
    if (!provider) {
      const { roleARN: _assumed, ...withoutRole } = s;
      const clientConfig = commonConfig('sts', withoutRole, region);
      // One AssumeRole for every client of this role (each client memoizes only its own copy),
      // asked again only as the credentials near expiry.
      const fresh = fromTemporaryCredentials({ params: { RoleArn: roleArn, RoleSessionName: SESSION_NAME }, clientConfig });
      provider = memoizeIdentityProvider(fresh, isIdentityExpired, doesIdentityRequireRefresh) ?? fresh;
      credentials.set(key, provider);
    }
    return provider;
  };

  const cached = <C extends { middlewareStack: NamedStack }>(
    service: Service,
    settings: AwsSettings,
    region: string | undefined,
    make: (c: CommonConfig) => C,
  ): C => {
    const key = JSON.stringify([service, settings.roleARN, region, settings.endpoint, settings.endpoints, settings.maxRetries]);
    let client = clients.get(key) as C | undefined;
    if (!client) {
      client = make(commonConfig(service, settings, region));
      const limits = { deadline: retry.deadline, ...(settings.maxRetries !== undefined && { maxAttempts: settings.maxRetries + 1 }) };
      client.middlewareStack.add(namingRetryOutcome(service, limits), { step: 'initialize', name: 'eksAuthSyncRetryOutcome' });
      clients.set(key, client);
    }
    return client;
  };

  const scannerSettings = (s: AwsSettings | undefined): AwsSettings => {
    const endpoints = { ...top?.endpoints, ...definedFields(s?.endpoints) };
    return { ...top, ...definedFields(s), ...(Object.keys(endpoints).length > 0 && { endpoints }) };
  };
  const scannerRegion = (s: AwsSettings): string | undefined => s.region ?? defaults.region;
  const clusterSettings: AwsSettings = defaults.clusterRoleARN === undefined ? top ?? {} : { ...top, roleARN: defaults.clusterRoleARN };
  // The cluster lives in its region whatever region the scanners read in.
  const clusterRegion = defaults.region ?? top?.region;

  return {
    iam: (s) => {
      const settings = scannerSettings(s);
      return cached('iam', settings, scannerRegion(settings), (c) => new IAMClient(c));
    },
    iamReadKey: (s) => {
      const settings = scannerSettings(s);
      const endpoint = settings.endpoints?.iam ?? settings.endpoint;
      // IAM is global within a partition: clusters in different regions of one account read it once.
      const region = scannerRegion(settings);
      const where = endpoint ?? (region === undefined ? undefined : regionPartition(region).partition);
      return JSON.stringify([settings.roleARN, where]);
    },
    ssm: (s) => {
      const settings = scannerSettings(s);
      return cached('ssm', settings, scannerRegion(settings), (c) => new SSMClient(c));
    },
    sts: () => cached('sts', clusterSettings, clusterRegion, (c) => new STSClient(c)),
    eks: () => cached('eks', clusterSettings, clusterRegion, (c) => new EKSClient(c)),
  };
}

/** The part of an SDK client's middleware stack the factory uses. */
type NamedStack = Pick<EKSClient['middlewareStack'], 'add'>;

function definedFields<T extends object>(s: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(s ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Refuses a plain-http endpoint from the SDK's endpoint variables, as the config schema refuses
 * a configured one: over http the cluster CA and the requests' signed contents go to whoever is on
 * the network. The shared config file's `endpoint_url` is not read here.
 */
function checkEnvEndpoint(service: Service, env: NodeJS.ProcessEnv): void {
  if (env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true') return;
  const specific = `AWS_ENDPOINT_URL_${service.toUpperCase()}`;
  const variable = env[specific] ? specific : env['AWS_ENDPOINT_URL'] ? 'AWS_ENDPOINT_URL' : undefined;
  if (variable === undefined) return;
  const problem = endpointProblem(env[variable] ?? '');
  if (problem) throw new ConfigError(`${variable}: ${problem}`);
}

/** Error names with which AWS rejects the credentials themselves (expired, unknown or mis-signed). */
const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
]);

/** True when `err` says the credentials were refused, so the fix is new credentials, not a retry. */
export function isRejectedCredentials(err: unknown): boolean {
  return err instanceof Error && REJECTED_CREDENTIALS.has(err.name);
}
