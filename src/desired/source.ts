/**
 * The YAML side of loading: parsing with positions kept, and finding the node a JSON path points at, so that every
 * diagnostic can name `file:line:col` of the key or value it is about rather than "somewhere in the file".
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, visit } from 'yaml';
import type { Document, Node, Scalar, YAMLError } from 'yaml';
import type { InputDiagnostic } from '../errors.js';
import type { SourcePos } from '../model/desired.js';

/** One step of a path into the document: a mapping key or a list index. */
export type PathSegment = string | number;

const PLAIN_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** A path as the user would say it: `vms.rhel7.3.devices[0]`, `vms["my vm"].live`. */
export function describePath(path: readonly PathSegment[]): string {
  if (path.length === 0) return 'the top level';
  return path
    .map((segment, i) => {
      if (typeof segment === 'number') return `[${segment}]`;
      if (!PLAIN_NAME.test(segment)) return `[${JSON.stringify(segment)}]`;
      return i === 0 ? segment : `.${segment}`;
    })
    .join('');
}

/** Whether a diagnostic is about a mapping key itself (unknown key) or about the value under it (wrong value). */
export type Target = 'key' | 'value';

/** A parsed file: the document with node ranges, and what turns those ranges into line:col. */
export interface YamlSource {
  file: string;
  doc: Document.Parsed;
  lines: LineCounter;
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
 * checked); any other syntax error is. Scalar keys keep their text as written, so a domain named `1.10` or `true`
 * stays that string instead of becoming a number or boolean.
 */
export function parseYaml(text: string, file: string): ParsedYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const source: YamlSource = { file, doc, lines };
  keepWrittenText(doc);
  const diagnostics = doc.errors.map((error) => syntaxDiagnostic(source, text, error));
  if (doc.errors.some((error) => error.code !== 'DUPLICATE_KEY')) {
    return { source, value: undefined, diagnostics, fatal: true };
  }
  try {
    return { source, value: doc.toJS(), diagnostics, fatal: false };
  } catch (error) {
    // toJS refuses alias bombs (an alias expanding to more than 100 nodes) instead of exhausting memory.
    const reason = error instanceof Error ? error.message : String(error);
    diagnostics.push({
      ...positionAt(source, firstContentOffset(source)),
      message: `the YAML cannot be read: ${reason}`,
      hint: 'write the values out instead of using anchors and aliases',
    });
    return { source, value: undefined, diagnostics, fatal: true };
  }
}

// `lspci -n` prints IDs bare, so users paste `vendor: 8086`, which YAML reads as the number 8086 (and `0x10de` as
// 4318): the digits as written are what they meant.
const WRITTEN_AS_TEXT = new Set(['vendor', 'product']);

function keepWrittenText(doc: Document.Parsed): void {
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && typeof pair.key.value !== 'string' && pair.key.source !== undefined) {
        pair.key.value = pair.key.source;
      }
      const key = isScalar(pair.key) ? pair.key.value : null;
      if (typeof key === 'string' && WRITTEN_AS_TEXT.has(key) && isScalar(pair.value)) {
        const value = pair.value;
        if (typeof value.value === 'number' && value.source !== undefined) value.value = value.source;
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
      // The last of duplicate keys, because that is the value toJS keeps and the schema saw.
      const pair = [...node.items].reverse().find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
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

/**
 * Where a diagnostic about `path` should point: at the mapping key of its last step for `key` (or at the list item
 * when the step is an index), at its value for `value`. An empty value (`live:` with nothing after it) points at
 * its key, which is where the user has to type.
 */
export function locate(source: YamlSource, path: readonly PathSegment[], target: Target): SourcePos {
  const { node, key } = resolve(source, path);
  const emptyValue = isScalar(node) && node.value === null && !node.source;
  const chosen = (target === 'key' || emptyValue) && key ? key : node;
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
    case 'DUPLICATE_KEY': {
      const first = firstOccurrence(source, offset);
      message = first
        ? `duplicate key "${first.name}" (first written at ${first.pos.line}:${first.pos.col})`
        : 'duplicate key';
      hint = 'YAML keeps only one of the values: remove the other key';
      break;
    }
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

function firstOccurrence(source: YamlSource, offset: number): { name: string; pos: SourcePos } | null {
  let result: { name: string; pos: SourcePos } | null = null;
  visit(source.doc, {
    Map(_, map) {
      const duplicate = map.items.find((p) => p.key && (p.key as Node).range?.[0] === offset);
      if (!duplicate || !isScalar(duplicate.key)) return;
      const name = String(duplicate.key.value);
      const first = map.items.find((p) => isScalar(p.key) && String(p.key.value) === name);
      const firstOffset = (first?.key as Node | undefined)?.range?.[0] ?? offset;
      result = { name, pos: positionAt(source, firstOffset) };
      return visit.BREAK;
    },
  });
  return result;
}
