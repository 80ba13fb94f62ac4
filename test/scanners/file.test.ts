import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ScannerError } from '../../lambda/errors.js';
import { configWith, scanWith } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'eas-file-'));
const scan = (path: string) => scanWith(configWith(`- type: file\n  file: {path: ${JSON.stringify(path)}}\n`), dir);

describe('file scanner', () => {
  it('reads a YAML file relative to the config directory', async () => {
    writeFileSync(join(dir, 'm.yaml'), 'users:\n- userarn: arn:aws:iam::111122223333:user/ops/bob\n  username: bob\n  groups: [ops]\n' +
      '  accessPolicies:\n  - policy: AmazonEKSEditPolicy\n    namespaces: [ops]\n  - policy: AmazonEKSViewPolicy\n');
    const d = await scan('m.yaml');
    expect(d.mappings).toEqual({
      users: [{
        userarn: 'arn:aws:iam::111122223333:user/ops/bob', username: 'bob', groups: ['ops'], sourceArn: 'arn:aws:iam::111122223333:user/ops/bob',
        accessPolicies: [{ policy: 'AmazonEKSEditPolicy', namespaces: ['ops'] }, { policy: 'AmazonEKSViewPolicy' }],
      }],
      roles: [],
    });
  });

  it('reads a JSON file by absolute path', async () => {
    writeFileSync(join(dir, 'm.json'), JSON.stringify({ roles: [{ rolearn: 'arn:aws:iam::111122223333:role/R', username: 'r' }] }));
    const d = await scan(join(dir, 'm.json'));
    expect(d.mappings.roles).toEqual([{ rolearn: 'arn:aws:iam::111122223333:role/R', username: 'r', groups: [], sourceArn: 'arn:aws:iam::111122223333:role/R' }]);
  });

  it('fails the run naming the scanner and the file when it cannot be read', async () => {
    await expect(scan('missing.yaml')).rejects.toThrow(new RegExp(`^scanner "file\\[0\\]": cannot read ${dir}/missing\\.yaml`));
  });

  it('fails the run naming the scanner, the file and the entry when an entry is invalid', async () => {
    writeFileSync(join(dir, 'bad.yaml'), 'roles: [{rolearn: "arn:aws:iam::111122223333:role/R", username: r, groups: ["a::b c"]}]');
    const err = await scan('bad.yaml').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ScannerError);
    expect((err as Error).message).toMatch(new RegExp(`^scanner "file\\[0\\]": ${dir}/bad\\.yaml: roles\\[0\\]\\.groups: group name "a::b c"`));
  });
});
