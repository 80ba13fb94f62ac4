import { createHash, randomBytes } from 'node:crypto';
import { queryParams, queryProtocol, xml } from './protocols.js';
import { ServiceError, startServer, type ServerOptions, type StandinServer } from './server.js';
import type { StandinCredential } from './sigv4.js';
import { trustDecision } from './trust.js';

/** Options for `startSts`. */
export interface StsStandinOptions extends ServerOptions {
  /** Signing regions accepted: the global endpoint's us-east-1 and regional ones. @default ['us-east-1'] */
  signingRegions?: readonly string[];
  /** Enables AssumeRole: each role's trust policy, and where the issued keys are registered. */
  assumeRole?: {
    /** The trust policy (URL-encoded JSON, as IAM stores it) of the role with this ARN, in any served account; undefined when there is none. */
    trustPolicyOf(roleArn: string): string | undefined;
    register(credential: StandinCredential): void;
  };
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
 * AssumeRole issues temporary keys for a role whose trust policy allows the caller (see trust.ts),
 * which all stand-ins then accept, as that role in its account; anything else is AccessDenied, in
 * the same words whether the role is missing or does not trust the caller, as STS answers.
 */
export async function startSts(opts: StsStandinOptions): Promise<StandinServer> {
  const now = opts.now ?? (() => new Date());
  let issued = 0;
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
        AssumeRole: (req, ctx) => {
          const params = queryParams(req);
          const target = params.get('RoleArn') ?? '';
          const session = params.get('RoleSessionName') ?? '';
          const duration = Number(params.get('DurationSeconds') ?? 3600);
          if (!/^[\w+=,.@-]{2,64}$/.test(session) || !Number.isInteger(duration) || duration < 900 || duration > 43200) {
            throw new ServiceError(400, 'ValidationError', 'RoleSessionName must be 2-64 characters of [\\w+=,.@-] and DurationSeconds between 900 and 43200.');
          }
          const m = /^arn:([\w-]+):iam::(\d{12}):role\/(?:.*\/)?([\w+=,.@-]+)$/.exec(target);
          const trust = m === null ? undefined : opts.assumeRole?.trustPolicyOf(target);
          if (m === null || opts.assumeRole === undefined || trust === undefined || trustDecision(trust, ctx.credential.arn) !== 'allow') {
            throw new ServiceError(403, 'AccessDenied', `User: ${ctx.credential.arn} is not authorized to perform: sts:AssumeRole on resource: ${target}`);
          }
          const [, partition, account, roleName] = m as unknown as [string, string, string, string];
          issued++;
          const credential: StandinCredential = {
            accessKeyId: `ASIASTANDIN${String(issued).padStart(9, '0')}`,
            secretAccessKey: randomBytes(30).toString('base64'),
            sessionToken: `IQoJStandin${randomBytes(48).toString('base64')}`,
            arn: `arn:${partition}:sts::${account}:assumed-role/${roleName}/${session}`,
            expiration: new Date(now().getTime() + duration * 1000),
          };
          opts.assumeRole.register(credential);
          const id = callerIdentity(credential);
          const inner =
            `<AssumedRoleUser><AssumedRoleId>${xml(id.UserId)}</AssumedRoleId><Arn>${xml(id.Arn)}</Arn></AssumedRoleUser>` +
            `<Credentials><AccessKeyId>${credential.accessKeyId}</AccessKeyId><SecretAccessKey>${credential.secretAccessKey}</SecretAccessKey>` +
            `<SessionToken>${credential.sessionToken}</SessionToken><Expiration>${credential.expiration?.toISOString()}</Expiration></Credentials>`;
          return protocol.result('AssumeRole', inner, ctx.requestId);
        },
      },
    },
    opts,
  );
}
