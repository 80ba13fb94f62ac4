/**
 * Mints EKS bearer tokens for tests with @smithy/signature-v4, a signer independent of both
 * lambda/cluster/token.ts and the stand-in's verifier (test/support/sigv4-verify.ts).
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { rfc3986 } from './aws-standins/sigv4.js';
import { TOKEN_PREFIX } from './sigv4-verify.js';

export interface TestCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface MintOptions {
  clusterName: string;
  region: string;
  credentials: TestCredentials;
  now: Date;
  /** @default 60, as `aws eks get-token` */
  expiresIn?: number;
  /** Overrides the regional STS host, to mint tokens the authenticator must refuse. */
  host?: string;
}

/** A `k8s-aws-v1.` token, as `aws eks get-token` would print for these inputs. */
export async function mintTestToken(opts: MintOptions): Promise<string> {
  const host = opts.host ?? `sts.${opts.region}.amazonaws.com${opts.region.startsWith('cn-') ? '.cn' : ''}`;
  const signer = new SignatureV4({ service: 'sts', region: opts.region, credentials: opts.credentials, sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname: host,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host, 'x-k8s-aws-id': opts.clusterName },
    },
    { expiresIn: opts.expiresIn ?? 60, signingDate: opts.now },
  );
  const query = Object.entries(signed.query ?? {})
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(String(v))}`)
    .join('&');
  return TOKEN_PREFIX + Buffer.from(`https://${host}/?${query}`).toString('base64url');
}
