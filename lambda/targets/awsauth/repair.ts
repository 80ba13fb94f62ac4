/**
 * Repair of a broken `mapRoles`/`mapUsers` (config `sync.repairBrokenAwsAuth`): read what can be
 * read, and report exactly what cannot, with line numbers and text to put back by hand.
 */
import type { Warning } from '../../mappings.js';
import type { DroppedChunk, RepairedKey } from './parse.js';
import { readList } from './yaml.js';

// A top-level item starts with `-` at the list's indentation; `---` and `...` end a YAML document.
const DOCUMENT_MARKER = /^(?:---|\.\.\.)(?:[ \t]|$)/;

/**
 * Reads what can be read of a list that does not parse as a whole: the text is cut where a
 * top-level item or a document marker starts, and each piece is parsed alone, so one bad item
 * costs only itself. A piece that does not parse to a list is dropped and reported.
 */
export function salvageList(key: RepairedKey['key'], text: string): { items: unknown[]; dropped: DroppedChunk[] } {
  const lines = text.split('\n');
  const indent = lines.map((l) => /^( *)-(?:[ \t]|$)/.exec(l)?.[1]).find((i) => i !== undefined) ?? '';
  const isStart = (l: string): boolean =>
    DOCUMENT_MARKER.test(l) || (l.startsWith(`${indent}-`) && /^(?:[ \t]|$)/.test(l.slice(indent.length + 1)));
  const starts = [0, ...lines.flatMap((l, i) => (i > 0 && isStart(l) ? [i] : []))];

  const items: unknown[] = [];
  const dropped: DroppedChunk[] = [];
  starts.forEach((first, n) => {
    let last = (starts[n + 1] ?? lines.length) - 1;
    while (last > first && (lines[last] ?? '').trim() === '') last--;
    const chunk = lines.slice(first, last + 1).join('\n');
    const read = readList(chunk);
    if ('items' in read) {
      items.push(...read.items);
      return;
    }
    const where = read.position ? ` (line ${read.position.line + first}, column ${read.position.col})` : '';
    dropped.push({ key, firstLine: first + 1, lastLine: last + 1, problem: `${read.problem}${where}`, text: chunk });
  });
  return { items, dropped };
}

/** The warnings of one repaired key: a summary, then one per dropped piece with its first line. */
export function repairWarnings(key: RepairedKey['key'], problem: string, salvaged: { items: unknown[]; dropped: DroppedChunk[] }): Warning[] {
  const summary: Warning = {
    source: 'aws-auth',
    subject: key,
    message: `"${key}" is broken (${problem}); sync.repairBrokenAwsAuth is set, so it is rewritten from the ` +
      `${salvaged.items.length} item(s) that can be read, dropping ${salvaged.dropped.length} unreadable part(s)`,
  };
  return [summary, ...salvaged.dropped.map((d): Warning => {
    const excerpt = (d.text.split('\n').find((l) => l.trim() !== '') ?? '').trim().slice(0, 120);
    return {
      source: 'aws-auth',
      subject: key,
      message: `dropped lines ${d.firstLine}-${d.lastLine} of "${key}", which cannot be read (${d.problem}): ${JSON.stringify(excerpt)}`,
    };
  })];
}
