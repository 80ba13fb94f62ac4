/**
 * The EKS bearer token: an STS GetCallerIdentity request presigned for the cluster, exactly as
 * `aws eks get-token` builds it, so the API server's aws-iam-authenticator accepts it.
 */
import { partition } from '@aws-sdk/core/client';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { AwsCredentialsError, EksAuthSyncError } from '../errors.js';

/** The SDK's own SHA-256 wiring (`@smithy/hash-node` exports `Hash`, not a `Sha256` class). */
export const Sha256 = Hash.bind(null, 'sha256');

const TOKEN_PREFIX = 'k8s-aws-v1.';
const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** What the CLI presigns for; the authenticator rejects anything above 900 s. */
const PRESIGN_SECONDS = 60;
/** The CLI's expirationTimestamp: client-go refreshes then, before the authenticator's 15 min cut-off. */
const TOKEN_LIFETIME_MS = 14 * 60_000;

/**
 * The query parameters, in the AWS CLI's order (the security token after SignedHeaders). These
 * are also the only ones the authenticator accepts: anything else the signer adds is an error.
 */
const QUERY_ORDER = [
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Security-Token',
  'X-Amz-Signature',
] as const;

/**
 * The partition a region belongs to and its DNS suffix, from the SDK's partition data (the
 * same the clients resolve endpoints with); a region matching none is `aws`, as in the SDK.
 * @example regionPartition('cn-north-1') // { partition: 'aws-cn', dnsSuffix: 'amazonaws.com.cn' }
 */
export function regionPartition(region: string): { partition: string; dnsSuffix: string } {
  const { name, dnsSuffix } = partition(region);
  return { partition: name, dnsSuffix };
}

/**
 * The regional STS host `aws eks get-token` signs for (never the global `sts.amazonaws.com`).
 * @example stsHost('cn-northwest-1') // 'sts.cn-northwest-1.amazonaws.com.cn'
 */
export function stsHost(region: string): string {
  return `sts.${region}.${regionPartition(region).dnsSuffix}`;
}

/** RFC 3986 encoding of a query value or path segment, as SigV4 and botocore use it (`/` → `%2F`, `+` → `%2B`). */
export function encodeRfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Mints an EKS bearer token for `clusterName`, signed at `now` with `credentials`.
 * For the same inputs it is byte-identical to the token `aws eks get-token` prints.
 * @example const { token } = await presignToken({ clusterName: 'prod', region: 'eu-west-1', credentials, now: new Date() });
 */
export async function presignToken(input: {
  clusterName: string;
  region: string;
  credentials: AwsCredentialIdentity;
  now: Date;
}): Promise<{ token: string; expiration: Date }> {
  const { clusterName, region, credentials, now } = input;
  const hostname = stsHost(region);
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Sha256 });
  const presigned = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, [CLUSTER_ID_HEADER]: clusterName },
    },
    { signingDate: now, expiresIn: PRESIGN_SECONDS },
  );

  const allowed: ReadonlySet<string> = new Set(QUERY_ORDER);
  const presignedQuery = presigned.query ?? {};
  const unexpected = Object.keys(presignedQuery).filter((k) => !allowed.has(k));
  if (unexpected.length > 0) {
    // Dropping them would break the signature, keeping them makes the authenticator reject the token.
    throw new EksAuthSyncError(
      `The SigV4 signer added query parameters the EKS authenticator rejects (${unexpected.join(', ')}); ` +
        'check the installed @smithy/signature-v4 version.',
    );
  }
  const query = QUERY_ORDER.flatMap((key) => {
    const value = presignedQuery[key];
    return typeof value === 'string' ? [`${key}=${encodeRfc3986(value)}`] : [];
  }).join('&');
  const url = `https://${hostname}/?${query}`;
  return {
    token: TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url'),
    expiration: new Date(now.getTime() + TOKEN_LIFETIME_MS),
  };
}

/** `%Y-%m-%dT%H:%M:%SZ` in UTC: the CLI's format, without milliseconds. */
function formatTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * The bytes `aws eks get-token` writes to stdout (Python's JSON spacing, trailing newline
 * included), so `eks-auth-sync token` works as a kubectl exec credential plugin.
 * @example process.stdout.write(execCredential(token, expiration));
 */
export function execCredential(token: string, expiration: Date): string {
  const s = (value: string): string => JSON.stringify(value);
  return (
    `{${s('kind')}: ${s('ExecCredential')}, ${s('apiVersion')}: ${s('client.authentication.k8s.io/v1beta1')}, ` +
    `${s('spec')}: {}, ${s('status')}: {${s('expirationTimestamp')}: ${s(formatTimestamp(expiration))}, ` +
    `${s('token')}: ${s(token)}}}\n`
  );
}

/** A token older than this is replaced, well before the authenticator's 15 minute limit. */
const MAX_TOKEN_AGE_MS = 10 * 60_000;
/** Credentials this close to expiry are not used: the request still has to reach STS. */
const CREDENTIAL_MARGIN_MS = 60_000;

interface CachedToken {
  token: string;
  mintedAt: number;
  credentialsExpireAt: number | undefined;
}

/**
 * Hands out EKS tokens for one cluster for the length of a run. A token is reused while it is
 * young and the credentials that signed it stay valid; otherwise credentials are resolved
 * again (forcing the provider to refresh when they would expire too soon) and a new token is
 * minted, so a long run never fails halfway because credentials expired. Nothing here logs,
 * and the token is kept in private fields so logging the provider cannot reveal it.
 * @example
 * const tokens = new TokenProvider({ clusterName, region, credentials: fromNodeProviderChain() });
 * headers.authorization = `Bearer ${await tokens.token()}`;
 */
export class TokenProvider {
  readonly clusterName: string;
  readonly region: string;
  readonly #credentials: AwsCredentialIdentityProvider;
  readonly #clock: () => Date;
  #cached: CachedToken | undefined;
  #pending: Promise<string> | undefined;
  #forceRefresh = false;

  constructor(opts: {
    clusterName: string;
    region: string;
    credentials: AwsCredentialIdentityProvider;
    clock?: () => Date;
  }) {
    this.clusterName = opts.clusterName;
    this.region = opts.region;
    this.#credentials = opts.credentials;
    this.#clock = opts.clock ?? (() => new Date());
  }

  /** A valid bearer token (without the `Bearer ` prefix). */
  async token(): Promise<string> {
    const now = this.#clock().getTime();
    const cached = this.#cached;
    if (cached && isUsable(cached, now)) return cached.token;
    this.#pending ??= this.#mint(now).finally(() => {
      this.#pending = undefined;
    });
    return this.#pending;
  }

  /** Forgets the cached token and makes the next `token()` refresh credentials; call it on a 401. */
  invalidate(): void {
    this.#cached = undefined;
    this.#forceRefresh = true;
  }

  async #mint(now: number): Promise<string> {
    const retireAt = now + MAX_TOKEN_AGE_MS + CREDENTIAL_MARGIN_MS;
    let credentials = await this.#credentials(this.#forceRefresh ? { forceRefresh: true } : undefined);
    if (!this.#forceRefresh && expiresBefore(credentials, retireAt)) {
      credentials = await this.#credentials({ forceRefresh: true });
    }
    this.#forceRefresh = false;
    if (expiresBefore(credentials, now + CREDENTIAL_MARGIN_MS)) {
      throw new AwsCredentialsError(
        `The AWS credentials for cluster "${this.clusterName}" expired at ${credentials.expiration?.toISOString()} ` +
          'and the credential provider did not return fresh ones; refresh them (e.g. `aws sso login`) and retry.',
      );
    }
    const { token } = await presignToken({
      clusterName: this.clusterName,
      region: this.region,
      credentials,
      now: new Date(now),
    });
    this.#cached = { token, mintedAt: now, credentialsExpireAt: credentials.expiration?.getTime() };
    return token;
  }
}

function isUsable(cached: CachedToken, now: number): boolean {
  const young = now - cached.mintedAt < MAX_TOKEN_AGE_MS;
  const signedWithLiveCredentials =
    cached.credentialsExpireAt === undefined || now + CREDENTIAL_MARGIN_MS < cached.credentialsExpireAt;
  return young && signedWithLiveCredentials;
}

function expiresBefore(credentials: AwsCredentialIdentity, time: number): boolean {
  return credentials.expiration !== undefined && credentials.expiration.getTime() <= time;
}
