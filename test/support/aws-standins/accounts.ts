/**
 * IAM for more than one account behind one endpoint, as AWS has it: IAM is global, and which
 * account a call sees is decided by the key that signed it. Each account gets its own IAM
 * stand-in; a front on 127.0.0.1 passes every request through, bytes untouched (SigV4 is checked
 * by the stand-in that answers), to the stand-in of the signing key's account.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeServer, listenLoopback } from '../listen.js';
import type { AwsAccount } from './dataset.js';
import { startIam, type IamStandin, type IamStandinOptions } from './iam.js';
import { trustPolicy } from './trust.js';

/** The IAM of every served account; `endpoint` is the one front all of them are reached through. */
export interface IamAccounts {
  /** The first account's stand-in, at the front's endpoint. */
  readonly primary: IamStandin;
  /** Every account's stand-in (the first included), by account ID: each one's counters and data. */
  readonly byAccount: ReadonlyMap<string, IamStandin>;
}

/** The access key a request is signed with, from the Authorization header or a presigned query. */
function signingKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? '';
  const fromHeader = /Credential=([^/,\s]+)\//.exec(auth)?.[1];
  if (fromHeader !== undefined) return fromHeader;
  const query = new URLSearchParams((req.url ?? '').split('?')[1] ?? '');
  return query.get('X-Amz-Credential')?.split('/')[0];
}

/**
 * Starts one IAM stand-in per account (`opts.account` first, then `others`). With no others this
 * is `startIam(opts)`; otherwise a request signed by a key of another account goes to that
 * account's stand-in, and any other (unknown key, unsigned, the first account's) to the first's.
 */
export async function startIamAccounts(opts: IamStandinOptions, others: readonly AwsAccount[]): Promise<IamAccounts> {
  const started: IamStandin[] = [];
  try {
    for (const account of [opts.account, ...others]) started.push(await startIam({ ...opts, account }));
  } catch (err) {
    await Promise.all(started.map((s) => s.close()));
    throw err;
  }
  const first = started[0] as IamStandin;
  const byAccount = new Map(started.map((s) => [s.account.accountId, s]));
  if (others.length === 0) return { primary: first, byAccount };

  const backendFor = (req: IncomingMessage): IamStandin => {
    const key = signingKey(req);
    const arn = key === undefined ? undefined : opts.credentials.get(key)?.arn;
    return byAccount.get(arn?.split(':')[4] ?? '') ?? first;
  };
  const front = createServer((req: IncomingMessage, res: ServerResponse) => {
    const target = new URL(backendFor(req).endpoint);
    const upstream = request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  const port = await listenLoopback(front);
  const primary: IamStandin = {
    ...first,
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      await Promise.all([closeServer(front), ...started.map((s) => s.close())]);
    },
  };
  return { primary, byAccount: new Map([...byAccount, [first.account.accountId, primary]]) };
}

/** The identity account of {@link identityAccount}. */
export const IDENTITY_ACCOUNT_ID = '444455556666';

/**
 * An identity account (444455556666) where people's roles live, for a cluster in
 * `clusterAccountId`: `eks-auth-sync-reader` trusts `readerTrustedBy` (a role ARN or account) and
 * is what a scanner's `aws.roleARN` names; `untrusting-reader` trusts only an unrelated account;
 * `denied-reader` trusts the cluster account but denies `readerTrustedBy`. People's roles carry
 * tags in the scheme `eks/{clusterAccountId}/{clusterName}/…`: `platform-admin` (path
 * `/people/`) and user `dana`; `own-account-tagged` is tagged with the identity account's own ID
 * instead, which a scan for the cluster must ignore.
 */
export function identityAccount(opts: { clusterAccountId: string; clusterName: string; readerTrustedBy: string }): AwsAccount {
  const p = `eks/${opts.clusterAccountId}/${opts.clusterName}/`;
  const created = new Date('2025-03-01T10:00:00Z');
  const allow = (aws: string) => ({ Effect: 'Allow' as const, Principal: { AWS: aws }, Action: 'sts:AssumeRole' });
  const role = (name: string, path: string, id: string, tags: Record<string, string>, trust: string): AwsAccount['roles'][number] => ({
    name, path, id, createDate: created, tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })), assumeRolePolicyDocument: trust,
  });
  const person = trustPolicy({ Effect: 'Allow', Principal: { Federated: `arn:aws:iam::${IDENTITY_ACCOUNT_ID}:saml-provider/corp` }, Action: 'sts:AssumeRoleWithSAML' });
  return {
    accountId: IDENTITY_ACCOUNT_ID,
    partition: 'aws',
    roles: [
      role('eks-auth-sync-reader', '/', 'AROAIDENTITY00READER1', {}, trustPolicy(allow(opts.readerTrustedBy))),
      role('untrusting-reader', '/', 'AROAIDENTITY00READER2', {}, trustPolicy(allow('arn:aws:iam::999988887777:root'))),
      role('denied-reader', '/', 'AROAIDENTITY00READER3', {}, trustPolicy(
        allow(`arn:aws:iam::${opts.clusterAccountId}:root`),
        { Effect: 'Deny', Principal: { AWS: opts.readerTrustedBy }, Action: 'sts:AssumeRole' },
      )),
      role('platform-admin', '/people/', 'AROAIDENTITY0000ADMIN', { [`${p}username`]: 'platform-admin:{{SessionName}}', [`${p}groups`]: 'platform-admins' }, person),
      role('own-account-tagged', '/', 'AROAIDENTITY000OWNTAG', { [`eks/${IDENTITY_ACCOUNT_ID}/${opts.clusterName}/username`]: 'wrong-account', [`eks/${IDENTITY_ACCOUNT_ID}/${opts.clusterName}/groups`]: 'viewers' }, person),
    ],
    users: [
      { name: 'dana', path: '/', id: 'AIDAIDENTITY00000DANA', createDate: created, tags: [{ Key: `${p}username`, Value: 'dana' }, { Key: `${p}groups`, Value: 'developers' }] },
    ],
  };
}
