/**
 * `npm run pack:report`: packs the package as `npm publish` would, installs it offline into a
 * fresh CDK app, and prints what a user downloads and what lands on their disk, next to a CDK
 * app without it. Figures only; the package test (test/package/) checks what the package does.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { diskUsage, installIntoApp, packRepository } from './package-install.js';

const scratch = mkdtempSync(join(tmpdir(), 'eks-auth-sync-pack-report-'));
try {
  const tarball = await packRepository(scratch);
  const withPackage = join(scratch, 'app');
  const baseline = join(scratch, 'baseline');
  mkdirSync(withPackage);
  mkdirSync(baseline);
  await Promise.all([installIntoApp(withPackage, tarball.path), installIntoApp(baseline, undefined)]);
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  const installed = diskUsage(join(withPackage, 'node_modules'));
  const cdkOnly = diskUsage(join(baseline, 'node_modules'));
  const own = diskUsage(join(withPackage, 'node_modules', 'eks-auth-sync'));
  const byArea = (prefix: string): number =>
    tarball.files.filter((f) => f.startsWith(prefix)).reduce((sum, f) => sum + diskUsage(join(withPackage, 'node_modules', 'eks-auth-sync', f)), 0);
  console.log(`tarball                          ${mb(tarball.sizeBytes)} (${tarball.files.length} files, ${mb(tarball.unpackedBytes)} unpacked)`);
  console.log(`  dist/lambda (handler + map)    ${mb(byArea('dist/lambda/'))}`);
  console.log(`  dist/cli.mjs                   ${mb(byArea('dist/cli.mjs'))}`);
  console.log(`  dist/lib (library, .d.ts)      ${mb(byArea('dist/lib/'))}`);
  console.log(`installed, node_modules/eks-auth-sync  ${mb(own)}`);
  console.log(`installed, everything it adds to a CDK app  ${mb(installed - cdkOnly)} (app with it ${mb(installed)}, aws-cdk-lib + constructs alone ${mb(cdkOnly)})`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
