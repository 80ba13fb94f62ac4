/**
 * The scanners over the real wire: SDK clients talking to a local HTTP server on 127.0.0.1 that
 * answers with IAM's, SSM's and STS's own response and error formats.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { clientFactory } from '../../lambda/aws.js';
import { ScannerError } from '../../lambda/errors.js';
import { runScanners } from '../../lambda/scanners/index.js';
import { closeServer, listenLoopback } from '../support/listen.js';
import { configWith, deps } from './helpers.js';

interface Received { action: string; authorization: string }
let server: Server;
let url: string;
let received: Received[] = [];
let throttleNext = 0;

const IAM_NS = 'https://iam.amazonaws.com/doc/2010-05-08/';
const ROLES_XML = `<GetAccountAuthorizationDetailsResponse xmlns="${IAM_NS}">
  <GetAccountAuthorizationDetailsResult>
    <IsTruncated>false</IsTruncated>
    <UserDetailList/>
    <RoleDetailList>
      <member>
        <Path>/aws-reserved/sso.amazonaws.com/eu-west-1/</Path>
        <RoleName>AWSReservedSSO_Admin_0123</RoleName>
        <RoleId>AROAEXAMPLE</RoleId>
        <Arn>arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123</Arn>
        <CreateDate>2024-01-01T00:00:00Z</CreateDate>
        <Tags><member><Key>eks/111122223333/prod/username</Key><Value>sso-admin</Value></member></Tags>
      </member>
    </RoleDetailList>
  </GetAccountAuthorizationDetailsResult>
  <ResponseMetadata><RequestId>req-1</RequestId></ResponseMetadata>
</GetAccountAuthorizationDetailsResponse>`;
const THROTTLING_XML = `<ErrorResponse xmlns="${IAM_NS}"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>req-t</RequestId></ErrorResponse>`;
const ASSUME_ROLE_XML = `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>
  <Credentials><AccessKeyId>ASIAASSUMEDEXAMPLE</AccessKeyId><SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken><Expiration>2099-01-01T00:00:00Z</Expiration></Credentials>
  <AssumedRoleUser><AssumedRoleId>AROA:eks-auth-sync</AssumedRoleId><Arn>arn:aws:sts::444455556666:assumed-role/Reader/eks-auth-sync</Arn></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>req-a</RequestId></ResponseMetadata></AssumeRoleResponse>`;

async function body(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return text;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    void body(req).then((text) => {
      const target = req.headers['x-amz-target'];
      const action = typeof target === 'string' ? target : new URLSearchParams(text).get('Action') ?? '?';
      received.push({ action, authorization: req.headers.authorization ?? '' });
      if (action === 'AmazonSSM.GetParameter') {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
        res.end(JSON.stringify({ Parameter: { Name: '/eks/prod/auth', Type: 'String', Value: 'users: []\nroles: []\n' } }));
      } else if (action === 'AssumeRole') {
        res.writeHead(200, { 'content-type': 'text/xml' }).end(ASSUME_ROLE_XML);
      } else if (throttleNext > 0) {
        throttleNext--;
        res.writeHead(400, { 'content-type': 'text/xml' }).end(THROTTLING_XML);
      } else {
        res.writeHead(200, { 'content-type': 'text/xml' }).end(ROLES_XML);
      }
    });
  });
  url = `http://127.0.0.1:${await listenLoopback(server)}`;
});
afterAll(() => closeServer(server));

beforeEach(() => {
  received = [];
  throttleNext = 0;
  vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIAENVEXAMPLE');
  vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'secret');
  vi.stubEnv('AWS_SESSION_TOKEN', '');
});
afterEach(() => vi.unstubAllEnvs());

const iamScan = (awsSection: string) => {
  const config = configWith(`- type: iam\n  aws: ${awsSection}\n  iam: {}\n`);
  return runScanners(config, deps(config));
};

describe('over the wire', () => {
  it('reads IAM at the configured endpoint and writes the SSO role without its path', async () => {
    const d = await iamScan(`{endpoint: "${url}"}`);
    expect(d.mappings.roles).toEqual([{
      rolearn: 'arn:aws:iam::111122223333:role/AWSReservedSSO_Admin_0123', username: 'sso-admin', groups: [],
      sourceArn: 'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123',
    }]);
    expect(received.map((r) => r.action)).toEqual(['GetAccountAuthorizationDetails']);
  });

  it('rides out IAM throttling through the SDK retry', async () => {
    throttleNext = 3;
    const d = await iamScan(`{endpoint: "${url}", maxRetries: 4}`);
    expect(d.mappings.roles).toHaveLength(1);
    expect(received.map((r) => r.action)).toEqual(Array(4).fill('GetAccountAuthorizationDetails'));
  });

  it('rides out a long IAM throttling burst without aws.maxRetries, retrying while the deadline allows', async () => {
    throttleNext = 12;
    const config = configWith(`- type: iam\n  aws: {endpoint: "${url}"}\n  iam: {}\n`);
    // The SDK's adaptive strategy decides; its waits are scaled to thousandths to keep the test short.
    const clients = clientFactory(config.aws, { region: 'eu-west-1', retry: { deadline: new Date(Date.now() + 20_000), delayScale: 0.001 } });
    const d = await runScanners(config, { ...deps(config), clients });
    expect(d.mappings.roles).toHaveLength(1);
    expect(received).toHaveLength(13);
  });

  it('stops a throttling burst at the deadline, naming the scanner, the call and the throttling', async () => {
    throttleNext = 10_000;
    const config = configWith(`- type: iam\n  aws: {endpoint: "${url}"}\n  iam: {}\n`);
    const deadline = new Date(Date.now() + 500);
    const clients = clientFactory(config.aws, { region: 'eu-west-1', retry: { deadline, delayScale: 0.001 } });
    const err = await runScanners(config, { ...deps(config), clients }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScannerError);
    expect((err as Error).message).toMatch(
      new RegExp(`^scanner "iam\\[0\\]": iam:GetAccountAuthorizationDetails was throttled through \\d+ attempts \\(Throttling: Rate exceeded\\); a further retry would end after the run's deadline \\(${deadline.toISOString().replace(/\./g, '\\.')}\\)$`),
    );
    expect(received.length).toBeGreaterThan(3);
  });

  it('fails the run naming the scanner when IAM still throttles after the retries', async () => {
    throttleNext = 100;
    const err = await iamScan(`{endpoint: "${url}", maxRetries: 1}`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScannerError);
    expect((err as Error).message).toBe(
      'scanner "iam[0]": iam:GetAccountAuthorizationDetails was throttled through 2 attempts (Throttling: Rate exceeded); aws.maxRetries allows no more retries',
    );
    expect(received).toHaveLength(2);
  });

  it.each([
    ['AWS_ENDPOINT_URL_IAM', 'iam'],
    ['AWS_ENDPOINT_URL', 'iam'],
    ['AWS_ENDPOINT_URL_SSM', 'ssm'],
  ])('honours the SDK variable %s', async (variable, scanner) => {
    vi.stubEnv(variable, url);
    const section = scanner === 'iam' ? 'iam: {}' : 'ssm: {path: /eks/prod/auth}';
    const config = configWith(`- type: ${scanner}\n  ${section}\n`);
    await runScanners(config, deps(config));
    expect(received.map((r) => r.action)).toEqual([scanner === 'iam' ? 'GetAccountAuthorizationDetails' : 'AmazonSSM.GetParameter']);
  });

  it('signs with the standard credential chain when no role is configured', async () => {
    await iamScan(`{endpoint: "${url}"}`);
    expect(received[0]?.authorization).toContain('Credential=AKIAENVEXAMPLE/');
  });

  it('assumes the configured role and signs the scanner calls with its credentials', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL_STS', url);
    await iamScan(`{endpoint: "${url}", roleARN: "arn:aws:iam::444455556666:role/Reader"}`);
    expect(received.map((r) => r.action)).toEqual(['AssumeRole', 'GetAccountAuthorizationDetails']);
    expect(received[0]?.authorization).toContain('Credential=AKIAENVEXAMPLE/');
    expect(received[1]?.authorization).toContain('Credential=ASIAASSUMEDEXAMPLE/');
  });
});
