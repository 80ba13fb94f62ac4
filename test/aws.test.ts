import { createServer, type Server } from 'node:http';
import { ListRolesCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientFactory } from '../lambda/aws.js';
import { parseConfig } from '../lambda/config.js';
import { ConfigError } from '../lambda/errors.js';
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

  const endpointOf = async (client: { config: { endpoint?: () => Promise<{ hostname: string; port?: number }> } }) => {
    const e = await client.config.endpoint?.();
    return e === undefined ? undefined : `${e.hostname}:${e.port ?? ''}`;
  };

  it("sends the original's single aws.endpoint only to the scanners' own services, never to STS or EKS", async () => {
    const f = clientFactory({ endpoint: 'https://vpce-1.iam.eu-west-1.vpce.amazonaws.com:8443' }, { region: 'eu-west-1' });
    expect(await endpointOf(f.iam())).toBe('vpce-1.iam.eu-west-1.vpce.amazonaws.com:8443');
    expect(await endpointOf(f.ssm())).toBe('vpce-1.iam.eu-west-1.vpce.amazonaws.com:8443');
    expect(await endpointOf(f.sts())).toBeUndefined();
    expect(await endpointOf(f.eks())).toBeUndefined();
  });

  it('sends each service to its own aws.endpoints entry, a scanner entry over the top-level one', async () => {
    const f = clientFactory(
      { endpoints: { iam: 'https://iam.example:1', sts: 'https://sts.example:2', eks: 'https://eks.example:3' } },
      { region: 'eu-west-1' },
    );
    expect(await endpointOf(f.iam())).toBe('iam.example:1');
    expect(await endpointOf(f.iam({ endpoints: { iam: 'https://other-iam.example:4' } }))).toBe('other-iam.example:4');
    expect(await endpointOf(f.ssm())).toBeUndefined();
    expect(await endpointOf(f.sts())).toBe('sts.example:2');
    expect(await endpointOf(f.eks())).toBe('eks.example:3');
  });

  it("reaches the cluster (EKS, STS) in the cluster's region, whatever region aws.region gives the scanners", async () => {
    const f = clientFactory({ region: 'us-east-1' }, { region: 'eu-west-1' });
    expect(await f.eks().config.region()).toBe('eu-west-1');
    expect(await f.sts().config.region()).toBe('eu-west-1');
    expect(await f.iam().config.region()).toBe('us-east-1');
    expect(await clientFactory({ region: 'us-east-1' }, {}).eks().config.region()).toBe('us-east-1');
  });

  it.each([
    ['AWS_ENDPOINT_URL_EKS', 'http://10.0.0.5:4566'],
    ['AWS_ENDPOINT_URL', 'http://eks.internal.example'],
  ])('refuses a plain-http %s that is not on loopback, naming the variable', (variable, url) => {
    const f = clientFactory(undefined, { region: 'eu-west-1', env: { [variable]: url } });
    expect(() => f.eks()).toThrow(ConfigError);
    expect(() => f.eks()).toThrow(`${variable}: plain http is allowed only on loopback (127.0.0.1, ::1, localhost) (got "${url}"); use https`);
  });

  it('accepts a plain-http endpoint on loopback, and an endpoint variable AWS_IGNORE_CONFIGURED_ENDPOINT_URLS switches off', () => {
    expect(() => clientFactory(undefined, { region: 'eu-west-1', env: { AWS_ENDPOINT_URL_EKS: 'http://127.0.0.1:4566' } }).eks()).not.toThrow();
    expect(() => clientFactory(undefined, { region: 'eu-west-1', env: { AWS_ENDPOINT_URL: 'http://[::1]:4566' } }).sts()).not.toThrow();
    const ignored = { AWS_ENDPOINT_URL: 'http://10.0.0.5', AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' };
    expect(() => clientFactory(undefined, { region: 'eu-west-1', env: ignored }).eks()).not.toThrow();
  });

  it('refuses a configured plain-http endpoint off loopback at its config path', () => {
    const config = (aws: string) => `cluster: {name: prod}\naws: ${aws}\nscanners: [{type: iam, iam: {}}]\n`;
    expect(() => parseConfig(config('{endpoint: "http://vpce-1.iam.vpce.amazonaws.com"}'), 'c.yaml')).toThrow(/aws\.endpoint: plain http is allowed only on loopback/);
    expect(() => parseConfig(config('{endpoints: {eks: "http://10.1.2.3"}}'), 'c.yaml')).toThrow(/aws\.endpoints\.eks: plain http is allowed only on loopback/);
    expect(parseConfig(config('{endpoints: {eks: "http://127.0.0.1:9000"}}'), 'c.yaml').aws?.endpoints?.eks).toBe('http://127.0.0.1:9000');
  });
});
