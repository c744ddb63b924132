/**
 * The YAML side of loading: parsing with positions kept, and finding the node a JSON path points at, so that every
 * diagnostic can name `file:line:col` of the key or value it is about rather than "somewhere in the file".
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, visit } from 'yaml';
import type { Document, Node, Pair, YAMLError, YAMLMap } from 'yaml';
import type { InputDiagnostic } from '../errors.js';
import type { SourcePos } from '../model/desired.js';
import { showString } from './show.js';
import { scalarCharOffset, structureProblems } from './yaml-structure.js';

/** One step of a path into the document: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A path as the user would say it: `vms.rhel7.3.devices[0]`, `vms["my vm"].live`. */
export function describePath(path: readonly PathSegment[]): string {
  if (path.length === 0) return 'the top level';
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (!PLAIN_NAME.test(segment)) return `[${showString(segment)}]`;
      return i === 0 ? segment : `.${segment}`;
    })
    .join('');
}

/** Whether a diagnostic is about a mapping key itself (unknown key) or about the value under it (wrong value). */
export type Target = 'key' | 'value';

/** A parsed file: the document with node ranges, the text they index, and what turns them into line:col. */
export interface YamlSource {
  file: string;
  text: string;
  doc: Document.Parsed;
  lines: LineCounter;
  /** Each mapping's pairs by key, built on first lookup: finding a key stays O(1) however many VMs a file has. */
  pairsByKey: WeakMap<YAMLMap, Map<string, Pair>>;
}

/** The outcome of parsing: `value` is the plain data to validate, unusable when `fatal` is true. */
export interface ParsedYaml {
  source: YamlSource;
  value: unknown;
  diagnostics: InputDiagnostic[];
  /** The syntax was too broken for the data to mean what the user wrote; report `diagnostics` and stop. */
  fatal: boolean;
}

/**
 * Parses `text` keeping node ranges. Duplicate keys are reported but are not fatal (the rest of the file is still
 * checked); any other syntax or structure error is (see yaml-structure.ts). Scalar keys keep their text as
 * written, so a domain named `1.10` or `true` stays that string instead of becoming a number or boolean.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  // Keys are compared by structureProblems, on the text passthru reads, not by yaml on the values it resolved.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false });
  const source: YamlSource = { file, text, doc, lines, pairsByKey: new WeakMap() };
  const diagnostics = doc.errors.map((error) => syntaxDiagnostic(source, text, error));
  diagnostics.push(...directiveDiagnostics(source));
  if (diagnostics.length > 0) return { source, value: undefined, diagnostics, fatal: true };
  keepWrittenText(doc);
  const at = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return `${line}:${col}`;
  };
  const problems = structureProblems(doc, text, at);
  for (const p of problems) diagnostics.push({ ...positionAt(source, p.offset), message: p.message, hint: p.hint });
  if (problems.some((p) => p.fatal)) return { source, value: undefined, diagnostics, fatal: true };
  try {
    return { source, value: doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }), diagnostics, fatal: false };
  } catch (error) {
    // toJS refuses alias bombs (aliases expanding to more than MAX_ALIAS_COUNT nodes) instead of exhausting memory.
    const reason = error instanceof Error ? error.message : String(error);
    diagnostics.push({
      ...positionAt(source, firstContentOffset(source)),
      message: `the YAML cannot be read: ${reason}`,
      hint: 'write the values out instead of using anchors and aliases',
    });
    return { source, value: undefined, diagnostics, fatal: true };
  }
}

/**
 * `%YAML 1.1` switches the parser to YAML 1.1, where `yes` is true and an unquoted 0000:07:00.0 the number 420 (in
 * base 60): the file would mean something else than it does to every YAML 1.2 tool. Unknown directives are
 * refused too, rather than ignored.
 */
function directiveDiagnostics(source: YamlSource): InputDiagnostic[] {
  const found = source.doc.warnings
    .filter((warning) => warning.code === 'BAD_DIRECTIVE')
    .map((warning) => ({
      ...positionAt(source, warning.pos[0]),
      message: `YAML directive not understood: ${warning.message}`,
      hint: 'remove the line starting with %: passthrough.yaml needs no directive',
    }));
  const { explicit, version } = source.doc.directives?.yaml ?? { explicit: false, version: '1.2' };
  if (explicit && version !== '1.2') {
    found.push({
      ...positionAt(source, Math.max(0, source.text.indexOf('%YAML'))),
      message: `%YAML ${version}: passthru reads YAML 1.2 only (in YAML 1.1, yes is true and 07:00 is a number)`,
      hint: 'remove the %YAML line',
    });
  }
  return found;
}

/** How many nodes aliases may expand to in all: a file of a few hundred VMs needs none, an alias bomb millions. */
const MAX_ALIAS_COUNT = 100;

// `lspci -n` prints IDs bare, so users paste `vendor: 8086`, which YAML reads as the number 8086 (and `0x10de` as
// 4318): the digits as written are what they meant.
const WRITTEN_AS_TEXT = new Set(['vendor', 'product']);

function keepWrittenText(doc: Document.Parsed): void {
  visit(doc, {
    Pair(_, pair) {
      // (An empty key, `: value`, stays null: structureProblems refuses it.)
      if (isScalar(pair.key) && typeof pair.key.value !== 'string' && pair.key.source) {
        pair.key.value = pair.key.source;
      }
      const key = isScalar(pair.key) ? pair.key.value : null;
      if (typeof key !== 'string' || !WRITTEN_AS_TEXT.has(key)) return;
      // `vendor: *id` with `&id 8086` elsewhere: the alias stands for the digits written at the anchor. The anchor
      // itself may be a number that has to stay one (`count: &id 2`), so the alias is replaced by a copy.
      const target = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
      if (!isScalar(target) || typeof target.value !== 'number' || target.source === undefined) return;
      if (target === pair.value) {
        target.value = target.source;
      } else {
        const copy = new Scalar(target.source);
        copy.range = (pair.value as Node).range;
        pair.value = copy;
      }
    },
  });
}

/** `file:line:col` of a byte offset. */
function positionAt(source: YamlSource, offset: number): SourcePos {
  const { line, col } = source.lines.linePos(offset);
  return { file: source.file, line, col };
}

interface Resolved {
  /** The node at the end of the path, or the deepest node found when the path does not exist (null: empty file). */
  node: Node | null;
  /** The mapping key node of the last step when that step was a mapping key; null for a list item or the root. */
  key: Node | null;
  /** The whole path was found. */
  complete: boolean;
}

function resolve(source: YamlSource, path: readonly PathSegment[]): Resolved {
  let node: Node | null = source.doc.contents;
  let key: Node | null = null;
  for (const [i, segment] of path.entries()) {
    if (isAlias(node)) node = node.resolve(source.doc) ?? null;
    if (isMap(node)) {
      const pair = pairNamed(source, node, String(segment));
      if (!pair) return { node, key, complete: false };
      key = pair.key as Node;
      node = (pair.value as Node | null) ?? null;
      // `? key` with no value at all: the key is all there is to point at.
      if (node === null) return { node: key, key, complete: i === path.length - 1 };
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)] as Node | undefined;
      if (!item) return { node, key, complete: false };
      key = null;
      node = item;
    } else {
      return { node, key, complete: false };
    }
  }
  return { node, key, complete: true };
}

// The last of duplicate keys, because that is the value toJS keeps and the schema saw.
function pairNamed(source: YamlSource, map: YAMLMap, name: string): Pair | undefined {
  let pairs = source.pairsByKey.get(map);
  if (!pairs) {
    pairs = new Map();
    for (const pair of map.items as Pair[]) if (isScalar(pair.key)) pairs.set(String(pair.key.value), pair);
    source.pairsByKey.set(map, pairs);
  }
  return pairs.get(name);
}

/**
 * Where a diagnostic about `path` should point: at the mapping key of its last step for `key` (or at the list item
 * when the step is an index), at its value for `value`. An empty value (`live:` with nothing after it) points at
 * its key, which is where the user has to type. `charIndex` points at one character of a string value.
 */
export function locate(source: YamlSource, path: readonly PathSegment[], target: Target, charIndex?: number): SourcePos {
  const { node, key } = resolve(source, path);
  const emptyValue = isScalar(node) && node.value === null && !node.source;
  const chosen = (target === 'key' || emptyValue) && key ? key : node;
  if (charIndex !== undefined && target === 'value' && isScalar(chosen)) {
    return positionAt(source, scalarCharOffset(chosen, source.text, charIndex));
  }
  const offset = chosen?.range?.[0] ?? firstContentOffset(source);
  return positionAt(source, offset);
}

function firstContentOffset(source: YamlSource): number {
  return source.doc.contents?.range?.[0] ?? 0;
}

/** The keys of the mapping at `path` in the order written (a JS object would put `123` before `abc`). */
export function keysInOrder(source: YamlSource, path: readonly PathSegment[]): string[] {
  const { node, complete } = resolve(source, path);
  return complete && isMap(node) ? node.items.flatMap((p) => (isScalar(p.key) ? [String(p.key.value)] : [])) : [];
}

function syntaxDiagnostic(source: YamlSource, text: string, error: YAMLError): InputDiagnostic {
  let offset = error.pos[0];
  let message: string;
  let hint: string;
  switch (error.code) {
    case 'MISSING_CHAR': {
      const quoted = error.message.includes('quote') ? openQuoteAt(source, offset) : null;
      if (quoted) {
        offset = quoted.range?.[0] ?? offset;
        const mark = quoted.type === 'QUOTE_SINGLE' ? "'" : '"';
        message = `unclosed quote: the string that starts here has no closing ${mark}`;
        hint = `add the closing ${mark} at the end of the value`;
      } else {
        message = `YAML syntax error: ${error.message}`;
        hint = 'add the missing character';
      }
      break;
    }
    case 'BAD_INDENT':
      offset = skipSpaces(text, offset);
      message = 'bad indentation: this line does not line up with the keys before it';
      hint = 'indent keys of the same mapping by the same number of spaces';
      break;
    case 'TAB_AS_INDENT':
      message = 'a tab is used for indentation';
      hint = 'YAML indents with spaces only: replace the tab with spaces';
      break;
    case 'RESOURCE_EXHAUSTION':
      // Where the parser ran out of stack depends on the stack size: the line is what is stable.
      offset = text.lastIndexOf('\n', offset - 1) + 1;
      message = 'the YAML is nested too deeply to read';
      hint = 'passthrough.yaml needs a few levels of nesting: remove the extra brackets or indentation';
      break;
    case 'MULTIPLE_DOCS':
      message = 'more than one YAML document (---) in the file';
      hint = 'passthrough.yaml is one document: remove the second --- and merge what follows into the first';
      break;
    default:
      message = `YAML syntax error: ${error.message}`;
      hint = 'fix the YAML syntax here (a YAML linter or the editor schema can help)';
  }
  return { ...positionAt(source, offset), message, hint };
}

// yaml reports a missing closing quote at the end of the file; the opening quote is where the user must look.
function openQuoteAt(source: YamlSource, offset: number): Scalar | null {
  let found: Scalar | null = null;
  visit(source.doc, {
    Scalar(_, scalar) {
      const [start, end] = scalar.range ?? [-1, -1];
      if ((scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE') && start <= offset && offset <= end) {
        found = scalar;
      }
    },
  });
  return found;
}

// yaml reports bad indentation at the start of the line; the key after the spaces is what is misplaced.
function skipSpaces(text: string, offset: number): number {
  let i = offset;
  while (text[i] === ' ') i++;
  return i;
}
