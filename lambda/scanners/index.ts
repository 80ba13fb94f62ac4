/**
 * The scanners: one module per source of mappings behind one interface. `runScanners` runs them
 * all at once and merges what they found; if any one fails, the run fails, because a partial
 * picture must never be mistaken for the whole truth.
 */
import type { ClientFactory } from '../aws.js';
import { scannerName, type Config, type ScannerConfig } from '../config.js';
import { EksAuthSyncError, ScannerError } from '../errors.js';
import { mergeScanResults, type DesiredState, type ScanResult, type SourceTrust } from '../mappings.js';
import { fileScanner } from './file.js';
import { iamScanner } from './iam.js';
import { iamGroupsScanner } from './iam-groups.js';
import { identityCenterScanner } from './identity-center.js';
import { ssmScanner } from './ssm.js';
import { staticScanner } from './static.js';

/** What scanners need from outside: AWS clients, where relative paths resolve, the caller's account. */
export interface ScanDeps {
  clients: ClientFactory;
  /** The config file's directory: the file scanner resolves relative paths against it. */
  baseDir: string;
  /** The account of the default credentials (STS GetCallerIdentity), asked only when needed. */
  callerAccountId: () => Promise<string>;
  /**
   * Reads shared by the scanners of a run (and the clusters of a fleet run): `read` runs once per
   * key, every caller gets its promise. Absent: nothing is shared.
   */
  shared?: SharedReads;
}

/** One promise per key: the first caller's `read` runs, later callers share its answer (or its failure). */
export interface SharedReads {
  once<T>(key: string, read: () => Promise<T>): Promise<T>;
}

/** A fresh {@link SharedReads}, for one run (or one fleet run). */
export function sharedReads(): SharedReads {
  const promises = new Map<string, Promise<unknown>>();
  return {
    once<T>(key: string, read: () => Promise<T>): Promise<T> {
      let p = promises.get(key) as Promise<T> | undefined;
      if (p === undefined) {
        p = read();
        promises.set(key, p);
      }
      return p;
    },
  };
}

/** The config of a scanner of one type, e.g. `ScannerOfType<'iam'>`. */
export type ScannerOfType<T extends ScannerConfig['type']> = Extract<ScannerConfig, { type: T }>;

/** One scanner's view of the run. */
export interface ScanContext<S extends ScannerConfig = ScannerConfig> {
  /** The scanner's display name, e.g. `iam[2]`. */
  name: string;
  scanner: S;
  config: Config;
  deps: ScanDeps;
}

/** What a scanner returns; `runScanners` adds the trust level of its type. */
export type ScannerOutput = Omit<ScanResult, 'trust'>;

/** Reads one source and returns its mappings; throws ScannerError when the source cannot be read. */
export type Scanner<S extends ScannerConfig = ScannerConfig> = (ctx: ScanContext<S>) => Promise<ScannerOutput>;

/**
 * The trust level of each scanner type. A record, so a new scanner type does not compile until
 * someone decides how far its source is trusted. IAM groups and permission sets map what the
 * config says (IAM only says who is a member, or which role a set has), so they are trusted like static.
 */
const TRUST: Record<ScannerConfig['type'], SourceTrust> = {
  static: 'operator', file: 'operator', ssm: 'operator', iam: 'tags', iamGroups: 'operator', identityCenter: 'operator',
};

function scan(ctx: ScanContext): Promise<ScannerOutput> {
  const { scanner } = ctx;
  switch (scanner.type) {
    case 'static': return staticScanner({ ...ctx, scanner });
    case 'file': return fileScanner({ ...ctx, scanner });
    case 'iam': return iamScanner({ ...ctx, scanner });
    case 'ssm': return ssmScanner({ ...ctx, scanner });
    case 'iamGroups': return iamGroupsScanner({ ...ctx, scanner });
    case 'identityCenter': return identityCenterScanner({ ...ctx, scanner });
  }
}

/**
 * Runs every configured scanner concurrently, tags each result with its type's trust level, and
 * merges them (see `mergeScanResults` for the precedence).
 * @throws ScannerError naming the first scanner that failed, e.g. `scanner "iam[2]": ...`.
 */
export async function runScanners(config: Config, deps: ScanDeps): Promise<DesiredState> {
  const results = await Promise.all(config.scanners.map(async (scanner, index) => {
    const name = scannerName(scanner, index);
    try {
      return { ...(await scan({ name, scanner, config, deps })), trust: TRUST[scanner.type] };
    } catch (err) {
      if (err instanceof ScannerError) throw err;
      const detail = err instanceof EksAuthSyncError ? err.message : describeError(err);
      throw new ScannerError(`scanner "${name}": ${detail}`, { cause: err });
    }
  }));
  return mergeScanResults(results);
}

/** An AWS SDK error as `Name: message`, so the operator sees e.g. `AccessDenied: ...`. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.name && err.name !== 'Error' ? `${err.name}: ${err.message}` : err.message;
  return String(err);
}
