/**
 * Writing aws-auth: render `mapRoles`/`mapUsers` so the authenticator reads back exactly the
 * planned items, build the next ConfigMap (everything else kept), and prove the round trip.
 */
import { isDeepStrictEqual } from 'node:util';
import { Document, isScalar, visit, type DocumentOptions, type ScalarTag, type SchemaOptions, type ToStringOptions } from 'yaml';
import { AWS_AUTH_NAME, AWS_AUTH_NAMESPACE, type ConfigMap } from '../../configmap.js';
import { RoundTripGuardError } from '../../errors.js';
import { KINDS, LIST_KEY, OWNED_ANNOTATION, type EntryKind } from './parse.js';
import { readList, sameData } from './yaml.js';

/** Renders one `mapRoles`/`mapUsers` list. Replaceable only so tests can prove the round-trip guard. */
export type ListRenderer = (items: readonly unknown[]) => string;

/**
 * Integers are read as BigInt, so a JS number is always a YAML float. YAML 1.1 floats need a
 * dot: `1.0` written as `1` would read back as an integer, and `1e+21` as a string.
 */
const FLOAT_1_1: ScalarTag = {
  tag: 'tag:yaml.org,2002:float',
  default: true,
  identify: (v) => typeof v === 'number' && Number.isFinite(v),
  // Only writes use this tag, but the library prefers tags with a `test` when several identify a value.
  test: /^[-+]?\d*\.\d*(?:e[-+]\d+)?$/,
  resolve: (s) => Number(s),
  stringify: ({ value }) => {
    const n = value as number;
    const [mantissa = '', exponent] = (Object.is(n, -0) ? '-0' : String(n)).split('e');
    const dotted = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
    return exponent === undefined ? dotted : `${dotted}e${exponent}`;
  },
};
const MERGE_TAG = 'tag:yaml.org,2002:merge';
const YAML_WRITE: DocumentOptions & SchemaOptions & ToStringOptions & { aliasDuplicateObjects: boolean } = {
  version: '1.1',
  // Without the merge tag, a literal `<<` key is an ordinary string that renderList can quote.
  customTags: (tags) => [FLOAT_1_1, ...tags.filter((t) => typeof t === 'string' || t.tag !== MERGE_TAG)],
  // Always quoted, so `{{EC2PrivateDNSName}}`, `system:masters`, `yes` and `0123` stay strings.
  defaultStringType: 'QUOTE_DOUBLE',
  defaultKeyType: 'PLAIN',
  lineWidth: 0,
  aliasDuplicateObjects: false,
};

/** Renders a list as a YAML block list; deterministic for equal input. */
export const renderList: ListRenderer = (items) => {
  const doc = new Document(items, YAML_WRITE);
  // A plain `<<` key would read back as a YAML 1.1 merge key (here and in the authenticator), so
  // a foreign entry's literal `<<` field is quoted.
  visit(doc, {
    Pair: (_, pair) => {
      if (isScalar(pair.key) && pair.key.value === '<<') pair.key.type = 'QUOTE_DOUBLE';
    },
  });
  return doc.toString(YAML_WRITE);
};

/** The items one kind's list will hold, and the items it holds now. */
export interface KindPlan {
  items: unknown[];
  liveItems: unknown[];
}

/**
 * The ConfigMap to write: `cm` (or a new aws-auth) with each changed list rendered and the
 * ownership annotation set. Returns which lists were rendered, for the round-trip check.
 */
export function nextConfigMap(
  cm: ConfigMap | null,
  kindPlans: Record<EntryKind, KindPlan>,
  annotation: string | undefined,
  render: ListRenderer,
  repaired: ReadonlySet<EntryKind>,
): { next: ConfigMap; rendered: EntryKind[] } {
  const next: ConfigMap = cm
    ? structuredClone(cm)
    : { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: AWS_AUTH_NAME, namespace: AWS_AUTH_NAMESPACE } };
  const data = { ...next.data };
  const rendered: EntryKind[] = [];
  for (const kind of KINDS) {
    const key = LIST_KEY[kind];
    const { items, liveItems } = kindPlans[kind];
    // An untouched list keeps its text byte for byte (comments, formatting, node roles' layout);
    // a repaired one is rewritten even so, as its text is what is broken.
    if (sameData(items, liveItems) && !repaired.has(kind)) continue;
    data[key] = render(items);
    rendered.push(kind);
  }
  next.data = data;
  const annotations = { ...next.metadata.annotations };
  if (annotation === undefined) delete annotations[OWNED_ANNOTATION];
  else annotations[OWNED_ANNOTATION] = annotation;
  next.metadata.annotations = annotations;
  return { next, rendered };
}

/**
 * Whether `live` holds what the plan that produced `next` writes: the same data and the same
 * ownership annotation (all `nextConfigMap` changes). Recognises a landed write after the fact.
 */
export function holdsPlannedContent(live: ConfigMap, next: ConfigMap): boolean {
  return (
    isDeepStrictEqual(live.data ?? {}, next.data ?? {}) &&
    live.metadata.annotations?.[OWNED_ANNOTATION] === next.metadata.annotations?.[OWNED_ANNOTATION]
  );
}

/**
 * The round-trip guard: every rendered list must read back as exactly its planned items. A list
 * left as it was is the text that was just parsed as live; only rendered ones can differ.
 * @throws RoundTripGuardError naming the key and the first difference.
 */
export function checkRoundTrip(next: ConfigMap, kindPlans: Record<EntryKind, KindPlan>, rendered: readonly EntryKind[]): void {
  for (const kind of rendered) {
    const key = LIST_KEY[kind];
    const back = readList(next.data?.[key] ?? '');
    if ('problem' in back) {
      const where = back.position ? ` at line ${back.position.line}, column ${back.position.col}` : '';
      throw new RoundTripGuardError(key, `it does not parse${where}: ${back.problem}`);
    }
    const want = kindPlans[kind].items;
    if (back.items.length !== want.length) {
      throw new RoundTripGuardError(key, `${back.items.length} entries read back, ${want.length} planned`);
    }
    const at = want.findIndex((item, i) => !sameData(item, back.items[i]));
    if (at !== -1) throw new RoundTripGuardError(key, `item ${at + 1} differs`);
  }
}
