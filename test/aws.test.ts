import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFactory } from '../lambda/aws.js';

describe('clientFactory', () => {
  let server: Server;
  let endpoint: string;
  let requests = 0;
  beforeAll(async () => {
    // Accepts every request and never answers: a hung AWS endpoint.
    server = createServer(() => {
      requests++;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('abandons a hung attempt and fails with a timeout after its retries', async () => {
    const timeouts = { connectionTimeout: 300, requestTimeout: 300 };
    const iam = clientFactory({ endpoint, region: 'eu-west-1', maxRetries: 1 }, { timeouts }).iam();
    iam.config.credentials = async () => ({ accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' });
    await expect(iam.send(new ListRolesCommand({}))).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(requests).toBe(2);
  });
});
