import { GetParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig, parseMappingsDocument } from '../../lambda/config.js';
import { ConfigError, EksAuthSyncError } from '../../lambda/errors.js';
import { renderMappingsYaml, roleArnProblem, userArnProblem, validateGroups, validateUsername } from '../../lambda/mappings.js';
import { decodeBase64 } from '../../lambda/scanners/ssm.js';
import { configWith, scanWith } from '../scanners/helpers.js';
import {
  ACCOUNT, RESERVED_PREFIXES, aliasBomb, asText, hostileText, mappingsDoc, someRenderingStartsWith, ssmValue, templatedName, validAccessPolicies, validMappingsDoc,
} from './arbitraries.js';

/** What a parser did: its value, or the class and message of what it threw. */
function outcome<T>(f: () => T): { value: T } | { error: unknown } {
  try {
    return { value: f() };
  } catch (error) {
    return { error };
  }
}

const scannerDoc = fc.oneof(
  fc.record({ type: fc.constant('static'), static: mappingsDoc }),
  fc.record({ type: fc.constant('file'), file: fc.record({ path: fc.oneof(fc.constant('m.yaml'), hostileText) }) }),
  fc.record({ type: fc.constant('ssm'), ssm: fc.record({ path: fc.oneof(fc.constant('/eks/prod/auth'), hostileText) }) }),
  fc.record({ type: fc.constant('iam'), iam: fc.record({ allowSystemGroups: fc.array(hostileText, { maxLength: 2 }), groupSeparator: fc.constantFrom('::', ',', '') }, { requiredKeys: [] }) }),
  fc.jsonValue({ maxDepth: 2 }),
);
const configDoc = fc.record({
  cluster: fc.oneof({ weight: 4, arbitrary: fc.constant({ name: 'prod', region: 'eu-west-1', accountID: ACCOUNT }) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
  sync: fc.record({
    mode: fc.constantFrom('merge', 'replace', 'Merge'),
    maxRemovals: fc.oneof(fc.nat(30), fc.constant(-1), fc.constant('5'), fc.constant(1.5)),
    repairBrokenAwsAuth: fc.oneof(fc.boolean(), fc.constant('yes')),
  }, { requiredKeys: [] }),
  scanners: fc.array(scannerDoc, { maxLength: 3 }),
  kubernetes: fc.constant({}),
}, { requiredKeys: ['cluster', 'scanners'] });

describe('parsing a config (properties)', () => {
  it('returns a config or throws one ConfigError naming where, the same each time, for any text', () => {
    fc.assert(
      fc.property(configDoc.chain(asText), (text) => {
        const first = outcome(() => parseConfig(text, 'config.yaml'));
        if ('error' in first) {
          expect(first.error).toBeInstanceOf(ConfigError);
          expect((first.error as Error).message).toMatch(/^config\.yaml: \S/);
        }
        expect(outcome(() => parseConfig(text, 'config.yaml'))).toEqual(first);
      }),
      { numRuns: 100 },
    );
  });

  it.each([
    ['an alias bomb', aliasBomb(8), /Excessive alias count/],
    ['a duplicate key', 'cluster: {name: a}\ncluster: {name: b}\nscanners: []\n', /Map keys must be unique/],
    ['3,000 nested lists', '['.repeat(3000) + ']'.repeat(3000), /nested too deeply/],
    ['2,000 nested mappings', '{a: '.repeat(2000) + '1' + '}'.repeat(2000), /nested too deeply/],
    ['random bytes', '\u0000\u0001\ufffd\ud800', /expected object/],
    ['a JS function tag', '!!js/function "function () {}"', /expected object/],
  ])('refuses %s with a ConfigError', (_, text, message) => {
    expect(() => parseConfig(text, 'c.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(text, 'c.yaml')).toThrow(message);
  });
});

describe('parsing a mappings document (properties)', () => {
  it('accepts only entries every validator accepts, whose reserved prefixes are the literal text\'s, and renders them so they read back the same, access policies included', () => {
    fc.assert(
      fc.property(mappingsDoc.chain(asText), (text) => {
        const read = outcome(() => parseMappingsDocument(text, 'm.yaml'));
        if ('error' in read) {
          expect(read.error).toBeInstanceOf(ConfigError);
          return;
        }
        const doc = read.value;
        for (const e of [...doc.roles, ...doc.users]) {
          expect(validateUsername(e.username)).toBeUndefined();
          expect(validateGroups(e.groups)).toBeUndefined();
          // A reserved prefix is the operator's literal text, never one a session name completes.
          const literal = e.username.split('{{')[0] ?? '';
          for (const p of RESERVED_PREFIXES) if (someRenderingStartsWith(e.username, p)) expect(literal.startsWith(p), `${e.username} → ${p}`).toBe(true);
          for (const g of e.groups) expect(g).not.toContain('{{');
        }
        for (const p of [...doc.roles, ...doc.users].flatMap((e) => e.accessPolicies ?? [])) {
          // The tests' own model: EKS's policy names (letters and digits), DNS-label namespaces with `*` wildcards, never an empty list.
          expect(p.policy).toMatch(/^[A-Za-z][A-Za-z0-9]{0,127}$/);
          if (p.namespaces !== undefined) expect(p.namespaces.length).toBeGreaterThan(0);
          for (const ns of p.namespaces ?? []) expect(ns).toMatch(/^(?=.{1,63}$)[a-z0-9*]([-a-z0-9*]*[a-z0-9*])?$/);
        }
        for (const r of doc.roles) expect(roleArnProblem(r.rolearn)).toBeUndefined();
        for (const u of doc.users) expect(userArnProblem(u.userarn)).toBeUndefined();
        const again = parseMappingsDocument(renderMappingsYaml(doc), 'rendered');
        // Read back the same, access policies included (an empty list renders as none).
        const key = (e: { username: string; groups: string[]; accessPolicies?: unknown[] | undefined }, arn: string) =>
          JSON.stringify([arn.toLowerCase(), e.username, e.groups, e.accessPolicies?.length ? e.accessPolicies : []]);
        expect(again.roles.map((r) => key(r, r.rolearn)).sort()).toEqual(doc.roles.map((r) => key(r, r.rolearn)).sort());
        expect(again.users.map((u) => key(u, u.userarn)).sort()).toEqual(doc.users.map((u) => key(u, u.userarn)).sort());
      }),
      { numRuns: 100 },
    );
  });
});

describe('access policies in a mappings document (properties)', () => {
  it('render so they read back the same, scope and order kept', () => {
    const withPolicies = validMappingsDoc.chain((doc) => fc.record({
      users: fc.tuple(...doc.users.map((u) => validAccessPolicies.map((accessPolicies) => ({ ...u, accessPolicies })))),
      roles: fc.tuple(...doc.roles.map((r) => validAccessPolicies.map((accessPolicies) => ({ ...r, accessPolicies })))),
    }));
    fc.assert(
      fc.property(withPolicies, (doc) => {
        const read = parseMappingsDocument(JSON.stringify(doc), 'm.json');
        const written = JSON.parse(JSON.stringify(doc)) as typeof doc;
        const again = parseMappingsDocument(renderMappingsYaml(read), 'rendered');
        const policies = (entries: { accessPolicies?: unknown[] | undefined }[], arnOf: (e: never) => string) =>
          entries.map((e) => [arnOf(e as never).toLowerCase(), e.accessPolicies?.length ? e.accessPolicies : []]).sort();
        expect(policies(again.roles, (r: { rolearn: string }) => r.rolearn)).toEqual(policies(written.roles, (r: { rolearn: string }) => r.rolearn));
        expect(policies(again.users, (u: { userarn: string }) => u.userarn)).toEqual(policies(written.users, (u: { userarn: string }) => u.userarn));
      }),
      { numRuns: 100 },
    );
  });
});

describe('templates in a mappings document (properties)', () => {
  it('keep a reserved prefix only where the literal text has it; a refusal names the entry and what it can render', () => {
    const input = fc.tuple(validMappingsDoc, templatedName, fc.boolean()).filter(([doc, , inRoles]) => (inRoles ? doc.roles : doc.users).length > 0);
    fc.assert(
      fc.property(input, ([doc, username, inRoles]) => {
        const list = inRoles ? doc.roles : doc.users;
        const first = list[0];
        if (first) first.username = username;
        const read = outcome(() => parseMappingsDocument(JSON.stringify(doc), 'm.json'));
        const literal = username.split('{{')[0] ?? '';
        const chosenReserved = RESERVED_PREFIXES.some((p) => someRenderingStartsWith(username, p) && !literal.startsWith(p));
        if ('value' in read) {
          expect(chosenReserved, `${username} was accepted`).toBe(false);
          return;
        }
        expect(read.error).toBeInstanceOf(ConfigError);
        // Long names are cut short in the message, so only their start is expected.
        expect((read.error as Error).message).toContain(`${inRoles ? 'roles' : 'users'}[0].username: username ${JSON.stringify(username).slice(0, 40)}`);
        // An unknown template (`{{Foo}}`) is refused first, for that reason.
        const unknownTemplate = username.replace(/\{\{(?:SessionName|SessionNameRaw|AccountID|AccessKeyID|EC2PrivateDNSName)\}\}/g, '').includes('{{');
        if (chosenReserved && !unknownTemplate) expect((read.error as Error).message).toMatch(/template before its first ":".*\(it can render "[^"]*:/);
        if (unknownTemplate) expect((read.error as Error).message).toMatch(/uses an unknown template/);
      }),
      { numRuns: 200 },
    );
  });
});

describe('SSM parameter values (properties)', () => {
  const ssm = mockClient(SSMClient);
  afterAll(() => ssm.restore());
  const config = configWith('  - type: ssm\n    ssm: {path: /eks/prod/auth}\n');

  it('decodes base64 only when it is strict base64 of UTF-8 text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        const buffer = Buffer.from(bytes);
        const utf8 = buffer.toString('utf8');
        const isText = Buffer.from(utf8, 'utf8').equals(buffer);
        expect(decodeBase64(buffer.toString('base64'))).toBe(bytes.length > 0 && isText ? utf8 : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('yields valid mappings or fails the scanner with one error naming the parameter, for any value', async () => {
    await fc.assert(
      fc.asyncProperty(ssmValue, async (value) => {
        ssm.reset();
        ssm.on(GetParameterCommand).resolves({ Parameter: { Name: '/eks/prod/auth', Value: value } });
        try {
          const d = await scanWith(config);
          for (const r of d.mappings.roles) expect(roleArnProblem(r.rolearn)).toBeUndefined();
          for (const u of d.mappings.users) expect(validateUsername(u.username)).toBeUndefined();
        } catch (e) {
          expect(e).toBeInstanceOf(EksAuthSyncError);
          expect((e as Error).message).toMatch(/^scanner "ssm\[0\]": SSM parameter \/eks\/prod\/auth/);
        }
      }),
      { numRuns: 120 },
    );
  });
});
