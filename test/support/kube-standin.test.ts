import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AssociateAccessPolicyCommand, CreateAccessEntryCommand, DeleteAccessEntryCommand, EKSClient } from '@aws-sdk/client-eks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ConfigMap } from '../../lambda/configmap.js';
import vectors from '../fixtures/eks-get-token-vectors.json' with { type: 'json' };
import type { SeedAccessEntry } from './aws-standins/access-entries.js';
import type { AuthenticationMode } from './aws-standins/access-view.js';
import { startEks, type EksStandin } from './aws-standins/eks.js';
import { awsAuthConfigMap as awsAuth, startKubeStandin, type KubeStandin, type KubeStandinOptions } from './kube-standin.js';
import { verifyEksToken, type StsIdentity, type VerifyContext } from './sigv4-verify.js';
import { mintTestToken, type TestCredentials } from './test-token.js';
import { generateTls, type TlsMaterial } from './tls.js';

const ACCOUNT = '111122223333';
const CLUSTER = 'prod-eu';
const REGION = 'eu-west-1';

describe('the stand-in authenticates tokens like aws-iam-authenticator and STS', () => {
  const [plain, withSession] = vectors.cases;
  if (!plain || !withSession) throw new Error('token vectors missing');
  const decode = (token: string) => Buffer.from(token.slice('k8s-aws-v1.'.length), 'base64url').toString('utf8');
  const encode = (url: string) => `k8s-aws-v1.${Buffer.from(url).toString('base64url')}`;
  const identitiesOf = (c: (typeof vectors.cases)[number]): Map<string, StsIdentity> =>
    new Map([[c.credentials.accessKeyId, { secretAccessKey: c.credentials.secretAccessKey, sessionToken: c.credentials.sessionToken ?? undefined, arn: `arn:aws:iam::${ACCOUNT}:user/vector` }]]);
  const contextFor = (c: (typeof vectors.cases)[number], offsetMs = 0): VerifyContext => ({
    clusterName: c.clusterName,
    now: new Date(Date.parse(c.time) + offsetMs),
    identity: (id) => identitiesOf(c).get(id),
  });

  it.each(vectors.cases.flatMap((c) => [[c, 0] as const, [c, 15 * 60_000] as const]))(
    'accepts the AWS CLI token for %# (signed at the vector time, checked %d ms later)',
    (c, offset) => {
      expect(verifyEksToken(c.execCredential.status.token, contextFor(c, offset))).toMatchObject({ ok: true, accessKeyId: c.credentials.accessKeyId });
    },
  );

  const url = decode(plain.execCredential.status.token);
  const rejections: [string, string, Partial<VerifyContext> & { offsetMs?: number }, RegExp][] = [
    ['a token over 4096 bytes', `k8s-aws-v1.${'A'.repeat(4090)}`, {}, /larger than 4096 bytes/],
    ['another prefix', plain.execCredential.status.token.replace('k8s-aws-v1.', 'k8s-aws-v2.'), {}, /prefix/],
    ['padded base64', `${plain.execCredential.status.token}==`, {}, /unpadded base64url/],
    ['an http URL', encode(url.replace('https:', 'http:')), {}, /scheme http: is not https/],
    ['a path other than /', encode(url.replace('.com/?', '.com/x?')), {}, /path \/x is not \//],
    ['a host that is not STS', encode(url.replace('sts.eu-west-1.amazonaws.com', 'sts.eu-west-1.example.com')), {}, /not an STS endpoint/],
    ['a China region on the amazonaws.com domain', encode(url.replace('sts.eu-west-1.amazonaws.com', 'sts.cn-north-1.amazonaws.com')), {}, /not an STS endpoint/],
    ['an extra query parameter', encode(`${url}&X-Amz-User-Agent=aws-sdk-js`), {}, /X-Amz-User-Agent is not allowed/],
    ['a duplicated query parameter', encode(`${url}&Action=GetCallerIdentity`), {}, /Action appears more than once/],
    ['another action', encode(url.replace('Action=GetCallerIdentity', 'Action=GetSessionToken')), {}, /not GetCallerIdentity/],
    ['SignedHeaders without x-k8s-aws-id', encode(url.replace('X-Amz-SignedHeaders=host%3Bx-k8s-aws-id', 'X-Amz-SignedHeaders=host')), {}, /does not include x-k8s-aws-id/],
    ['X-Amz-Expires of 3600 (the SDK presign default)', encode(url.replace('X-Amz-Expires=60', 'X-Amz-Expires=3600')), {}, /not an integer in 0..900/],
    ['a date more than 15 minutes old', plain.execCredential.status.token, { offsetMs: 15 * 60_000 + 1000 }, /token expired/],
    ['a date more than 15 minutes ahead of the server clock', plain.execCredential.status.token, { offsetMs: -16 * 60_000 }, /in the future/],
    ['an access key STS does not know', plain.execCredential.status.token, { identity: () => undefined }, /unknown to STS/],
    ['credentials that have expired', plain.execCredential.status.token, { isExpired: () => true }, /have expired/],
    ['a tampered signature', encode(url.replace(/.$/, (ch) => (ch === '0' ? '1' : '0'))), {}, /signature does not match/],
    ['a token for another cluster', plain.execCredential.status.token, { clusterName: 'other-cluster' }, /signature does not match/],
    ['a wrong secret', plain.execCredential.status.token, { identity: (id) => ({ secretAccessKey: 'not-the-secret', arn: id }) }, /signature does not match/],
  ];
  it.each(rejections)('rejects %s', (_name, token, overrides, reason) => {
    const { offsetMs, ...ctx } = overrides;
    expect(verifyEksToken(token, { ...contextFor(plain, offsetMs), ...ctx })).toEqual({ ok: false, reason: expect.stringMatching(reason) });
  });

  it('rejects temporary credentials whose token lacks X-Amz-Security-Token', () => {
    const stripped = decode(withSession.execCredential.status.token).replace(/&X-Amz-Security-Token=[^&]*/, '');
    expect(verifyEksToken(encode(stripped), contextFor(withSession))).toEqual({ ok: false, reason: expect.stringMatching(/Security-Token is missing/) });
  });

  it('accepts the global STS host and X-Amz-Expires up to 900, signed by an independent signer', async () => {
    const credentials = { accessKeyId: 'AKIAGLOBAL', secretAccessKey: 'global/secret' };
    const now = new Date('2026-03-04T05:06:07Z');
    const ctx: VerifyContext = { clusterName: CLUSTER, now, identity: () => ({ secretAccessKey: credentials.secretAccessKey, arn: 'arn:aws:iam::1:user/g' }) };
    const global = await mintTestToken({ clusterName: CLUSTER, region: 'us-east-1', host: 'sts.amazonaws.com', credentials, now, expiresIn: 900 });
    expect(verifyEksToken(global, ctx)).toMatchObject({ ok: true });
    const tooLong = await mintTestToken({ clusterName: CLUSTER, region: REGION, credentials, now, expiresIn: 901 });
    expect(verifyEksToken(tooLong, ctx)).toMatchObject({ ok: false, reason: expect.stringMatching(/0..900/) });
  });
});

/** One HTTP exchange with the stand-in, trusting only its CA. */
function call(standin: KubeStandin, method: string, path: string, token: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, standin.url), { method, ca: standin.caPem, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body));
  });
}

const DEPLOYER: TestCredentials = { accessKeyId: 'ASIADEPLOYER', secretAccessKey: 'deployer/secret', sessionToken: 'deployer-session' };
const DEPLOYER_ARN = `arn:aws:sts::${ACCOUNT}:assumed-role/deployer/alice@example.com`;
const ADMIN: TestCredentials = { accessKeyId: 'AKIAADMIN', secretAccessKey: 'admin/secret' };
const ADMIN_ARN = `arn:aws:iam::${ACCOUNT}:user/admin`;
const AWS_AUTH_PATH = '/api/v1/namespaces/kube-system/configmaps/aws-auth';

let tls: TlsMaterial;
let standin: KubeStandin | undefined;
beforeAll(() => {
  tls = generateTls();
});
afterEach(async () => {
  await standin?.close();
  standin = undefined;
});

async function start(overrides: Partial<KubeStandinOptions> = {}): Promise<KubeStandin> {
  standin = await startKubeStandin({
    clusterName: CLUSTER,
    tls,
    identities: {
      [DEPLOYER.accessKeyId]: { secretAccessKey: DEPLOYER.secretAccessKey, sessionToken: DEPLOYER.sessionToken, arn: DEPLOYER_ARN },
      [ADMIN.accessKeyId]: { secretAccessKey: ADMIN.secretAccessKey, arn: ADMIN_ARN },
    },
    admins: [ADMIN_ARN],
    ...overrides,
  });
  return standin;
}

const token = (credentials: TestCredentials) => mintTestToken({ clusterName: CLUSTER, region: REGION, credentials, now: new Date() });

describe('the stand-in answers a rejected token with a real 401 Status', () => {
  it('returns the Unauthorized Status body and records why', async () => {
    const s = await start();
    const stale = await mintTestToken({ clusterName: CLUSTER, region: REGION, credentials: ADMIN, now: new Date(Date.now() - 16 * 60_000) });
    const res = await call(s, 'GET', AWS_AUTH_PATH, stale);
    expect(res).toEqual({ status: 401, body: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 } });
    expect(s.authFailures).toEqual([expect.stringMatching(/token expired/)]);
  });
});

describe('the stand-in authorises through its own aws-auth, like EKS', () => {
  const entry = (arn: string, groups: string) => `- rolearn: ${arn}\n  username: deployer\n  groups: ${groups}\n`;
  const role = `arn:aws:iam::${ACCOUNT}:role/deployer`;
  const cases: [string, Record<string, string>, number][] = [
    ['a role mapped to system:masters may write', { mapRoles: entry(role, '[system:masters]') }, 200],
    ['field names and the ARN match case-insensitively', { mapRoles: `- RoleArn: arn:aws:iam::${ACCOUNT}:role/DEPLOYER\n  UserName: deployer\n  Groups: [system:masters]\n` }, 200],
    ['a role ARN with a path never matches', { mapRoles: entry(`arn:aws:iam::${ACCOUNT}:role/team/deployer`, '[system:masters]') }, 401],
    ['a YAML syntax error in mapRoles drops every role mapping', { mapRoles: `${entry(role, '[system:masters]')}- rolearn: [unclosed\n` }, 401],
    ['a wrongly typed groups field drops every role mapping', { mapRoles: `${entry(role, 'system:masters')}` }, 401],
    ['of duplicate roles the last wins (granting)', { mapRoles: entry(role, '[viewers]') + entry(role, '[system:masters]') }, 200],
    ['of duplicate roles the last wins (denying)', { mapRoles: entry(role, '[system:masters]') + entry(role, '[viewers]') }, 403],
    ['a role mapped only to other groups is forbidden', { mapRoles: entry(role, '[viewers]') }, 403],
    ['an account in mapAccounts is authenticated but not authorised', { mapAccounts: `- "${ACCOUNT}"\n` }, 403],
    ['an unmapped role is not authenticated at all', { mapUsers: `- userarn: ${ADMIN_ARN}\n  groups: [system:masters]\n` }, 401],
  ];
  it.each(cases)('%s', async (_name, data, expected) => {
    const s = await start({ configMaps: [awsAuth(data)] });
    const res = await call(s, 'GET', AWS_AUTH_PATH, await token(DEPLOYER));
    expect(res.status).toBe(expected);
  });

  it('names the templated username and the verb in the Forbidden Status', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: `- rolearn: arn:aws:iam::${ACCOUNT}:role/deployer\n  username: deployer:{{SessionName}}\n  groups: [viewers]\n` })], readerGroups: ['viewers'] });
    const live = await call(s, 'GET', AWS_AUTH_PATH, await token(DEPLOYER));
    expect(live.status).toBe(200);
    const res = await call(s, 'PUT', AWS_AUTH_PATH, await token(DEPLOYER), live.body);
    expect(res).toEqual({
      status: 403,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'configmaps "aws-auth" is forbidden: User "deployer:alice-example.com" cannot update resource "configmaps" in API group "" in the namespace "kube-system"',
        reason: 'Forbidden',
        details: { name: 'aws-auth', kind: 'configmaps' },
        code: 403,
      },
    });
  });

  it('locks out an identity that writes its own mapping away, from its next request on', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: entry(role, '[system:masters]') })] });
    const live = await call(s, 'GET', AWS_AUTH_PATH, await token(DEPLOYER));
    const put = await call(s, 'PUT', AWS_AUTH_PATH, await token(DEPLOYER), { ...live.body, data: { mapRoles: '[]\n' } });
    expect(put.status).toBe(200);
    expect((await call(s, 'GET', AWS_AUTH_PATH, await token(DEPLOYER))).status).toBe(401);
    expect((await call(s, 'GET', AWS_AUTH_PATH, await token(ADMIN))).status).toBe(200);
  });
});

describe('the stand-in keeps the API server rules for ConfigMaps', () => {
  const conflict = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'Operation cannot be fulfilled on configmaps "aws-auth": the object has been modified; please apply your changes to the latest version and try again',
    reason: 'Conflict',
    details: { name: 'aws-auth', kind: 'configmaps' },
    code: 409,
  };

  it('gives every write a higher resourceVersion, keeps uid and creationTimestamp, and prunes unknown fields', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    const admin = await token(ADMIN);
    const before = (await call(s, 'GET', AWS_AUTH_PATH, admin)).body as unknown as ConfigMap;
    const put = await call(s, 'PUT', AWS_AUTH_PATH, admin, { ...before, data: { mapUsers: '[]\n' }, extra: 'dropped' });
    const after = put.body as unknown as ConfigMap;
    expect(Number(after.metadata.resourceVersion)).toBeGreaterThan(Number(before.metadata.resourceVersion));
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.metadata['creationTimestamp']).toBe(before.metadata['creationTimestamp']);
    expect(after).not.toHaveProperty('extra');
    expect(s.writes).toBe(1);
  });

  it('answers a stale resourceVersion with the real Conflict Status and keeps the stored object', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    const admin = await token(ADMIN);
    const read = (await call(s, 'GET', AWS_AUTH_PATH, admin)).body;
    s.put(awsAuth({ mapRoles: '[]\n', mapAccounts: '[]\n' }));
    expect(await call(s, 'PUT', AWS_AUTH_PATH, admin, { ...read, data: {} })).toEqual({ status: 409, body: conflict });
    expect(s.get('kube-system', 'aws-auth')?.data).toEqual({ mapRoles: '[]\n', mapAccounts: '[]\n' });
  });

  it('lets beforeWrite race a concurrent editor into the next write', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    const admin = await token(ADMIN);
    const read = (await call(s, 'GET', AWS_AUTH_PATH, admin)).body;
    s.beforeWrite((self) => {
      self.put(awsAuth({ mapRoles: '[]\n', mapUsers: '[]\n' }));
    });
    expect((await call(s, 'PUT', AWS_AUTH_PATH, admin, read)).body).toEqual(conflict);
    expect((await call(s, 'PUT', AWS_AUTH_PATH, admin, (await call(s, 'GET', AWS_AUTH_PATH, admin)).body)).status).toBe(200);
  });

  it('overwrites unconditionally when PUT carries no resourceVersion, as real ConfigMaps allow, and logs it', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    const res = await call(s, 'PUT', AWS_AUTH_PATH, await token(ADMIN), awsAuth({ mapUsers: '[]\n' }));
    expect(res.status).toBe(200);
    expect(s.log.at(-1)).toMatchObject({ method: 'PUT', status: 200, resourceVersion: undefined, principal: ADMIN_ARN });
  });

  const errorCases: [string, string, string, unknown, number, string, RegExp][] = [
    ['a PUT to a missing object', 'PUT', '/api/v1/namespaces/kube-system/configmaps/absent', { ...awsAuth({}), metadata: { name: 'absent', resourceVersion: '1' } }, 404, 'NotFound', /configmaps "absent" not found/],
    ['a POST of an existing object', 'POST', '/api/v1/namespaces/kube-system/configmaps', awsAuth({}), 409, 'AlreadyExists', /configmaps "aws-auth" already exists/],
    ['data over 1 MiB', 'POST', '/api/v1/namespaces/kube-system/configmaps', { ...awsAuth({ big: 'x'.repeat(1024 * 1024) }), metadata: { name: 'big' } }, 422, 'Invalid', /ConfigMap "big" is invalid: \[\]: Too long: must have at most 1048576 bytes/],
    ['malformed JSON', 'POST', '/api/v1/namespaces/kube-system/configmaps', '{"kind":', 400, 'BadRequest', /json parse error/],
    ['a body name that differs from the URL', 'PUT', AWS_AUTH_PATH, { ...awsAuth({}), metadata: { name: 'other' } }, 400, 'BadRequest', /does not match the name on the URL/],
    ['a body namespace that differs from the URL', 'PUT', AWS_AUTH_PATH, { ...awsAuth({}), metadata: { name: 'aws-auth', namespace: 'default' } }, 400, 'BadRequest', /namespace of the provided object does not match/],
    ['a POST into a missing namespace', 'POST', '/api/v1/namespaces/nowhere/configmaps', { ...awsAuth({}), metadata: { name: 'x' } }, 404, 'NotFound', /namespaces "nowhere" not found/],
  ];
  it.each(errorCases)('refuses %s with a real Status', async (_name, method, path, body, code, reason, message) => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    const res = await call(s, method, path, await token(ADMIN), body);
    expect(res).toEqual({ status: code, body: expect.objectContaining({ kind: 'Status', status: 'Failure', code, reason, message: expect.stringMatching(message) }) });
    expect(s.writes).toBe(0);
  });

  it('reports the causes of an invalid object in details.causes', async () => {
    const s = await start();
    const res = await call(s, 'POST', '/api/v1/namespaces/kube-system/configmaps', await token(ADMIN), { ...awsAuth({ big: 'x'.repeat(1024 * 1024) }), metadata: { name: 'big' } });
    expect(res.body['details']).toEqual({ name: 'big', kind: 'ConfigMap', causes: [{ reason: 'FieldValueTooLong', message: 'Too long: must have at most 1048576 bytes', field: '[]' }] });
  });

  it('injects 5xx answers with failNext, before authentication and without applying', async () => {
    const s = await start({ configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    s.failNext(1, 503);
    const res = await call(s, 'GET', AWS_AUTH_PATH, 'not-a-token');
    expect(res).toEqual({ status: 503, body: expect.objectContaining({ reason: 'ServiceUnavailable', code: 503 }) });
    expect((await call(s, 'GET', AWS_AUTH_PATH, await token(ADMIN))).status).toBe(200);
  });
});

const KUBECTL = '/usr/bin/kubectl';
const AWS_CLI = '/usr/bin/aws';
const haveTools = existsSync(KUBECTL) && existsSync(AWS_CLI);

describe.skipIf(!haveTools && !process.env['CI'])('kubectl, with the real AWS CLI as its exec credential plugin, against the stand-in', () => {
  const KUBECTL_USER: TestCredentials = { accessKeyId: 'AKIAKUBECTLUSER', secretAccessKey: 'kubectl/user+secret' };
  const KUBECTL_ARN = `arn:aws:iam::${ACCOUNT}:user/kubectl`;
  const VIEWER: TestCredentials = { accessKeyId: 'AKIAKUBECTLVIEW', secretAccessKey: 'kubectl/viewer+secret' };
  const dir = mkdtempSync(join(tmpdir(), 'kubectl-fidelity-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function startForKubectl(): Promise<KubeStandin> {
    return start({
      identities: {
        [KUBECTL_USER.accessKeyId]: { secretAccessKey: KUBECTL_USER.secretAccessKey, arn: KUBECTL_ARN },
        [VIEWER.accessKeyId]: { secretAccessKey: VIEWER.secretAccessKey, arn: `arn:aws:iam::${ACCOUNT}:user/viewer` },
      },
      admins: [KUBECTL_ARN],
      configMaps: [awsAuth({ mapUsers: `- userarn: arn:aws:iam::${ACCOUNT}:user/viewer\n  username: viewer\n  groups: [viewers]\n` })],
    });
  }

  /** Runs kubectl asynchronously (a synchronous run would block the in-process stand-in). */
  function kubectl(s: KubeStandin, args: string[], opts: { credentials?: TestCredentials; caPem?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
    const credentials = opts.credentials ?? KUBECTL_USER;
    const kubeconfig = join(dir, `config-${Math.random().toString(36).slice(2)}`);
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        'current-context': 'standin',
        clusters: [{ name: 'standin', cluster: { server: s.url, 'certificate-authority-data': Buffer.from(opts.caPem ?? s.caPem).toString('base64') } }],
        contexts: [{ name: 'standin', context: { cluster: 'standin', user: 'aws' } }],
        users: [{ name: 'aws', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1beta1', command: AWS_CLI, args: ['eks', 'get-token', '--cluster-name', CLUSTER, '--region', REGION], interactiveMode: 'Never' } } }],
      }),
    );
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: dir,
      KUBECONFIG: kubeconfig,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    };
    return new Promise((resolve) => {
      execFile(KUBECTL, [...args, '--request-timeout=20s'], { env, encoding: 'utf8', timeout: 60_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr });
      });
    });
  }

  it('gets the seeded aws-auth as JSON', async () => {
    const s = await startForKubectl();
    const res = await kubectl(s, ['get', 'configmap', 'aws-auth', '-n', 'kube-system', '-o', 'json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual(s.get('kube-system', 'aws-auth'));
    expect(s.log.find((e) => e.path === AWS_AUTH_PATH)).toMatchObject({ principal: KUBECTL_ARN, status: 200 });
  });

  it('creates a ConfigMap', async () => {
    const s = await startForKubectl();
    const res = await kubectl(s, ['create', 'configmap', 'fidelity', '-n', 'kube-system', '--from-literal=key=value']);
    expect(res.stdout).toContain('configmap/fidelity created');
    expect(s.get('kube-system', 'fidelity')?.data).toEqual({ key: 'value' });
  });

  it('fails to replace with a stale resourceVersion, with the conflict message', async () => {
    const s = await startForKubectl();
    const stale = s.get('kube-system', 'aws-auth');
    s.put(awsAuth({ mapRoles: '[]\n' }));
    const file = join(dir, 'stale.json');
    writeFileSync(file, JSON.stringify(stale));
    // Client-side validation needs the OpenAPI documents, which the stand-in does not serve.
    const res = await kubectl(s, ['replace', '--validate=false', '-f', file]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('Operation cannot be fulfilled on configmaps "aws-auth": the object has been modified');
    expect(s.get('kube-system', 'aws-auth')?.data).toEqual({ mapRoles: '[]\n' });
  });

  it('is Unauthorized for credentials STS does not know', async () => {
    const s = await startForKubectl();
    // --raw skips discovery, which kubectl would otherwise retry (re-running the plugin) five times.
    const res = await kubectl(s, ['get', '--raw', AWS_AUTH_PATH], { credentials: { accessKeyId: 'AKIASTRANGER', secretAccessKey: 'stranger/secret' } });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Unauthorized|You must be logged in to the server/);
    expect(s.authFailures).toContain('access key AKIASTRANGER is unknown to STS');
  });

  it('is Forbidden for a mapped identity without write access', async () => {
    const s = await startForKubectl();
    const res = await kubectl(s, ['delete', 'configmap', 'aws-auth', '-n', 'kube-system'], { credentials: VIEWER });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('Error from server (Forbidden): configmaps "aws-auth" is forbidden: User "viewer" cannot delete resource "configmaps"');
    expect(s.get('kube-system', 'aws-auth')).toBeDefined();
  });

  it('fails TLS verification with another CA', async () => {
    const s = await startForKubectl();
    const res = await kubectl(s, ['get', 'configmap', 'aws-auth', '-n', 'kube-system'], { caPem: generateTls('other').caPem });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/x509: certificate signed by unknown authority/);
    expect(s.log).toEqual([]);
  });
});

describe('the stand-in authorises through EKS access entries, like EKS', () => {
  const KEY = { accessKeyId: 'AKIAEKSADMIN', secretAccessKey: 'eks/admin/secret', arn: `arn:aws:iam::${ACCOUNT}:user/eks-admin` };
  const PRINCIPAL = `arn:aws:iam::${ACCOUNT}:role/team/deployer`;
  const policy = (name: string, namespaces: string[] = []) => ({
    policyArn: `arn:aws:eks::aws:cluster-access-policy/${name}`,
    accessScope: { type: namespaces.length === 0 ? ('cluster' as const) : ('namespace' as const), namespaces },
  });
  const masters = { mapRoles: `- rolearn: arn:aws:iam::${ACCOUNT}:role/deployer\n  username: deployer\n  groups: [system:masters]\n` };
  const appConfig: ConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'app', namespace: 'default' }, data: { a: '1' } };
  let eks: EksStandin;
  let client: EKSClient;
  let clock: Date | undefined;
  beforeAll(async () => {
    eks = await startEks({ region: REGION, accountId: ACCOUNT, clusters: [], credentials: new Map([[KEY.accessKeyId, KEY]]), now: () => clock ?? new Date() });
    client = new EKSClient({ region: REGION, endpoint: eks.endpoint, credentials: KEY, maxAttempts: 1 });
  });
  afterAll(() => eks.close());
  afterEach(() => {
    eks.deleteCluster(CLUSTER);
    eks.setConsistencyLag(0);
    clock = undefined;
  });

  /** A cluster in `mode` whose Kubernetes API consults its access entries, with `entry` for the deployer role when given. */
  async function cluster(mode: AuthenticationMode, entry?: Omit<SeedAccessEntry, 'principalArn'>, overrides: Partial<KubeStandinOptions> = {}): Promise<KubeStandin> {
    eks.putCluster({ name: CLUSTER, endpoint: 'https://127.0.0.1:1', caPem: tls.caPem, authenticationMode: mode, accessEntries: entry ? [{ principalArn: PRINCIPAL, ...entry }] : [] });
    return start({ accessEntries: eks.accessView(CLUSTER), ...overrides, configMaps: [appConfig, ...(overrides.configMaps ?? [])] });
  }
  const read = async (s: KubeStandin, namespace: string, name: string) => (await call(s, 'GET', `/api/v1/namespaces/${namespace}/configmaps/${name}`, await token(DEPLOYER))).status;
  const write = async (s: KubeStandin, namespace: string, name: string) =>
    (await call(s, 'PUT', `/api/v1/namespaces/${namespace}/configmaps/${name}`, await token(DEPLOYER), s.get(namespace, name))).status;

  const cases: [string, AuthenticationMode, Omit<SeedAccessEntry, 'principalArn'> | undefined, Record<string, string> | undefined, [number, number, number, number]][] = [
    // [read aws-auth, write aws-auth, read default/app, write default/app]
    ['AmazonEKSClusterAdminPolicy grants everything, whatever the role path in the entry', 'API', { policies: [policy('AmazonEKSClusterAdminPolicy')] }, undefined, [200, 200, 200, 200]],
    ['AmazonEKSViewPolicy at cluster scope reads but does not write', 'API', { policies: [policy('AmazonEKSViewPolicy')] }, undefined, [200, 403, 200, 403]],
    ['AmazonEKSAdminViewPolicy reads but does not write', 'API', { policies: [policy('AmazonEKSAdminViewPolicy')] }, undefined, [200, 403, 200, 403]],
    ['AmazonEKSEditPolicy for default writes there and nowhere else', 'API', { policies: [policy('AmazonEKSEditPolicy', ['default'])] }, undefined, [403, 403, 200, 200]],
    ['AmazonEKSAdminPolicy for kube-* writes in kube-system only', 'API', { policies: [policy('AmazonEKSAdminPolicy', ['kube-*'])] }, undefined, [200, 200, 403, 403]],
    ['kubernetesGroups go through the RBAC bindings', 'API', { kubernetesGroups: ['aws-auth-writers'] }, undefined, [200, 200, 200, 200]],
    ['an entry without policies or bound groups is authenticated but forbidden', 'API', {}, undefined, [403, 403, 403, 403]],
    ['in API mode aws-auth is not read', 'API', undefined, masters, [401, 401, 401, 401]],
    ['in API_AND_CONFIG_MAP mode the access entry wins over aws-auth', 'API_AND_CONFIG_MAP', { policies: [policy('AmazonEKSViewPolicy')] }, masters, [200, 403, 200, 403]],
    ['in API_AND_CONFIG_MAP mode aws-auth serves principals without an entry', 'API_AND_CONFIG_MAP', undefined, masters, [200, 200, 200, 200]],
    ['in CONFIG_MAP mode access entries are not read', 'CONFIG_MAP', { policies: [policy('AmazonEKSClusterAdminPolicy')] }, undefined, [401, 401, 401, 401]],
  ];
  it.each(cases)('%s', async (_name, mode, entry, data, expected) => {
    const s = await cluster(mode, entry, { writerGroups: ['system:masters', 'aws-auth-writers'], configMaps: [awsAuth(data ?? { mapRoles: '[]\n' })] });
    expect([await read(s, 'kube-system', 'aws-auth'), await write(s, 'kube-system', 'aws-auth'), await read(s, 'default', 'app'), await write(s, 'default', 'app')]).toEqual(expected);
  });

  it('names the entry’s rendered username in the Forbidden Status', async () => {
    const s = await cluster('API', { username: 'deployer:{{SessionName}}' });
    const res = await call(s, 'GET', AWS_AUTH_PATH, await token(DEPLOYER));
    expect(res.body['message']).toContain('User "deployer:alice-example.com" cannot get resource "configmaps"');
  });

  it('locks out a tool that deletes its own access entry, from its next request on', async () => {
    const s = await cluster('API', { policies: [policy('AmazonEKSClusterAdminPolicy')] }, { configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    expect(await read(s, 'kube-system', 'aws-auth')).toBe(200);
    await client.send(new DeleteAccessEntryCommand({ clusterName: CLUSTER, principalArn: PRINCIPAL }));
    expect(await read(s, 'kube-system', 'aws-auth')).toBe(401);
    expect(s.authFailures.at(-1)).toMatch(/has no access entry/);
  });

  it('applies an access-entry change only after the consistency lag', async () => {
    clock = new Date();
    const s = await cluster('API', undefined, { configMaps: [awsAuth({ mapRoles: '[]\n' })] });
    eks.setConsistencyLag(5000);
    await client.send(new CreateAccessEntryCommand({ clusterName: CLUSTER, principalArn: PRINCIPAL }));
    await client.send(new AssociateAccessPolicyCommand({ clusterName: CLUSTER, principalArn: PRINCIPAL, ...policy('AmazonEKSViewPolicy') }));
    expect(await read(s, 'kube-system', 'aws-auth')).toBe(401);
    clock = new Date(clock.getTime() + 5000);
    expect(await read(s, 'kube-system', 'aws-auth')).toBe(200);
  });
});
