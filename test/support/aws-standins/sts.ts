import { createHash } from 'node:crypto';
import { queryProtocol, xml } from './protocols.js';
import { ServiceError, startServer, type ServerOptions, type StandinServer } from './server.js';
import type { StandinCredential } from './sigv4.js';

/** Options for `startSts`. */
export interface StsStandinOptions extends ServerOptions {
  /** Signing regions accepted: the global endpoint's us-east-1 and regional ones. @default ['us-east-1'] */
  signingRegions?: readonly string[];
}

const NAMESPACE = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The identity STS reports for a credential: account, ARN and unique id. */
export function callerIdentity(c: StandinCredential): { Account: string; Arn: string; UserId: string } {
  const account = c.arn.split(':')[4] ?? '';
  return { Account: account, Arn: c.arn, UserId: c.userId ?? derivedUserId(c.arn) };
}

/** A stable IAM-style unique id for an ARN: `AIDA…` for users, `AROA…:session` for assumed roles. */
function derivedUserId(arn: string): string {
  const digest = createHash('sha256').update(arn).digest();
  const id = Array.from(digest.subarray(0, 17), (b) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[b % 32]).join('');
  const assumed = /:assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  if (assumed) return `AROA${id}:${assumed[2]}`;
  if (arn.endsWith(':root')) return arn.split(':')[4] ?? id;
  return `AIDA${id}`;
}

/**
 * Starts the STS stand-in (query protocol, XML): GetCallerIdentity answers with the identity
 * of the key that signed the request. It accepts presigned GET requests too, as EKS's
 * authenticator sends them, and answers JSON when asked with `Accept: application/json`.
 */
export async function startSts(opts: StsStandinOptions): Promise<StandinServer> {
  const protocol = queryProtocol(NAMESPACE, '2011-06-15', () => new ServiceError(500, 'InternalFailure', 'An internal error occurred.'));
  return startServer(
    {
      signingName: 'sts',
      regions: opts.signingRegions ?? ['us-east-1'],
      protocol,
      handlers: {
        GetCallerIdentity: (req, ctx) => {
          const id = callerIdentity(ctx.credential);
          if (String(req.headers.accept ?? '').includes('application/json')) {
            const body = JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: id, ResponseMetadata: { RequestId: ctx.requestId } } });
            return { status: 200, headers: { 'content-type': 'application/json', 'x-amzn-requestid': ctx.requestId }, body };
          }
          return protocol.result('GetCallerIdentity', `<Arn>${xml(id.Arn)}</Arn><UserId>${xml(id.UserId)}</UserId><Account>${id.Account}</Account>`, ctx.requestId);
        },
      },
    },
    opts,
  );
}
