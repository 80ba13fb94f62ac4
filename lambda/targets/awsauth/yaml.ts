/**
 * The YAML dialect of aws-auth's `mapRoles`/`mapUsers` as the authenticator reads it: YAML 1.1
 * (Go's yaml.v2, so `yes` is a boolean), duplicate keys allowed, merge keys honoured. Shared by
 * parsing, repair and the round-trip check, so all three read a list the same way.
 */
import { isAlias, isCollection, isScalar, LineCounter, parseDocument, visit, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { ...YAML_READ, lineCounter });
  const error = doc.errors[0];
  if (error) {
    const pos = error.linePos?.[0];
    // The parser appends " at line L, column C:" and a code excerpt; the position is reported once, by the caller.
    const problem = (error.message.split('\n')[0] ?? error.code).replace(/ at line \d+, column \d+:?$/, '');
    return { problem, ...(pos ? { position: pos } : {}) };
  }
  const badKey = unconvertibleKey(doc, lineCounter);
  if (badKey) return badKey;
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

/**
 * A mapping key that the authenticator cannot turn into JSON: null (`~`, `null`, empty) or a list
 * or mapping. aws-iam-authenticator's `ParseMap` (pkg/mapper/configmap/configmap.go) converts the
 * value with `utilyaml.ToJSON`, whose YAML-to-JSON conversion (sigs.k8s.io/yaml) accepts only
 * string, number and boolean keys and fails otherwise; `ParseMap` then drops every entry of the
 * data key. So such a key anywhere in the value makes it broken, not just the item holding it.
 */
function unconvertibleKey(doc: Document, lineCounter: LineCounter): { problem: string; position?: { line: number; col: number } } | undefined {
  let found: { problem: string; position?: { line: number; col: number } } | undefined;
  visit(doc, {
    Pair: (_, pair) => {
      const key = isAlias(pair.key) ? pair.key.resolve(doc) : pair.key;
      const what = key === null || key === undefined || (isScalar(key) && key.value === null) ? 'null' : isCollection(key) ? 'a list or mapping' : undefined;
      if (what === undefined) return undefined;
      const offset = isScalar(key) || isCollection(key) ? key.range?.[0] : undefined;
      found = { problem: `a mapping key is ${what}, which the authenticator cannot convert to JSON`, ...(offset === undefined ? {} : { position: lineCounter.linePos(offset) }) };
      return visit.BREAK;
    },
  });
  return found;
}

// `---` starts a YAML document and `...` ends one, at the start of a line.
const DOCUMENT_START = /^---(?:[ \t]|$)/;
const DOCUMENT_END = /^\.\.\.(?:[ \t]|$)/;

/** Where a value's first YAML document ends, when more text with content follows it. */
export interface LaterDocuments {
  /** 1-based line of the value where the text after the first document starts. */
  firstLine: number;
  text: string;
}

/**
 * yaml.v2's line breaks (`is_break`: CR LF, CR, LF, NEL, LS, PS), captured so that splitting on them
 * keeps each one: a value written with CRLF (`---\r\n`) splits where the authenticator's does.
 */
const LINE_BREAK = /(\r\n|[\r\n\u0085\u2028\u2029])/;

/**
 * A text's lines as yaml.v2 breaks them, each but the last followed by its break: lines at the
 * even indexes, breaks at the odd ones, so `parts.join('')` is the text again.
 */
export function splitLines(text: string): string[] {
  return text.split(LINE_BREAK);
}

/**
 * Splits a value after its first YAML document. The authenticator reads only that one (`ParseMap`
 * converts the value with `utilyaml.ToJSON`, which unmarshals with yaml.v2's `Unmarshal`, and that
 * decodes the first document of its input), so entries in later documents have never been in force.
 */
export function splitFirstDocument(text: string): { first: string; later?: LaterDocuments } {
  const parts = splitLines(text);
  const lines = parts.filter((_, i) => i % 2 === 0);
  let started = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const ends = DOCUMENT_END.test(line) || (DOCUMENT_START.test(line) && started);
    if (ends) {
      const rest = lines.slice(i);
      const hasContent = rest.some((l) => !DOCUMENT_START.test(l) && !DOCUMENT_END.test(l) && !/^\s*(?:#.*)?$/.test(l));
      if (!hasContent) return { first: text };
      return { first: parts.slice(0, Math.max(0, 2 * i - 1)).join(''), later: { firstLine: i + 1, text: parts.slice(2 * i).join('') } };
    }
    if (DOCUMENT_START.test(line) || !/^\s*(?:#.*)?$|^%/.test(line)) started = true;
  }
  return { first: text };
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
