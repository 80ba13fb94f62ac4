import type { ScannerOfType, Scanner } from './index.js';

/** Mappings written in the config itself; they were validated when the config was parsed. */
export const staticScanner: Scanner<ScannerOfType<'static'>> = async ({ name, scanner }) => ({
  source: name,
  mappings: { users: scanner.static.users, roles: scanner.static.roles },
  warnings: [],
});
