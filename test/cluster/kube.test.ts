import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubeClient, type KubeClientOptions } from '../../lambda/cluster/kube.js';
import { presignToken } from '../../lambda/cluster/token.js';
import {
  DeadlineError,
  EksAuthSyncError,
  KubeConflictError,
  KubeConnectionError,
  KubeForbiddenError,
  KubeInvalidError,
  KubeNotFoundError,
  KubeServerError,
  KubeTimeoutError,
  KubeUnauthorizedError,
} from '../../lambda/errors.js';
import { awsAuthConfigMap as awsAuth, startKubeStandin, type KubeStandin } from '../support/kube-standin.js';
import { mintTestToken, type TestCredentials } from '../support/test-token.js';
import { generateTls, type TlsMaterial } from '../support/tls.js';

const CLUSTER = 'prod-eu';
const REGION = 'eu-west-1';
const TOOL_ARN = 'arn:aws:sts::111122223333:assumed-role/eks-auth-sync/lambda';
const TOOL: TestCredentials = { accessKeyId: 'ASIATOOL', secretAccessKey: 'tool/secret', sessionToken: 'tool-session' };
const TOOL_ROTATED: TestCredentials = { accessKeyId: 'ASIATOOLROTATED', secretAccessKey: 'rotated/secret', sessionToken: 'rotated-session' };
const VIEWER: TestCredentials = { accessKeyId: 'AKIAVIEWER', secretAccessKey: 'viewer/secret' };
const VIEWER_ARN = 'arn:aws:iam::111122223333:user/viewer';

const SEED = awsAuth({ mapUsers: `- userarn: ${VIEWER_ARN}\n  username: viewer\n  groups: [viewers]\n` });

let tls: TlsMaterial;
let standin: KubeStandin;
const clients: KubeClient[] = [];

beforeAll(() => {
  tls = generateTls();
});

beforeEach(async () => {
  standin = await startKubeStandin({
    clusterName: CLUSTER,
    tls,
    identities: {
      [TOOL.accessKeyId]: { secretAccessKey: TOOL.secretAccessKey, sessionToken: TOOL.sessionToken, arn: TOOL_ARN },
      [TOOL_ROTATED.accessKeyId]: { secretAccessKey: TOOL_ROTATED.secretAccessKey, sessionToken: TOOL_ROTATED.sessionToken, arn: TOOL_ARN },
      [VIEWER.accessKeyId]: { secretAccessKey: VIEWER.secretAccessKey, arn: VIEWER_ARN },
    },
    admins: [TOOL_ARN],
    readerGroups: ['viewers'],
    configMaps: [SEED],
  });
});

afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await standin.close();
});

const tokenFor = (credentials: TestCredentials) => () => mintTestToken({ clusterName: CLUSTER, region: REGION, credentials, now: new Date() });

function client(overrides: Partial<KubeClientOptions> = {}): KubeClient {
  const c = new KubeClient({ endpoint: standin.url, caPem: standin.caPem, token: tokenFor(TOOL), identity: TOOL_ARN, ...overrides });
  clients.push(c);
  return c;
}

/** The seeded aws-auth as `kube` reads it. */
async function readSeed(kube: KubeClient) {
  const live = await kube.getConfigMap('kube-system', 'aws-auth');
  if (!live) throw new Error('seeded aws-auth missing');
  return live;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

describe('KubeClient reads and writes ConfigMaps', () => {
  it('reads the live aws-auth', async () => {
    const live = await client().getConfigMap('kube-system', 'aws-auth');
    expect(live?.data).toEqual(SEED.data);
    expect(live?.metadata.resourceVersion).toBe(standin.get('kube-system', 'aws-auth')?.metadata.resourceVersion);
  });

  it('returns null for a ConfigMap that does not exist', async () => {
    expect(await client().getConfigMap('kube-system', 'absent')).toBeNull();
  });

  it('creates a ConfigMap and returns it with the server-assigned resourceVersion', async () => {
    standin.delete('kube-system', 'aws-auth');
    const created = await client().createConfigMap(awsAuth({ mapRoles: '[]\n' }));
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(standin.get('kube-system', 'aws-auth')?.data).toEqual({ mapRoles: '[]\n' });
  });

  it('replaces with the resourceVersion it read, which the server requires to still be current', async () => {
    const kube = client();
    const live = await readSeed(kube);
    const replaced = await kube.replaceConfigMap({ ...live, data: { ...live.data, mapRoles: '[]\n' } });
    expect(Number(replaced.metadata.resourceVersion)).toBeGreaterThan(Number(live.metadata.resourceVersion));
    expect(standin.get('kube-system', 'aws-auth')?.data?.['mapRoles']).toBe('[]\n');
    expect(standin.log.filter((e) => e.method === 'PUT').map((e) => e.resourceVersion)).toEqual([live.metadata.resourceVersion]);
  });

  it('refuses to replace without a resourceVersion and sends nothing', async () => {
    const err = await rejection(client().replaceConfigMap(awsAuth({})));
    expect(err).toBeInstanceOf(KubeInvalidError);
    expect(err.message).toMatch(/without metadata.resourceVersion/);
    expect(standin.log).toEqual([]);
  });
});

describe('KubeClient surfaces concurrent changes', () => {
  it('raises KubeConflictError when someone else changed aws-auth between read and write, and their change survives', async () => {
    const kube = client();
    const live = await readSeed(kube);
    standin.beforeWrite((s) => {
      s.put(awsAuth({ ...SEED.data, mapAccounts: '- "444455556666"\n' }));
    });
    const err = await rejection(kube.replaceConfigMap({ ...live, data: { mapRoles: '[]\n' } }));
    expect(err).toBeInstanceOf(KubeConflictError);
    expect(err.message).toMatch(/the object has been modified/);
    expect(standin.get('kube-system', 'aws-auth')?.data?.['mapAccounts']).toBe('- "444455556666"\n');
  });

  it('raises KubeConflictError when creating a ConfigMap that already exists', async () => {
    const err = await rejection(client().createConfigMap(awsAuth({ mapRoles: '[]\n' })));
    expect(err).toBeInstanceOf(KubeConflictError);
    expect(err.message).toMatch(/AlreadyExists/);
    expect(standin.get('kube-system', 'aws-auth')?.data).toEqual(SEED.data);
  });

  it('raises KubeNotFoundError when aws-auth was deleted between read and replace', async () => {
    const kube = client();
    const live = await readSeed(kube);
    standin.beforeWrite((s) => {
      s.delete('kube-system', 'aws-auth');
    });
    const err = await rejection(kube.replaceConfigMap(live));
    expect(err).toBeInstanceOf(KubeNotFoundError);
    expect(err.message).toMatch(/deleted after it was read/);
    expect(standin.get('kube-system', 'aws-auth')).toBeUndefined();
  });
});

describe('KubeClient authentication', () => {
  it('authenticates with the token lambda/cluster/token.ts mints, checked by the independent verifier', async () => {
    const kube = client({ token: async () => (await presignToken({ clusterName: CLUSTER, region: REGION, credentials: TOOL, now: new Date() })).token });
    expect(await kube.getConfigMap('kube-system', 'aws-auth')).not.toBeNull();
    expect(standin.log.map((e) => [e.status, e.principal])).toEqual([[200, 'arn:aws:iam::111122223333:role/eks-auth-sync']]);
  });

  it('after a 401 asks for a fresh token once and succeeds with it', async () => {
    let credentials = TOOL;
    let invalidated = 0;
    standin.expire(TOOL.accessKeyId);
    const kube = client({
      token: () => tokenFor(credentials)(),
      onUnauthorized: () => {
        invalidated++;
        credentials = TOOL_ROTATED;
      },
    });
    expect(await kube.getConfigMap('kube-system', 'aws-auth')).not.toBeNull();
    expect(invalidated).toBe(1);
    expect(standin.log.map((e) => e.status)).toEqual([401, 200]);
    expect(standin.authFailures).toEqual([`credentials of access key ${TOOL.accessKeyId} have expired`]);
  });

  it('raises KubeUnauthorizedError naming the identity when the fresh token is rejected too, without revealing the token', async () => {
    const tokens: string[] = [];
    standin.setClock(new Date(Date.now() + 20 * 60_000));
    const kube = client({
      token: async () => {
        const t = await tokenFor(TOOL)();
        tokens.push(t);
        return t;
      },
    });
    const err = await rejection(kube.getConfigMap('kube-system', 'aws-auth'));
    expect(err).toBeInstanceOf(KubeUnauthorizedError);
    expect(err.message).toContain(TOOL_ARN);
    expect(err.message).toMatch(/clock/);
    expect(err.message).toMatch(/expired/);
    expect(standin.log.map((e) => e.status)).toEqual([401, 401]);
    for (const t of tokens) expect(err.message).not.toContain(t.slice(11, 40));
  });

  it('a write after a 401 is retried with the fresh token (nothing was applied)', async () => {
    let credentials = TOOL;
    standin.expire(TOOL.accessKeyId);
    const kube = client({ token: () => tokenFor(credentials)(), onUnauthorized: () => (credentials = TOOL_ROTATED) });
    standin.delete('kube-system', 'aws-auth');
    await kube.createConfigMap(awsAuth({ mapRoles: '[]\n' }));
    expect(standin.writes).toBe(1);
  });
});

describe('KubeClient authorisation errors', () => {
  it('raises KubeForbiddenError naming the identity and the RBAC or access-entry access it needs', async () => {
    const kube = client({ token: tokenFor(VIEWER), identity: VIEWER_ARN });
    const live = await kube.getConfigMap('kube-system', 'aws-auth');
    if (!live) throw new Error('viewer can read aws-auth');
    const err = await rejection(kube.replaceConfigMap(live));
    expect(err).toBeInstanceOf(KubeForbiddenError);
    expect(err.message).toContain(VIEWER_ARN);
    expect(err.message).toContain('User "viewer" cannot update resource "configmaps"');
    expect(err.message).toMatch(/get, create, update and patch on configmaps\/aws-auth in kube-system/);
    expect(err.message).toMatch(/RoleBinding/);
    expect(err.message).toMatch(/access entry/);
    expect(standin.writes).toBe(0);
  });
});

describe('KubeClient validation errors', () => {
  it('raises KubeInvalidError with the server causes when aws-auth would exceed 1 MiB', async () => {
    const kube = client();
    const live = await readSeed(kube);
    const err = await rejection(kube.replaceConfigMap({ ...live, data: { mapRoles: 'x'.repeat(1024 * 1024) } }));
    expect(err).toBeInstanceOf(KubeInvalidError);
    expect(err.message).toContain('[]: Too long: must have at most 1048576 bytes');
    expect(standin.get('kube-system', 'aws-auth')?.data).toEqual(SEED.data);
  });
});

describe('KubeClient retries', () => {
  it('retries a read after 5xx answers and returns the object', async () => {
    standin.failNext(2, 503);
    expect(await client().getConfigMap('kube-system', 'aws-auth')).not.toBeNull();
    expect(standin.log.map((e) => e.status)).toEqual([503, 503, 200]);
  });

  it('gives up on a read after a few attempts with KubeServerError', async () => {
    standin.failNext(10, 500);
    const err = await rejection(client().getConfigMap('kube-system', 'aws-auth'));
    expect(err).toBeInstanceOf(KubeServerError);
    expect(err.message).toMatch(/HTTP 500 InternalError/);
    expect(standin.log).toHaveLength(4);
  });

  it('does not repeat a write that failed with a 5xx, because it may have been applied', async () => {
    const kube = client();
    const live = await readSeed(kube);
    standin.failNext(1, 500, { afterApply: true });
    const err = await rejection(kube.replaceConfigMap({ ...live, data: { mapRoles: '[]\n' } }));
    expect(err).toBeInstanceOf(KubeServerError);
    expect(err.message).toMatch(/may or may not have been applied/);
    expect(standin.log.filter((e) => e.method === 'PUT')).toHaveLength(1);
    expect(standin.writes).toBe(1);
  });

  it('repeats a write the server throttled with 429, since throttled requests are never applied', async () => {
    const kube = client();
    const live = await readSeed(kube);
    standin.failNext(1, 429);
    await kube.replaceConfigMap({ ...live, data: { mapRoles: '[]\n' } });
    expect(standin.log.filter((e) => e.method === 'PUT').map((e) => e.status)).toEqual([429, 200]);
  });

  it('raises KubeTimeoutError when the server does not answer in time', async () => {
    standin.delayMs = 2_000;
    const err = await rejection(client({ timeoutMs: 100 }).getConfigMap('kube-system', 'aws-auth'));
    expect(err).toBeInstanceOf(KubeTimeoutError);
    expect(err.message).toMatch(/no answer within 100 ms/);
  });

  it('raises KubeConnectionError when nothing listens at the endpoint', async () => {
    const url = standin.url;
    await standin.close();
    const err = await rejection(client({ endpoint: url }).getConfigMap('kube-system', 'aws-auth'));
    expect(err).toBeInstanceOf(KubeConnectionError);
    expect(err.message).toMatch(/ECONNREFUSED/);
  });
});

describe('KubeClient TLS', () => {
  it('fails verification against any CA but the cluster one, and never falls back', async () => {
    const err = await rejection(client({ caPem: generateTls('other').caPem }).getConfigMap('kube-system', 'aws-auth'));
    expect(err).toBeInstanceOf(KubeConnectionError);
    expect(err.message).toMatch(/did not verify against the cluster CA/);
    expect(standin.log).toEqual([]);
  });

  it('refuses an http:// endpoint', () => {
    expect(() => new KubeClient({ endpoint: standin.url.replace('https:', 'http:'), caPem: standin.caPem, token: tokenFor(TOOL) })).toThrow(KubeConnectionError);
    expect(() => new KubeClient({ endpoint: standin.url.replace('https:', 'http:'), caPem: standin.caPem, token: tokenFor(TOOL) })).toThrow(/must be https/);
  });
});

describe('KubeClient and the run\'s deadline', () => {
  it('does not start a write with less than one request timeout left before the deadline', async () => {
    const kube = client({ timeoutMs: 4_000, deadline: new Date(Date.now() + 500) });
    const live = await readSeed(kube);
    const err = await rejection(kube.replaceConfigMap({ ...live, data: { mapRoles: '[]\n' } }));
    expect(err).toBeInstanceOf(DeadlineError);
    expect(err.message).toMatch(/stopped before writing aws-auth: \d+ ms are left before the run's deadline .*, so PUT .*configmaps\/aws-auth .* was not sent; nothing was written/);
    expect(standin.log.filter((e) => e.method === 'PUT')).toEqual([]);
  });

  it('cuts a write\'s retries off at the deadline rather than running past it', async () => {
    const deadline = new Date(Date.now() + 4_500);
    const kube = client({ timeoutMs: 4_000, deadline });
    const live = await readSeed(kube);
    // Slow throttling: without the deadline the fourth attempt would land after it.
    standin.delayMs = 1_500;
    standin.failNext(3, 429);
    const err = await rejection(kube.replaceConfigMap({ ...live, data: { mapRoles: '[]\n' } }));
    expect(err).toBeInstanceOf(EksAuthSyncError);
    expect(err.message).toContain(`run's deadline (${deadline.toISOString()})`);
    expect(Date.now()).toBeLessThan(deadline.getTime() + 1_500);
    expect(standin.writes).toBe(0);
  });
});
