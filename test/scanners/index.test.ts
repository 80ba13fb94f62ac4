import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderMappingsYaml } from '../../lambda/mappings.js';
import { configWith, scanWith } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'eas-index-'));
writeFileSync(join(dir, 'm.yaml'), `roles:
- {rolearn: "arn:aws:iam::111122223333:role/Admin", username: from-file, groups: [ops]}
- {rolearn: "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_1", username: dev}
`);

const STATIC = `- type: static
  name: admins
  static:
    roles: [{rolearn: "arn:aws:iam::111122223333:role/Admin", username: admin, groups: [system:masters]}]
`;
const FILE = '- type: file\n  file: {path: m.yaml}\n';

describe('runScanners', () => {
  it('merges scanners with the one listed first winning, and reports the conflict naming both', async () => {
    const d = await scanWith(configWith(STATIC + FILE), dir);
    expect(d.mappings.roles).toEqual([
      { rolearn: 'arn:aws:iam::111122223333:role/Admin', username: 'admin', groups: ['system:masters'], sourceArn: 'arn:aws:iam::111122223333:role/Admin' },
      // aws-auth gets the role without its path, access entries the ARN as written.
      {
        rolearn: 'arn:aws:iam::111122223333:role/AWSReservedSSO_Dev_1', username: 'dev', groups: [],
        sourceArn: 'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Dev_1',
      },
    ]);
    expect(d.sourceOf.get('arn:aws:iam::111122223333:role/admin')).toBe('admins');
    expect(d.warnings).toEqual([
      expect.objectContaining({ source: 'file[1]', subject: 'arn:aws:iam::111122223333:role/Admin', message: expect.stringMatching(/"admins"/) }),
      expect.objectContaining({ source: 'file[1]', message: expect.stringMatching(/IAM path/) }),
    ]);
  });

  it('trusts a source by its type, not its name: a static scanner named "iam" is not IAM tags', async () => {
    const d = await scanWith(configWith(STATIC.replace('name: admins', 'name: iam') + FILE), dir);
    expect(d.sourceOf.get('arn:aws:iam::111122223333:role/admin')).toBe('iam');
    expect(d.fromTags.size).toBe(0);
  });

  it('gives the other precedence when the order of the scanners is swapped', async () => {
    const d = await scanWith(configWith(FILE + STATIC), dir);
    expect(d.mappings.roles[0]?.username).toBe('from-file');
  });

  it('prints byte-identical output whatever order the entries come in', async () => {
    const entries = ['C', 'a', 'B'].map((n) => `{rolearn: "arn:aws:iam::111122223333:role/${n}", username: ${n.toLowerCase()}}`);
    const run = async (list: string[]) =>
      renderMappingsYaml((await scanWith(configWith(`- type: static\n  static: {roles: [${list.join(', ')}]}\n`))).mappings);
    expect(await run([...entries].reverse())).toBe(await run(entries));
  });

  it('fails the whole run when one scanner fails', async () => {
    const config = configWith(`${STATIC}- type: file\n  name: extra\n  file: {path: nope.yaml}\n`);
    await expect(scanWith(config, dir)).rejects.toThrow(/^scanner "extra": cannot read/);
  });
});
