import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { accessEntryCli, requireAccessEntryCli } from './tools.js';

describe('the access-entry aws-cli lookup', () => {
  let root: string;
  const install = (version: string): string => {
    const bin = join(root, 'versions', version, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(join(bin, 'aws'), '#!/bin/sh\n');
    chmodSync(join(bin, 'aws'), 0o755);
    return join(bin, 'aws');
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'pyenv-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('takes the newest Python under pyenv that has the CLI, whatever its version number', () => {
    install('3.9.18');
    const newest = install('3.11.7');
    mkdirSync(join(root, 'versions', '3.12.1'));
    expect(accessEntryCli({ PYENV_ROOT: root })).toBe(newest);
  });

  it('takes ACCESS_ENTRY_AWS_CLI over pyenv', () => {
    install('3.11.7');
    expect(accessEntryCli({ PYENV_ROOT: root, ACCESS_ENTRY_AWS_CLI: '/opt/aws1/bin/aws' })).toBe('/opt/aws1/bin/aws');
  });

  it('finds nothing without pyenv, and then fails saying how to provide the CLI', () => {
    expect(accessEntryCli({ PYENV_ROOT: join(root, 'absent') })).toBeUndefined();
    expect(() => requireAccessEntryCli({ PYENV_ROOT: join(root, 'absent') })).toThrow(/aws-cli 1\.x from pip not found .*set ACCESS_ENTRY_AWS_CLI/);
    expect(() => requireAccessEntryCli({ ACCESS_ENTRY_AWS_CLI: join(root, 'missing/aws') })).toThrow(/missing\/aws/);
  });
});
