import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import type { AwsCredentialIdentity } from '@smithy/types';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { execCredential, presignToken, stsHost, TokenProvider } from '../../lambda/cluster/token.js';
import { AwsCredentialsError } from '../../lambda/errors.js';

interface Vector {
  clusterName: string;
  region: string;
  time: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string | null };
  execCredential: { status: { token: string; expirationTimestamp: string } };
}
const vectors = (
  JSON.parse(readFileSync(new URL('../fixtures/eks-get-token-vectors.json', import.meta.url), 'utf8')) as {
    cases: Vector[];
  }
).cases;

const creds = (accessKeyId: string, secretAccessKey: string, sessionToken?: string | null): AwsCredentialIdentity => ({
  accessKeyId,
  secretAccessKey,
  ...(sessionToken ? { sessionToken } : {}),
});

/** The presigned URL inside a token, as the authenticator decodes it (RawURL base64, no padding). */
function decodeToken(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  const payload = token.slice('k8s-aws-v1.'.length);
  expect(payload).toMatch(/^[A-Za-z0-9_-]+$/);
  return new URL(Buffer.from(payload, 'base64url').toString('utf8'));
}

describe('presignToken reproduces aws eks get-token', () => {
  it.each(vectors.map((v) => [v.clusterName, v.region, v.credentials.sessionToken ? 'with' : 'without', v] as const))(
    'gives the CLI token for cluster %s in %s %s a session token',
    async (_name, _region, _session, v) => {
      const { token, expiration } = await presignToken({
        clusterName: v.clusterName,
        region: v.region,
        credentials: creds(v.credentials.accessKeyId, v.credentials.secretAccessKey, v.credentials.sessionToken),
        now: new Date(v.time),
      });
      expect(token).toBe(v.execCredential.status.token);
      // Same keys in the same order as the CLI's ExecCredential.
      expect(JSON.stringify(JSON.parse(execCredential(token, expiration)))).toBe(JSON.stringify(v.execCredential));
    },
  );

  it('prints the ExecCredential with the CLI spacing, no milliseconds and one trailing newline', () => {
    expect(execCredential('k8s-aws-v1.abc', new Date('2026-03-04T05:20:07.999Z'))).toBe(
      '{"kind": "ExecCredential", "apiVersion": "client.authentication.k8s.io/v1beta1", "spec": {}, ' +
        '"status": {"expirationTimestamp": "2026-03-04T05:20:07Z", "token": "k8s-aws-v1.abc"}}\n',
    );
  });

  it('expires the token 14 minutes after it was signed', async () => {
    const now = new Date('2026-03-04T05:06:07Z');
    const { expiration } = await presignToken({ clusterName: 'c', region: 'eu-west-1', credentials: creds('AKIA1', 's'), now });
    expect(expiration.toISOString()).toBe('2026-03-04T05:20:07.000Z');
  });
});

describe('the token the authenticator receives', () => {
  const ALLOWED = new Set([
    'Action', 'Version', 'X-Amz-Algorithm', 'X-Amz-Credential', 'X-Amz-Date', 'X-Amz-Expires',
    'X-Amz-Security-Token', 'X-Amz-Signature', 'X-Amz-SignedHeaders',
  ]);

  it.each([
    ['eu-west-1', 'sts.eu-west-1.amazonaws.com'],
    ['us-east-1', 'sts.us-east-1.amazonaws.com'],
    ['cn-north-1', 'sts.cn-north-1.amazonaws.com.cn'],
    ['cn-northwest-1', 'sts.cn-northwest-1.amazonaws.com.cn'],
    ['us-gov-west-1', 'sts.us-gov-west-1.amazonaws.com'],
    ['us-iso-east-1', 'sts.us-iso-east-1.c2s.ic.gov'],
    ['us-isob-east-1', 'sts.us-isob-east-1.sc2s.sgov.gov'],
    ['eu-isoe-west-1', 'sts.eu-isoe-west-1.cloud.adc-e.uk'],
    ['us-isof-south-1', 'sts.us-isof-south-1.csp.hci.ic.gov'],
    ['eusc-de-east-1', 'sts.eusc-de-east-1.amazonaws.eu'],
  ])('is signed for the regional STS host of %s (%s)', async (region, host) => {
    expect(stsHost(region)).toBe(host);
    const { token } = await presignToken({ clusterName: 'c', region, credentials: creds('AKIA1', 's'), now: new Date() });
    const url = decodeToken(token);
    expect(url.protocol).toBe('https:');
    expect(url.host).toBe(host);
    expect(url.pathname).toBe('/');
    expect(url.searchParams.get('X-Amz-Credential')).toMatch(new RegExp(`^AKIA1/\\d{8}/${region}/sts/aws4_request$`));
  });

  it.each([
    ['without', undefined],
    ['with', 'FwoGZXIvYXdzEXAMPLE//+token=='],
  ])('carries only the query parameters the authenticator allows, %s a session token', async (_label, sessionToken) => {
    const { token } = await presignToken({
      clusterName: 'prod',
      region: 'eu-west-1',
      credentials: creds('ASIA1', 'secret/+=', sessionToken),
      now: new Date('2026-01-02T03:04:05Z'),
    });
    expect(Buffer.byteLength(token)).toBeLessThanOrEqual(4096);
    const url = decodeToken(token);
    const keys = [...url.searchParams.keys()];
    expect(new Set(keys).size).toBe(keys.length);
    for (const key of keys) expect(ALLOWED).toContain(key);
    expect(url.searchParams.get('Action')).toBe('GetCallerIdentity');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('60');
    expect(url.searchParams.get('X-Amz-Date')).toBe('20260102T030405Z');
    expect(url.searchParams.get('X-Amz-SignedHeaders')?.split(';')).toContain('x-k8s-aws-id');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe(sessionToken ?? null);
  });
});

describe('presignToken against the real AWS CLI', () => {
  const AWS = '/usr/bin/aws';
  const faketime = spawnSync('sh', ['-c', 'command -v faketime'], { encoding: 'utf8' }).stdout.trim();
  const missing = [existsSync(AWS) ? '' : AWS, faketime ? '' : 'faketime'].filter(Boolean);
  // In CI .ci/run installs both, so a missing tool there must fail the run, not skip it.
  const skipReason =
    missing.length > 0 && !process.env.CI ? `${missing.join(' and ')} not installed (apt-get install awscli faketime)` : '';
  const home = mkdtempSync(join(tmpdir(), 'aws-cli-home-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));

  const base64Chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const randomString = (alphabet: string, length: number) =>
    Array.from({ length }, () => alphabet[randomInt(alphabet.length)]).join('');
  /** A 40-character secret that contains `/`, `+` and `=`, the characters that need escaping. */
  const randomSecret = () => {
    const chars = [...randomString(base64Chars, 37)];
    for (const c of ['/', '+', '=']) chars.splice(randomInt(chars.length + 1), 0, c);
    return chars.join('');
  };
  const randomClusterName = () =>
    randomString('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789', 1) +
    randomString('abcdefghijklmnopqrstuvwxyz0123456789-_', randomInt(0, 60));

  const cases = (
    [
      ['eu-west-1', false],
      ['us-east-1', true],
      ['ap-southeast-2', true],
      ['cn-north-1', false],
      ['cn-northwest-1', true],
      ['us-gov-west-1', true],
      ['us-gov-east-1', false],
      ['us-iso-east-1', true],
    ] as const
  ).map(([region, withSession]) => ({
    region,
    withSession,
    clusterName: randomClusterName(),
    // Whole seconds between 2021 and 2035: faketime pins seconds.
    epochSeconds: randomInt(1_609_459_200, 2_082_758_400),
    accessKeyId: (withSession ? 'ASIA' : 'AKIA') + randomString('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', 16),
    secretAccessKey: randomSecret(),
    sessionToken: withSession ? randomBytes(randomInt(100, 400)).toString('base64') : undefined,
  }));

  it.for(cases)(
    'prints byte for byte what aws eks get-token prints in $region (with a session token: $withSession)',
    async (c, ctx) => {
      if (skipReason) ctx.skip(skipReason);
      const now = new Date(c.epochSeconds * 1000);
      const fake = now.toISOString().slice(0, 19).replace('T', ' ');
      const cliOutput = execFileSync(
        faketime || 'faketime',
        // A fixed time (no `@`) stops the clock, so a slow CLI start cannot tick X-Amz-Date over.
        ['-f', fake, AWS, 'eks', 'get-token', '--cluster-name', c.clusterName, '--region', c.region],
        {
          encoding: 'utf8',
          env: {
            PATH: process.env.PATH ?? '/usr/bin:/bin',
            HOME: home,
            TZ: 'UTC',
            AWS_ACCESS_KEY_ID: c.accessKeyId,
            AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
            ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : {}),
            AWS_CONFIG_FILE: '/dev/null',
            AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
          },
        },
      );
      const { token, expiration } = await presignToken({
        clusterName: c.clusterName,
        region: c.region,
        credentials: creds(c.accessKeyId, c.secretAccessKey, c.sessionToken),
        now,
      });
      expect(execCredential(token, expiration), `inputs: ${JSON.stringify(c)}`).toBe(cliOutput);
    },
  );
});

describe('TokenProvider', () => {
  const T0 = new Date('2026-05-06T07:00:00Z').getTime();
  const minutes = (n: number) => n * 60_000;

  /** A credential provider that records how it was called and hands out the next credentials. */
  function fakeCredentials(...issued: AwsCredentialIdentity[]) {
    const calls: Array<{ forceRefresh?: boolean } | undefined> = [];
    let next = 0;
    const provider = async (options?: { forceRefresh?: boolean }) => {
      calls.push(options);
      const c = issued[Math.min(next, issued.length - 1)];
      next += 1;
      if (!c) throw new Error('no credentials configured');
      return c;
    };
    return { provider, calls };
  }
  const accessKeyOf = (token: string) => decodeToken(token).searchParams.get('X-Amz-Credential')?.split('/')[0];
  const dateOf = (token: string) => decodeToken(token).searchParams.get('X-Amz-Date');

  function setup(...issued: AwsCredentialIdentity[]) {
    let now = T0;
    const { provider, calls } = fakeCredentials(...issued);
    const tokens = new TokenProvider({ clusterName: 'prod', region: 'eu-west-1', credentials: provider, clock: () => new Date(now) });
    return { tokens, calls, advance: (ms: number) => (now += ms) };
  }

  afterEach(() => vi.restoreAllMocks());

  it('reuses a young token without asking for credentials again', async () => {
    const { tokens, calls, advance } = setup(creds('AKIAFIRST', 's1'), creds('AKIASECOND', 's2'));
    const first = await tokens.token();
    advance(minutes(9) + 59_000);
    expect(await tokens.token()).toBe(first);
    expect(calls).toHaveLength(1);
  });

  it('mints a new token once the cached one is 10 minutes old', async () => {
    const { tokens, calls, advance } = setup(creds('AKIAFIRST', 's1'), creds('AKIASECOND', 's2'));
    const first = await tokens.token();
    advance(minutes(10));
    const second = await tokens.token();
    expect(second).not.toBe(first);
    expect(dateOf(second)).toBe('20260506T071000Z');
    expect(accessKeyOf(second)).toBe('AKIASECOND');
    expect(calls).toHaveLength(2);
  });

  it('forces a credential refresh when the credentials would expire during the token life', async () => {
    const { tokens, calls } = setup(
      { ...creds('ASIASTALE', 's1', 'tok1'), expiration: new Date(T0 + minutes(5)) },
      { ...creds('ASIAFRESH', 's2', 'tok2'), expiration: new Date(T0 + minutes(60)) },
    );
    expect(accessKeyOf(await tokens.token())).toBe('ASIAFRESH');
    expect(calls).toEqual([undefined, { forceRefresh: true }]);
  });

  it('stops reusing a token a minute before the credentials that signed it expire', async () => {
    const expiring = { ...creds('ASIASHORT', 's1', 'tok1'), expiration: new Date(T0 + minutes(5)) };
    const fresh = { ...creds('ASIAFRESH', 's2', 'tok2'), expiration: new Date(T0 + minutes(60)) };
    // The provider cannot refresh yet at T0 (it hands out the short-lived set twice), later it can.
    const { tokens, calls, advance } = setup(expiring, expiring, fresh);
    const first = await tokens.token();
    expect(accessKeyOf(first)).toBe('ASIASHORT');
    advance(minutes(3));
    expect(await tokens.token()).toBe(first);
    expect(calls).toHaveLength(2);
    advance(minutes(1) + 1);
    const second = await tokens.token();
    expect(accessKeyOf(second)).toBe('ASIAFRESH');
    expect(calls).toHaveLength(3);
  });

  it('fails with a named error when the provider only has expired credentials', async () => {
    const { tokens } = setup({ ...creds('ASIAOLD', 's1', 'tok1'), expiration: new Date(T0 - minutes(1)) });
    await expect(tokens.token()).rejects.toThrow(AwsCredentialsError);
    await expect(tokens.token()).rejects.toThrow(/expired at 2026-05-06T06:59:00.000Z.*refresh them/);
  });

  it('after invalidate() mints a fresh token from force-refreshed credentials', async () => {
    const { tokens, calls } = setup(creds('AKIAFIRST', 's1'), creds('AKIASECOND', 's2'));
    const first = await tokens.token();
    tokens.invalidate();
    const second = await tokens.token();
    expect(accessKeyOf(second)).toBe('AKIASECOND');
    expect(second).not.toBe(first);
    expect(calls).toEqual([undefined, { forceRefresh: true }]);
  });

  it('mints once when several requests ask at the same time', async () => {
    const { tokens, calls } = setup(creds('AKIAFIRST', 's1'), creds('AKIASECOND', 's2'));
    const [a, b] = await Promise.all([tokens.token(), tokens.token()]);
    expect(a).toBe(b);
    expect(calls).toHaveLength(1);
  });

  it('never logs the token or the secret, and does not reveal them when the provider is logged', async () => {
    const printed: string[] = [];
    const capture = (...args: unknown[]) => void printed.push(args.map(String).join(' '));
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) vi.spyOn(console, method).mockImplementation(capture);
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => (capture(chunk), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (capture(chunk), true));

    const { tokens, advance } = setup(creds('AKIAFIRST', 'topSecretValue'), creds('AKIASECOND', 'topSecretValue'));
    const token = await tokens.token();
    tokens.invalidate();
    advance(minutes(11));
    const later = await tokens.token();
    vi.restoreAllMocks();

    const payload = token.slice('k8s-aws-v1.'.length);
    const shown = [...printed, inspect(tokens, { showHidden: true, depth: 5 }), JSON.stringify(tokens)].join('\n');
    for (const secret of [payload, later.slice('k8s-aws-v1.'.length), 'topSecretValue']) {
      expect(shown).not.toContain(secret);
    }
  });
});
