/**
 * What YAML may be in passthrough.yaml beyond its syntax: plain mappings with scalar keys, sequences and scalars
 * — the JSON data model, which is all the schema describes. YAML can say more (`!!omap`, `!!set`, `!!pairs`,
 * `!!binary`, custom tags, `? [a, b] : ...` keys), and the `yaml` package turns each of those into JSON in its own
 * way: an `!!omap` of hosts becomes an empty object, a list key becomes the string "[ a, b ]". The schema would
 * then check data the user did not write, and a file naming a remote host could validate as "no hosts" and act on
 * this machine. So each is refused where it is written, before any data is built from it.
 *
 * Also refused here: keys written twice (compared as the text passthru reads, so `true:` and `"true":` collide),
 * and control characters in any string — nothing passthru reads from the file may hold one, and each such string
 * ends up in a virsh argument, a generated script or a terminal.
 */
import { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Document, Node, Pair, Scalar } from 'yaml';
import { MAX_FINDINGS } from './input-limits.js';
import { describeCharacter, showString } from './show.js';

/** A structural problem at a byte offset of the text; `fatal` ones make the data meaningless. */
export interface StructureProblem {
  offset: number;
  message: string;
  hint: string;
  fatal: boolean;
}

/** The tags that only restate a JSON type; any other tag means something the schema cannot see. */
const JSON_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));
const TAG_NAMES: Record<string, string> = {
  'tag:yaml.org,2002:omap': '!!omap (an ordered map)',
  'tag:yaml.org,2002:set': '!!set',
  'tag:yaml.org,2002:pairs': '!!pairs',
  'tag:yaml.org,2002:binary': '!!binary',
  'tag:yaml.org,2002:timestamp': '!!timestamp',
};
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/**
 * Every structural problem of a parsed document (the first `MAX_FINDINGS`), in document order (an iterative walk:
 * no recursion limit).
 * `at` names an offset as `line:col`, for messages that point at a second place.
 */
export function structureProblems(doc: Document.Parsed, text: string, at: (offset: number) => string): StructureProblem[] {
  const problems: StructureProblem[] = [];
  const stack: Node[] = doc.contents ? [doc.contents] : [];
  while (stack.length > 0 && problems.length < MAX_FINDINGS) {
    const node = stack.pop() as Node;
    // An alias repeats a node already walked where its anchor is: walking it again could be exponential.
    if (isAlias(node)) continue;
    const tagProblem = checkTag(node, text);
    if (tagProblem) problems.push(tagProblem);
    if (isMap(node)) {
      checkKeys(node.items as Pair[], text, node, at, problems);
      for (const pair of [...node.items].reverse()) if (pair.value) stack.push(pair.value as Node);
    } else if (isSeq(node)) {
      for (const item of [...node.items].reverse()) if (item) stack.push(item as Node);
    } else if (isScalar(node)) {
      const control = controlCharacter(node, text);
      if (control) problems.push(control);
    }
  }
  return problems.sort((a, b) => a.offset - b.offset);
}

function checkTag(node: Node, text: string): StructureProblem | null {
  if (node.tag === undefined || JSON_TAGS.has(node.tag)) return null;
  const name = TAG_NAMES[node.tag] ?? `the tag ${describeTag(node.tag)}`;
  return {
    offset: tagOffset(node, text),
    message: `${name} is not allowed in passthrough.yaml: only plain mappings, lists and values are`,
    hint: isMap(node) || isSeq(node) ? 'remove the tag and write a plain mapping (key: value) or list (- item)' : 'remove the tag',
    fatal: true,
  };
}

// yaml keeps no range for a tag; it is the token before the node (and before an anchor `&a`, if any). A comment
// in between hides it, and then the node's own start is the position.
function tagOffset(node: Node, text: string): number {
  let end = start(node);
  for (let tokens = 0; tokens < 2; tokens++) {
    while (end > 0 && /\s/.test(text[end - 1] as string)) end--;
    let begin = end;
    while (begin > 0 && !/\s/.test(text[begin - 1] as string)) begin--;
    if (text[begin] === '!') return begin;
    if (text[begin] !== '&') break;
    end = begin;
  }
  return start(node);
}

function describeTag(tag: string): string {
  return JSON.stringify(tag.replace(/^tag:yaml\.org,2002:/, '!!'));
}

function checkKeys(pairs: Pair[], text: string, map: Node, at: (offset: number) => string, problems: StructureProblem[]): void {
  const first = new Map<string, number>();
  for (const pair of pairs) {
    const key = pair.key as Node | null;
    if (!isScalar(key) || (key.value === null && !key.source)) {
      problems.push(badKey(key, pair, map));
      continue;
    }
    const name = String(key.value);
    const control = controlCharacter(key, text);
    if (control) problems.push(control);
    const earlier = first.get(name);
    if (earlier === undefined) {
      first.set(name, start(key));
    } else {
      problems.push({
        offset: start(key),
        message: `duplicate key ${showString(name)} (first written at ${at(earlier)})`,
        hint: 'YAML keeps only one of the values: remove the other key',
        fatal: false,
      });
    }
  }
}

function badKey(key: Node | null, pair: Pair, map: Node): StructureProblem {
  const offset = key ? start(key) : start((pair.value as Node | null) ?? map);
  if (key === null || isScalar(key)) {
    return { offset, message: 'a key is missing: this value has no name', hint: 'write the key before the ":"', fatal: true };
  }
  return {
    offset,
    message: isAlias(key)
      ? 'an alias (*name) is used as a key: keys must be written out'
      : `a ${isSeq(key) ? 'list' : 'mapping'} is used as a key (a "? ..." complex key): keys must be plain names`,
    hint: 'write the key as a plain name, e.g. rhel7.3: { devices: [...] }',
    fatal: true,
  };
}

function controlCharacter(scalar: Scalar, text: string): StructureProblem | null {
  if (typeof scalar.value !== 'string') return null;
  const match = CONTROL.exec(scalar.value);
  if (!match) return null;
  return {
    offset: scalarCharOffset(scalar, text, match.index),
    message: `${describeCharacter(match[0])} is in this value: no name, URI or address passthru reads may hold one`,
    hint: 'remove it (a value that must span lines cannot be used here)',
    fatal: true,
  };
}

function start(node: Node): number {
  return node.range?.[0] ?? 0;
}

/**
 * The offset in `text` of character `index` of a scalar's value, when the scalar is written on one line without
 * escapes (the value then appears verbatim); else the scalar's first character, which is still the right line.
 */
export function scalarCharOffset(scalar: Scalar, text: string, index: number): number {
  const begin = start(scalar);
  const value = scalar.value;
  if (typeof value !== 'string') return begin;
  const quote = scalar.type === 'QUOTE_DOUBLE' ? '"' : scalar.type === 'QUOTE_SINGLE' ? "'" : scalar.type === 'PLAIN' ? '' : null;
  if (quote === null) return begin;
  const body = begin + quote.length;
  const verbatim = text.startsWith(value, body) && (quote === '' || text[body + value.length] === quote);
  return verbatim ? body + index : begin;
}
