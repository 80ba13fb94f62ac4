/**
 * AWS SDK clients from the config's `aws` sections.
 *
 * A scanner's `aws` section overrides the top-level one field by field. Without `roleARN` the
 * standard credential chain is used; without `endpoint` the SDK resolves the endpoint itself,
 * which keeps `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` working.
 */
import { EKSClient } from '@aws-sdk/client-eks';
import { IAMClient } from '@aws-sdk/client-iam';
import { SSMClient } from '@aws-sdk/client-ssm';
import { STSClient } from '@aws-sdk/client-sts';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import type { AwsSettings } from './config.js';

/** Builds each client once per distinct settings, so one run makes one client per service and account. */
export interface ClientFactory {
  iam(s?: AwsSettings): IAMClient;
  ssm(s?: AwsSettings): SSMClient;
  sts(s?: AwsSettings): STSClient;
  /** Every EKS call (DescribeCluster; the cluster token is signed with its credentials). */
  eks(s?: AwsSettings): EKSClient;
}

interface CommonConfig {
  region?: string;
  endpoint?: string;
  retryMode: 'adaptive';
  requestHandler: { connectionTimeout: number; requestTimeout: number; throwOnRequestTimeout: true };
  maxAttempts?: number;
  credentials?: AwsCredentialIdentityProvider;
}

const SESSION_NAME = 'eks-auth-sync';

/**
 * Per-attempt limits. By default the SDK only warns when a request exceeds its timeout (and
 * otherwise waits on a 5-minute idle socket), so one hung call would outlive the Lambda's timeout
 * and end the run with no named error; with these (and `throwOnRequestTimeout`), a hung attempt
 * is abandoned and retried like any other failure.
 */
export const REQUEST_TIMEOUTS = { connectionTimeout: 5_000, requestTimeout: 20_000 } as const;

/**
 * Returns a factory of SDK clients configured from the top-level `aws` section, overridden by a
 * scanner's own section when one is passed. `defaults.region` (the cluster's region) applies when
 * neither section sets a region; without any, the SDK's own region chain decides.
 * @example clientFactory(config.aws, { region: config.cluster.region }).iam(scanner.aws)
 */
export function clientFactory(
  top: AwsSettings | undefined,
  defaults: { region?: string; timeouts?: { connectionTimeout: number; requestTimeout: number } },
): ClientFactory {
  const clients = new Map<string, unknown>();
  const credentials = new Map<string, AwsCredentialIdentityProvider>();

  const settingsFor = (s: AwsSettings | undefined): AwsSettings => ({ ...top, ...definedFields(s) });

  const commonConfig = (s: AwsSettings): CommonConfig => {
    const region = s.region ?? defaults.region;
    const config: CommonConfig = { retryMode: 'adaptive', requestHandler: { ...(defaults.timeouts ?? REQUEST_TIMEOUTS), throwOnRequestTimeout: true } };
    if (region !== undefined) config.region = region;
    if (s.endpoint !== undefined) config.endpoint = s.endpoint;
    if (s.maxRetries !== undefined) config.maxAttempts = s.maxRetries + 1;
    if (s.roleARN !== undefined) config.credentials = assumed(s.roleARN, region);
    return config;
  };

  const assumed = (roleArn: string, region: string | undefined): AwsCredentialIdentityProvider => {
    const key = `${roleArn}\n${region ?? ''}`;
    let provider = credentials.get(key);
    if (!provider) {
      provider = fromTemporaryCredentials({
        params: { RoleArn: roleArn, RoleSessionName: SESSION_NAME },
        ...(region !== undefined ? { clientConfig: { region } } : {}),
      });
      credentials.set(key, provider);
    }
    return provider;
  };

  const cached = <C>(service: string, make: (c: CommonConfig) => C) => (s?: AwsSettings): C => {
    const settings = settingsFor(s);
    const key = JSON.stringify([service, settings.roleARN, settings.region, settings.endpoint, settings.maxRetries]);
    let client = clients.get(key) as C | undefined;
    if (!client) {
      client = make(commonConfig(settings));
      clients.set(key, client);
    }
    return client;
  };

  return {
    iam: cached('iam', (c) => new IAMClient(c)),
    ssm: cached('ssm', (c) => new SSMClient(c)),
    sts: cached('sts', (c) => new STSClient(c)),
    eks: cached('eks', (c) => new EKSClient(c)),
  };
}

function definedFields(s: AwsSettings | undefined): Partial<AwsSettings> {
  return Object.fromEntries(Object.entries(s ?? {}).filter(([, v]) => v !== undefined));
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
