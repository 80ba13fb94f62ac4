import { createServer, type Server } from 'node:http';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFactory } from '../lambda/aws.js';
import { closeServer, listenLoopback } from './support/listen.js';

describe('clientFactory', () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;
  beforeAll(async () => {
    // Accepts every request and never answers: a hung AWS endpoint.
    server = createServer(() => {
      requests++;
    });
    endpoint = `http://127.0.0.1:${await listenLoopback(server)}`;
  });
  afterAll(() => closeServer(server));

  it('abandons a hung attempt and fails with a timeout after its retries', async () => {
    const timeouts = { connectionTimeout: 300, requestTimeout: 300 };
    const iam = clientFactory({ endpoint, region: 'eu-west-1', maxRetries: 1 }, { timeouts }).iam();
    iam.config.credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });
    await expect(iam.send(new ListRolesCommand({}))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(requests).toBe(2);
  });

  it('builds each client once per distinct settings', () => {
    const f = clientFactory({ region: 'eu-west-1' }, {});
    expect(f.iam()).toBe(f.iam({}));
    expect(f.iam({ region: 'eu-west-1' })).toBe(f.iam());
    expect(f.iam({ region: 'us-east-1' })).not.toBe(f.iam());
  });

  it('lets a scanner section override the top-level one, field by field, over the cluster region', async () => {
    const f = clientFactory({ region: 'eu-west-1', maxRetries: 2 }, { region: 'eu-north-1' });
    const scannerClient = f.ssm({ region: 'us-west-2' });
    expect(await scannerClient.config.region()).toBe('us-west-2');
    expect(await scannerClient.config.maxAttempts()).toBe(3);
    expect(await f.ssm().config.region()).toBe('eu-west-1');
    expect(await clientFactory(undefined, { region: 'eu-north-1' }).ssm().config.region()).toBe('eu-north-1');
  });

  it('uses adaptive retry', async () => {
    const strategy = await clientFactory(undefined, { region: 'eu-west-1' }).iam().config.retryStrategy();
    expect('mode' in strategy && strategy.mode).toBe('adaptive');
  });
});
