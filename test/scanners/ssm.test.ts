import { GetParameterCommand, ParameterNotFound, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { ScannerError } from '../../lambda/errors.js';
import { decodeBase64 } from '../../lambda/scanners/ssm.js';
import { configWith, scanWith } from './helpers.js';

const ssm = mockClient(SSMClient);
afterEach(() => ssm.reset());

const DOC = `roles:
- rolearn: arn:aws:iam::111122223333:role/Admin
  username: admin
  groups: [system:masters]
users:
- userarn: arn:aws:iam::111122223333:user/alice
  username: alice
  accessPolicies: [{policy: AmazonEKSViewPolicy, namespaces: [dev, team-*]}]
`;
const EXPECTED = {
  roles: [{ rolearn: 'arn:aws:iam::111122223333:role/Admin', username: 'admin', groups: ['system:masters'] }],
  users: [{
    userarn: 'arn:aws:iam::111122223333:user/alice', username: 'alice', groups: [],
    accessPolicies: [{ policy: 'AmazonEKSViewPolicy', namespaces: ['dev', 'team-*'] }],
  }],
};
/** The desired state: each entry also carries the ARN as written, for access entries. */
const DESIRED = {
  roles: EXPECTED.roles.map((r) => ({ ...r, sourceArn: r.rolearn })),
  users: EXPECTED.users.map((u) => ({ ...u, sourceArn: u.userarn })),
};

function serve(value: string, type: 'String' | 'SecureString' = 'String'): void {
  ssm.on(GetParameterCommand, { Name: '/eks/prod/auth' }).resolves({ Parameter: { Name: '/eks/prod/auth', Type: type, Value: value } });
}
const scan = () => scanWith(configWith('- type: ssm\n  name: central\n  ssm: {path: /eks/prod/auth}\n'));

describe('ssm scanner', () => {
  it.each([
    ['base64 of a YAML document (the original format)', Buffer.from(DOC).toString('base64'), 'String'],
    ['base64 wrapped over several lines', Buffer.from(DOC).toString('base64').replace(/(.{60})/g, '$1\n'), 'String'],
    ['plain YAML', DOC, 'String'],
    ['JSON', JSON.stringify(EXPECTED), 'String'],
    ['a SecureString', Buffer.from(DOC).toString('base64'), 'SecureString'],
  ] as const)('reads %s', async (_what, value, type) => {
    serve(value, type);
    const d = await scan();
    expect(d.mappings).toEqual(DESIRED);
  });

  it('asks for the value decrypted', async () => {
    serve(DOC);
    await scan();
    expect(ssm.commandCalls(GetParameterCommand)[0]?.args[0].input).toEqual({ Name: '/eks/prod/auth', WithDecryption: true });
  });

  it.each([
    ['a missing parameter', () => ssm.on(GetParameterCommand).rejects(new ParameterNotFound({ message: '', $metadata: {} })),
      /^scanner "central": SSM parameter \/eks\/prod\/auth: does not exist \(ParameterNotFound\)$/],
    ['a value that is neither base64 nor YAML', () => serve('@@not base64@@'),
      /^scanner "central": SSM parameter \/eks\/prod\/auth \(not base64, so read as plain YAML or JSON\): not valid YAML/],
    ['base64 of invalid YAML', () => serve(Buffer.from('roles: [unclosed').toString('base64')),
      /^scanner "central": SSM parameter \/eks\/prod\/auth \(base64-decoded\): not valid YAML/],
    ['a document that is only a string', () => serve('hello'),
      /SSM parameter \/eks\/prod\/auth \(not base64, so read as plain YAML or JSON\): \(top level\): expected object, got string "hello"/],
    ['an invalid entry', () => serve('roles: [{rolearn: "arn:aws:iam::111122223333:role/A", username: "", groups: []}]'),
      /SSM parameter \/eks\/prod\/auth .*: roles\[0\]\.username: empty username/],
    ['an unknown field', () => serve('roles: [{rolearn: "arn:aws:iam::111122223333:role/A", username: a, group: [x]}]'),
      /roles\[0\]\.group: unknown key/],
    ['an AWS error', () => ssm.on(GetParameterCommand).rejects(Object.assign(new Error('not allowed to decrypt'), { name: 'AccessDeniedException' })),
      /^scanner "central": SSM parameter \/eks\/prod\/auth: AccessDeniedException: not allowed to decrypt$/],
  ])('fails the run naming the scanner and parameter on %s', async (_what, arrange, message) => {
    arrange();
    const err = await scan().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScannerError);
    expect((err as Error).message).toMatch(message);
  });
});

describe('decodeBase64', () => {
  it.each([
    ['dXNlcnM6IFtdCg==', 'users: []\n'],
    ['users: []', undefined],
    ['abc', undefined],
    ['/w==', undefined],
  ])('decodes %j as %j', (input, expected) => {
    expect(decodeBase64(input)).toBe(expected);
  });
});
