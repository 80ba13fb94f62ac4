/**
 * The YAML dialect of aws-auth's `mapRoles`/`mapUsers` as the authenticator reads it: YAML 1.1
 * (Go's yaml.v2, so `yes` is a boolean), duplicate keys allowed, merge keys honoured. Shared by
 * parsing, repair and the round-trip check, so all three read a list the same way.
 */
import { parseDocument, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';
import { yamlNestingProblem } from '../../yaml-limits.js';

// Go's yaml.v2 (used by the authenticator) reads YAML 1.1; the exotic 1.1 types it would not turn
// into JSON are left out so every parsed value is plain data. Integers as BigInt: a foreign
// entry's large number must survive a rewrite exactly.
const EXOTIC_TAGS = new Set(['binary', 'omap', 'pairs', 'set', 'timestamp'].map((t) => `tag:yaml.org,2002:${t}`));
const YAML_READ: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1',
  uniqueKeys: false,
  merge: true,
  intAsBigInt: true,
  customTags: (tags) => tags.filter((t) => typeof t === 'string' || !EXOTIC_TAGS.has(t.tag)),
};

/** A list read from YAML text, or why it cannot be read (with where, when the parser knows). */
export type ListRead = { items: unknown[] } | { problem: string; position?: { line: number; col: number } };

/** Reads one `mapRoles`/`mapUsers` value as a list of plain data. */
export function readList(text: string): ListRead {
  const tooDeep = yamlNestingProblem(text);
  if (tooDeep) return { problem: tooDeep };
  const doc = parseDocument(text, YAML_READ);
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    // The parser appends " at line L, column C:" and a code excerpt; the position is reported once, by the caller.
    const problem = (error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '');
    return { problem, ...(pos ? { position: pos } : {}) };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    return { problem: e instanceof Error ? e.message : String(e) };
  }
  if (value === null || value === undefined) return { items: [] };
  if (!Array.isArray(value)) return { problem: `expected a YAML list, found ${typeof value === 'object' ? 'a mapping' : `a ${typeof value}`}` };
  return { items: value };
}

/** Whether a parsed value is a mapping. */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep equality over parsed YAML data (NaN equals NaN, BigInt by value). */
export function sameData(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameData(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k, i) => k === kb[i] && sameData(a[k], b[k]));
  }
  return false;
}
