/**
 * The package as a user gets it: `npm pack` of this repository, installed into a fresh CDK app
 * from the tarball and the local npm cache only (`--offline`: the registry is never asked).
 * Shared by the package test (test/package/) and `npm run pack:report`.
 */
import { execFile } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** Asynchronous, so a test worker keeps answering its runner while npm works for minutes. */
const run = promisify(execFile);

/** The root of this repository. */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** What `npm pack --json` reports of the tarball it wrote. */
export interface PackedTarball {
  /** The tarball's absolute path. */
  path: string;
  /** Its size in bytes (compressed). */
  sizeBytes: number;
  /** The size of the files in it, uncompressed. */
  unpackedBytes: number;
  /** Every file in it, relative to the package root. */
  files: string[];
}

/**
 * Runs `npm pack` in the repository with its lifecycle scripts (`prepare` builds dist/: the
 * bundles and the library), writing the tarball into `destination`.
 */
export async function packRepository(destination: string): Promise<PackedTarball> {
  // Lifecycle scripts print to stdout too; --json's report is the last JSON array in it.
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', destination], { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 });
  const start = stdout.lastIndexOf('\n[');
  const report = JSON.parse(start === -1 ? stdout : stdout.slice(start)) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const packed = report[0];
  if (!packed) throw new Error(`npm pack in ${REPO_ROOT} reported no tarball`);
  return {
    path: join(destination, packed.filename),
    sizeBytes: packed.size,
    unpackedBytes: packed.unpackedSize,
    files: packed.files.map((f) => f.path),
  };
}

/** The version of a package this repository installed, as its lockfile pins it. */
export function lockedVersion(name: string): string {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string }>;
  };
  const version = lock.packages[`node_modules/${name}`]?.version;
  if (version === undefined) throw new Error(`package-lock.json pins no version of ${name}`);
  return version;
}

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  optional?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  [key: string]: unknown;
}

/** The npm registry the repository's lockfile was resolved against (npm omits it from the lockfile). */
const REGISTRY = 'https://registry.npmjs.org';

/**
 * The lockfile entries of `roots` and of everything they need, as this repository installed
 * them, each with the tarball URL npm keyed its cache entry by: with it, `npm ci --offline`
 * takes every tarball from the cache by its integrity and never needs a registry document
 * (which the cache of an `npm ci` need not hold).
 */
function lockEntriesFor(roots: readonly string[]): Record<string, LockEntry> {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const entries: Record<string, LockEntry> = {};
  /** Where Node finds `name` from the package at `from`: its own node_modules, then each parent's. */
  const locate = (from: string, name: string): string | undefined => {
    for (let dir = from; ; dir = dir.slice(0, Math.max(0, dir.lastIndexOf('/node_modules/')))) {
      const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
      if (lock.packages[candidate]) return candidate;
      if (dir === '') return undefined;
    }
  };
  const visit = (path: string): void => {
    const entry = lock.packages[path];
    if (entry === undefined || path in entries) return;
    const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
    const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length);
    const inBundle = entry['inBundle'] === true;
    entries[path] = inBundle || entry.version === undefined
      ? kept
      : { ...kept, resolved: `${REGISTRY}/${name}/-/${name.split('/').pop() ?? name}-${entry.version}.tgz` };
    const optionalPeers = new Set(Object.entries(entry.peerDependenciesMeta ?? {}).filter(([, m]) => m.optional).map(([n]) => n));
    const needs = [
      ...Object.keys(entry.dependencies ?? {}),
      ...Object.keys(entry.optionalDependencies ?? {}),
      ...Object.keys(entry.peerDependencies ?? {}).filter((n) => !optionalPeers.has(n)),
    ];
    for (const dependency of needs) {
      const found = locate(path, dependency);
      if (found !== undefined) visit(found);
    }
  };
  for (const root of roots) visit(`node_modules/${root}`);
  return entries;
}

/**
 * Makes `appDir` a minimal CDK app's package (CommonJS, as `cdk init app` makes it) depending
 * on the aws-cdk-lib and constructs this repository uses and, given a tarball, on it; then
 * installs it with `npm ci --offline`: everything comes from the tarball and the local npm
 * cache. The app's lockfile is this repository's, for the packages the app needs: the versions
 * the tests ran against. Without a tarball it is the baseline a CDK app already has.
 */
export async function installIntoApp(appDir: string, tarball: string | undefined): Promise<void> {
  const packed = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    peerDependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: Record<string, string>;
  };
  const dependencies: Record<string, string> = {
    'aws-cdk-lib': lockedVersion('aws-cdk-lib'),
    constructs: lockedVersion('constructs'),
    ...(tarball === undefined ? {} : { 'eks-auth-sync': `file:${tarball}` }),
  };
  const manifest = { name: 'consumer-app', version: '0.0.0', private: true, dependencies };
  const lockfile = {
    name: manifest.name,
    version: manifest.version,
    lockfileVersion: 3,
    requires: true,
    packages: {
      '': { name: manifest.name, version: manifest.version, dependencies },
      ...lockEntriesFor(['aws-cdk-lib', 'constructs', ...(tarball === undefined ? [] : Object.keys(packed.dependencies))]),
      ...(tarball === undefined
        ? {}
        : {
            'node_modules/eks-auth-sync': {
              version: packed.version,
              resolved: `file:${tarball}`,
              dependencies: packed.dependencies,
              peerDependencies: packed.peerDependencies,
              bin: packed.bin,
              engines: packed.engines,
            },
          }),
    },
  };
  writeFileSync(join(appDir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(appDir, 'package-lock.json'), `${JSON.stringify(lockfile, null, 2)}\n`);
  try {
    await run('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: appDir });
  } catch (error) {
    const { stderr } = error as { stderr?: string };
    throw new Error(`npm ci --offline of ${tarball ?? 'aws-cdk-lib and constructs'} into ${appDir} failed:\n${stderr ?? String(error)}`);
  }
}

/** The bytes of every file under `path`, symlinks counted as links (not followed). */
export function diskUsage(path: string): number {
  const stat = lstatSync(path);
  if (!stat.isDirectory()) return stat.size;
  return readdirSync(path).reduce((sum, name) => sum + diskUsage(join(path, name)), 0);
}
