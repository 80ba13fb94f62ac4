/**
 * A bound on how deeply YAML text can nest, checked before the text reaches the recursive YAML
 * composer. Deep nesting (`[[[[…`) otherwise exhausts the call stack, and V8 may then abort the
 * whole process ("RegExpCompiler Allocation failed") instead of throwing.
 */
import { CST, Lexer } from 'yaml';

/** Far beyond any aws-auth or config (they nest under 10 levels), far below the stack's limit. */
export const MAX_YAML_NESTING = 100;

/**
 * An upper bound on the nesting depth of `text`: open flow collections, plus on each line its
 * indentation and block indicators (`-`, `?`, `:`) outside flow collections. Uses the library's lexer, which does not
 * recurse, so quotes and comments are understood.
 * @example yamlNestingBound('a:\n  - [b]\n') // 5
 */
export function yamlNestingBound(text: string): number {
  let flow = 0;
  let line = 0;
  let indent = 0;
  let max = 0;
  for (const token of new Lexer().lex(text)) {
    const type = CST.tokenType(token);
    if (type === 'newline') {
      line = 0;
      indent = 0;
      continue;
    }
    if (type === 'space' && line === 0) {
      indent = token.length;
      continue;
    }
    if (type === 'comment' || type === 'space') continue;
    if (line === 0) line = indent + 1;
    if (type === 'flow-seq-start' || type === 'flow-map-start') flow++;
    else if (type === 'flow-seq-end' || type === 'flow-map-end') flow = Math.max(0, flow - 1);
    // Inside a flow collection its brackets already count the nesting; `:` and `,` there do not.
    else if (flow === 0 && (type === 'seq-item-ind' || type === 'explicit-key-ind' || type === 'map-value-ind')) line++;
    max = Math.max(max, flow + line);
  }
  return max;
}

/**
 * A cruder bound in one pass over the characters (every bracket, colon, dash and leading space
 * counts, quoted or not), so the lexer only runs for text that might be deep.
 */
function quickNestingBound(text: string): number {
  let flow = 0;
  let line = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line = 0;
    else if (c === 91 || c === 123) flow++; // [ {
    else if (c === 32 || c === 45 || c === 58 || c === 63 || c === 9) line++; // space - : ? tab
    if (flow + line > max) max = flow + line;
  }
  return max;
}

/** Why `text` cannot be parsed safely, or undefined when it can. */
export function yamlNestingProblem(text: string): string | undefined {
  if (quickNestingBound(text) <= MAX_YAML_NESTING) return undefined;
  const depth = yamlNestingBound(text);
  return depth > MAX_YAML_NESTING ? `nested too deeply (about ${depth} levels; at most ${MAX_YAML_NESTING} are read)` : undefined;
}
