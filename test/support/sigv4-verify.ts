/**
 * Server-side check of an EKS bearer token, as aws-iam-authenticator (pkg/token) and then STS
 * would do it: the authenticator's structural rules, then the SigV4 presigned-URL signature
 * recomputed from the secret of the access key. Written with node:crypto and the AWS stand-ins'
 * SigV4 primitives (aws-standins/sigv4.ts), independently of lambda/cluster/token.ts, so that the
 * two can check each other.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { canonicalQueryString, sha256Hex, signingKey } from './aws-standins/sigv4.js';

export const TOKEN_PREFIX = 'k8s-aws-v1.';
const MAX_TOKEN_BYTES = 4096;
const MAX_EXPIRES_SECONDS = 900;
const DATE_VALIDITY_MS = 15 * 60_000;
const ALLOWED_QUERY_KEYS = new Set([
  'action',
  'version',
  'x-amz-algorithm',
  'x-amz-credential',
  'x-amz-date',
  'x-amz-expires',
  'x-amz-security-token',
  'x-amz-signature',
  'x-amz-signedheaders',
]);
// Regional STS hosts; China regions live under amazonaws.com.cn.
const REGIONAL_STS_HOST = /^sts\.((?:[a-z]{2}|us-gov|us-iso[a-z]?)-[a-z]+-\d+)\.amazonaws\.com(\.cn)?$/;

/** What STS knows about an access key. */
export interface StsIdentity {
  secretAccessKey: string;
  /** When set, the token must carry exactly this X-Amz-Security-Token. */
  sessionToken?: string;
  /** What GetCallerIdentity would return, e.g. `arn:aws:sts::111122223333:assumed-role/Name/session`. */
  arn: string;
}

export interface VerifyContext {
  clusterName: string;
  now: Date;
  identity: (accessKeyId: string) => StsIdentity | undefined;
  /** Credentials that have expired or been revoked since the token was signed. */
  isExpired?: (accessKeyId: string) => boolean;
}

export type VerifyResult = { ok: true; arn: string; accessKeyId: string } | { ok: false; reason: string };

/** Verifies `token` (without the `Bearer ` prefix); the reason on failure is for test assertions. */
export function verifyEksToken(token: string, ctx: VerifyContext): VerifyResult {
  const fail = (reason: string): VerifyResult => ({ ok: false, reason });
  if (Buffer.byteLength(token) > MAX_TOKEN_BYTES) return fail('token is larger than 4096 bytes');
  if (!token.startsWith(TOKEN_PREFIX)) return fail('token lacks the k8s-aws-v1. prefix');
  const encoded = token.slice(TOKEN_PREFIX.length);
  // Go's base64.RawURLEncoding: URL alphabet, no padding, no trailing partial byte.
  if (!/^[A-Za-z0-9_-]*$/.test(encoded) || encoded.length % 4 === 1) return fail('token is not unpadded base64url');
  const decoded = Buffer.from(encoded, 'base64url').toString('utf8');

  let url: URL;
  try {
    url = new URL(decoded);
  } catch {
    return fail('token does not decode to a URL');
  }
  if (url.protocol !== 'https:') return fail(`URL scheme ${url.protocol} is not https`);
  if (url.pathname !== '/') return fail(`URL path ${url.pathname} is not /`);
  if (url.username || url.password || url.port) return fail('URL carries userinfo or a port');
  const hostRegion = stsHostRegion(url.hostname);
  if (hostRegion === undefined) return fail(`host ${url.hostname} is not an STS endpoint`);

  const rawQuery = decoded.includes('?') ? decoded.slice(decoded.indexOf('?') + 1) : '';
  const pairs = parseQuery(rawQuery);
  if (pairs === undefined) return fail('query is not valid URL encoding');
  const lower = new Map<string, string>();
  const seen = new Set<string>();
  for (const [key, value] of pairs) {
    if (!ALLOWED_QUERY_KEYS.has(key.toLowerCase())) return fail(`query parameter ${key} is not allowed`);
    if (seen.has(key)) return fail(`query parameter ${key} appears more than once`);
    seen.add(key);
    lower.set(key.toLowerCase(), value);
  }
  if (lower.get('action') !== 'GetCallerIdentity') return fail(`Action ${lower.get('action') ?? '(none)'} is not GetCallerIdentity`);
  const signedHeaders = (lower.get('x-amz-signedheaders') ?? '').split(';');
  if (!signedHeaders.includes('x-k8s-aws-id')) return fail('X-Amz-SignedHeaders does not include x-k8s-aws-id');
  const expires = lower.get('x-amz-expires');
  if (expires === undefined || !/^\d+$/.test(expires) || Number(expires) > MAX_EXPIRES_SECONDS) {
    return fail(`X-Amz-Expires ${expires ?? '(none)'} is not an integer in 0..900`);
  }
  const amzDate = lower.get('x-amz-date') ?? '';
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined) return fail(`X-Amz-Date ${amzDate} is not YYYYMMDDTHHMMSSZ`);
  if (ctx.now.getTime() > signedAt.getTime() + DATE_VALIDITY_MS) return fail('X-Amz-Date is more than 15 minutes old: token expired');

  // From here on it is STS's part: the signature and the credentials behind it.
  if (signedAt.getTime() > ctx.now.getTime() + DATE_VALIDITY_MS) return fail('X-Amz-Date is more than 15 minutes in the future (clock skew)');
  if (lower.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256') return fail('X-Amz-Algorithm is not AWS4-HMAC-SHA256');
  const [accessKeyId = '', scopeDate, scopeRegion, scopeService, terminator, ...rest] = (lower.get('x-amz-credential') ?? '').split('/');
  if (rest.length > 0 || terminator !== 'aws4_request' || scopeService !== 'sts') return fail('X-Amz-Credential scope is malformed');
  if (scopeDate !== amzDate.slice(0, 8)) return fail('X-Amz-Credential date differs from X-Amz-Date');
  if (scopeRegion !== hostRegion) return fail(`credential scope region ${scopeRegion ?? ''} does not match STS host region ${hostRegion}`);
  const identity = ctx.identity(accessKeyId);
  if (identity === undefined) return fail(`access key ${accessKeyId} is unknown to STS`);
  if (ctx.isExpired?.(accessKeyId)) return fail(`credentials of access key ${accessKeyId} have expired`);
  const sessionToken = lower.get('x-amz-security-token');
  if (identity.sessionToken !== sessionToken) {
    return fail(sessionToken === undefined ? 'X-Amz-Security-Token is missing for temporary credentials' : 'X-Amz-Security-Token is not valid for this access key');
  }

  const headerValues: Record<string, string> = { host: url.host, 'x-k8s-aws-id': ctx.clusterName };
  const unsent = signedHeaders.find((h) => headerValues[h] === undefined);
  if (unsent !== undefined) return fail(`signed header ${unsent} is not one the authenticator sends`);
  const canonicalQuery = canonicalQueryString(pairs, { omitSignature: true });
  const canonicalRequest = [
    'GET',
    '/',
    canonicalQuery,
    signedHeaders.map((h) => `${h}:${headerValues[h] ?? ''}\n`).join(''),
    signedHeaders.join(';'),
    sha256Hex(''),
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/sts/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const key = signingKey(identity.secretAccessKey, scopeDate, scopeRegion, 'sts');
  const expected = Buffer.from(createHmac('sha256', key).update(stringToSign).digest('hex'));
  const given = Buffer.from(lower.get('x-amz-signature') ?? '');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return fail('signature does not match (wrong secret, or signed for another cluster name)');
  }
  return { ok: true, arn: identity.arn, accessKeyId };
}

/** The SigV4 signing region of an STS host the authenticator accepts, or undefined. */
function stsHostRegion(host: string): string | undefined {
  if (host === 'sts.amazonaws.com') return 'us-east-1';
  const m = REGIONAL_STS_HOST.exec(host);
  if (!m?.[1]) return undefined;
  const china = m[1].startsWith('cn-');
  return china === (m[2] !== undefined) ? m[1] : undefined;
}

/** Key/value pairs in order, decoded like Go's url.ParseQuery ('+' is a space). */
function parseQuery(raw: string): [string, string][] | undefined {
  if (raw === '') return [];
  try {
    return raw.split('&').map((part) => {
      const eq = part.indexOf('=');
      const [k, v] = eq < 0 ? [part, ''] : [part.slice(0, eq), part.slice(eq + 1)];
      return [decodeURIComponent(k.replace(/\+/g, ' ')), decodeURIComponent(v.replace(/\+/g, ' '))];
    });
  } catch {
    return undefined;
  }
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const date = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
