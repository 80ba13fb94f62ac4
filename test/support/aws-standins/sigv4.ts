import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

/** A key pair the stand-ins accept, and the identity AWS would attribute it to. */
export interface StandinCredential {
  accessKeyId: string;
  secretAccessKey: string;
  /** When set, requests must carry it as X-Amz-Security-Token (temporary credentials). */
  sessionToken?: string;
  /** `arn:aws:iam::111122223333:user/alice` or `arn:aws:sts::111122223333:assumed-role/r/session`. */
  arn: string;
  /** IAM unique id (`AIDA…`, or `AROA…:session` for assumed roles); derived when left out. */
  userId?: string;
  /** Temporary credentials stop working at this time (AWS: ExpiredToken). */
  expiration?: Date;
}

/** The request as it arrived on the wire: raw path and query, lower-cased headers, body bytes. */
export interface WireRequest {
  method: string;
  /** Path and query exactly as sent, e.g. `/clusters/demo?x=1`. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Why a signature was refused, in the vocabulary AWS uses for it. */
export type SigV4FailureReason =
  | 'missing' // no Authorization header and no presigned query
  | 'malformed' // unparseable Authorization / credential scope, or missing X-Amz-Date
  | 'unknown-key' // access key not known (AWS: InvalidClientTokenId / UnrecognizedClientException)
  | 'bad-token' // session token missing or wrong for a temporary key
  | 'expired-token' // temporary credentials past their expiration
  | 'wrong-scope' // credential scope names another service or region
  | 'expired' // X-Amz-Date too far from the clock, or presigned URL past X-Amz-Expires
  | 'mismatch'; // recomputed signature differs

export type SigV4Result =
  | { ok: true; credential: StandinCredential; presigned: boolean }
  | { ok: false; reason: SigV4FailureReason; message: string };

/** What the verifier checks the request against. */
export interface SigV4Expectation {
  service: string;
  /** Signing regions accepted in the credential scope. */
  regions: readonly string[];
  credentials: ReadonlyMap<string, StandinCredential>;
  now: Date;
  /** Allowed distance between X-Amz-Date and `now` for header-signed requests. @default 15 min */
  maxSkewMs?: number;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const FIFTEEN_MINUTES = 15 * 60 * 1000;

/**
 * Verifies an AWS Signature Version 4 (Authorization header or presigned query) the way an
 * AWS front end does: it rebuilds the canonical request from what actually arrived, never
 * trusting the client's view of it.
 *
 * @example
 * const r = verifySigV4(wire, { service: 'sts', regions: ['us-east-1'], credentials, now: new Date() });
 * if (!r.ok) reply403(r.message);
 */
export function verifySigV4(req: WireRequest, expect: SigV4Expectation): SigV4Result {
  const q = req.url.indexOf('?');
  const rawPath = q === -1 ? req.url : req.url.slice(0, q);
  const rawQuery = q === -1 ? '' : req.url.slice(q + 1);
  const query = parseQuery(rawQuery);
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v.join(',') : v;
  };

  const authorization = header('authorization');
  const presigned = authorization === undefined && query.some(([k]) => k === 'X-Amz-Signature');
  let credentialScope: string;
  let signedHeaders: string[];
  let signature: string;
  let amzDate: string | undefined;
  let expiresSeconds: number | undefined;
  if (authorization !== undefined) {
    const m = /^AWS4-HMAC-SHA256 (.*)$/.exec(authorization.trim());
    const parts = new Map<string, string>();
    for (const p of (m?.[1] ?? '').split(',')) {
      const eq = p.indexOf('=');
      if (eq > 0) parts.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
    }
    const c = parts.get('Credential');
    const sh = parts.get('SignedHeaders');
    const sig = parts.get('Signature');
    if (m === null || c === undefined || sh === undefined || sig === undefined) {
      return fail('malformed', `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters (algorithm ${ALGORITHM}).`);
    }
    credentialScope = c;
    signedHeaders = sh.split(';');
    signature = sig;
    amzDate = header('x-amz-date');
  } else if (presigned) {
    const get = (k: string): string | undefined => query.find(([key]) => key === k)?.[1];
    if (get('X-Amz-Algorithm') !== ALGORITHM) return fail('malformed', `X-Amz-Algorithm must be ${ALGORITHM}.`);
    credentialScope = get('X-Amz-Credential') ?? '';
    signedHeaders = (get('X-Amz-SignedHeaders') ?? '').split(';');
    signature = get('X-Amz-Signature') ?? '';
    amzDate = get('X-Amz-Date');
    const ex = get('X-Amz-Expires');
    expiresSeconds = ex === undefined ? undefined : Number(ex);
    if (expiresSeconds === undefined || !Number.isInteger(expiresSeconds) || expiresSeconds < 1 || expiresSeconds > 604800) {
      return fail('malformed', 'X-Amz-Expires must be an integer between 1 and 604800.');
    }
  } else {
    return fail('missing', 'Request is missing Authentication Token');
  }

  const scope = credentialScope.split('/');
  if (scope.length !== 5 || scope[4] !== 'aws4_request') {
    return fail('malformed', `Credential should be scoped to a valid region, service and 'aws4_request': '${credentialScope}'.`);
  }
  const [accessKeyId, date, region, service] = scope as [string, string, string, string, string];
  if (amzDate === undefined || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return fail('malformed', 'X-Amz-Date is missing or not in the ISO 8601 basic format (YYYYMMDDTHHMMSSZ).');
  }
  if (!amzDate.startsWith(date)) return fail('malformed', `Credential date ${date} does not match X-Amz-Date ${amzDate}.`);

  const credential = expect.credentials.get(accessKeyId);
  if (credential === undefined) return fail('unknown-key', 'The security token included in the request is invalid.');
  if (service !== expect.service) {
    return fail('wrong-scope', `Credential should be scoped to correct service: '${expect.service}'.`);
  }
  if (!expect.regions.includes(region)) {
    return fail('wrong-scope', `Credential should be scoped to a valid region. Expected one of: ${expect.regions.join(', ')}; got '${region}'.`);
  }

  const signedAt = parseAmzDate(amzDate);
  const now = expect.now.getTime();
  if (presigned) {
    if (now > signedAt + (expiresSeconds ?? 0) * 1000) {
      return fail('expired', `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now - (expiresSeconds ?? 0) * 1000))}.`);
    }
  } else {
    const skew = expect.maxSkewMs ?? FIFTEEN_MINUTES;
    if (Math.abs(now - signedAt) > skew) {
      return fail('expired', `Signature expired: ${amzDate} is now earlier than ${formatAmzDate(new Date(now - skew))} (${formatAmzDate(expect.now)} - 15 min.)`);
    }
  }

  const token = presigned ? query.find(([k]) => k === 'X-Amz-Security-Token')?.[1] : header('x-amz-security-token');
  if (credential.sessionToken !== undefined && token !== credential.sessionToken) {
    return fail('bad-token', 'The security token included in the request is invalid.');
  }
  if (credential.expiration !== undefined && now >= credential.expiration.getTime()) {
    return fail('expired-token', 'The security token included in the request is expired');
  }
  if (!signedHeaders.includes('host')) return fail('malformed', "'Host' must be a signed header.");

  const canonicalHeaders: string[] = [];
  for (const name of signedHeaders) {
    const value = header(name);
    if (value === undefined) return fail('mismatch', signatureMismatchMessage);
    canonicalHeaders.push(`${name}:${value.trim().replace(/\s+/g, ' ')}\n`);
  }
  const canonicalQuery = canonicalQueryString(query, { omitSignature: presigned });
  const payloadHash = header('x-amz-content-sha256') ?? sha256Hex(req.body);
  const canonicalRequest = [
    req.method,
    canonicalPath(rawPath),
    canonicalQuery,
    canonicalHeaders.join(''),
    signedHeaders.join(';'),
    payloadHash,
  ].join('\n');
  const stringToSign = [ALGORITHM, amzDate, `${date}/${region}/${service}/aws4_request`, sha256Hex(canonicalRequest)].join('\n');
  const key = signingKey(credential.secretAccessKey, date, region, service);
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return fail('mismatch', signatureMismatchMessage);
  return { ok: true, credential, presigned };
}

const signatureMismatchMessage =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

function fail(reason: SigV4FailureReason, message: string): SigV4Result {
  return { ok: false, reason, message };
}

/** Decoded `[key, value]` pairs in arrival order; `+` is a literal plus, as AWS reads it. */
function parseQuery(raw: string): Array<[string, string]> {
  if (raw === '') return [];
  return raw.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const k = eq === -1 ? pair : pair.slice(0, eq);
    const v = eq === -1 ? '' : pair.slice(eq + 1);
    return [safeDecode(k), safeDecode(v)];
  });
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** SigV4 URI encoding (RFC 3986): every byte except the unreserved A-Z a-z 0-9 - _ . ~ is %XX. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The canonical query string of SigV4: keys and values URI-encoded, sorted by key then value,
 * joined as `k=v&…`. A presigned URL's own `X-Amz-Signature` is left out with `omitSignature`.
 */
export function canonicalQueryString(pairs: ReadonlyArray<readonly [string, string]>, opts: { omitSignature: boolean }): string {
  return pairs
    .filter(([k]) => !(opts.omitSignature && k === 'X-Amz-Signature'))
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

/** Non-S3 services sign the normalised path with each segment encoded once more. */
function canonicalPath(rawPath: string): string {
  const out: string[] = [];
  for (const seg of rawPath.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') out.pop();
    else out.push(seg);
  }
  const trailing = rawPath.endsWith('/') && out.length > 0 ? '/' : '';
  return `/${out.map(rfc3986).join('/')}${trailing}`;
}

/** Lower-case hex SHA-256 of `data`. */
export function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The SigV4 signing key: HMAC-SHA256 chained over date, region, service and `aws4_request`. */
export function signingKey(secret: string, date: string, region: string, service: string): Buffer {
  const kDate = createHmac('sha256', `AWS4${secret}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

function parseAmzDate(s: string): number {
  return Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(9, 11), +s.slice(11, 13), +s.slice(13, 15));
}

function formatAmzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}
