import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseMappingsDocument } from '../config.js';
import { ScannerError } from '../errors.js';
import type { ScannerOfType, Scanner } from './index.js';

/**
 * Mappings from a `{users, roles}` YAML or JSON file; a relative path resolves against the
 * config file's directory. An unreadable file or any invalid entry fails the scanner.
 */
export const fileScanner: Scanner<ScannerOfType<'file'>> = async ({ name, scanner, deps }) => {
  const path = resolve(deps.baseDir, scanner.file.path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ScannerError(`scanner "${name}": cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  const doc = parseMappingsDocument(text, path);
  return { source: name, mappings: { users: doc.users, roles: doc.roles }, warnings: [] };
};
