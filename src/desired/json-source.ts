/**
 * The JSON side of loading (saved plans): parsing with every error positioned as `file:line:col`, and finding
 * where the value a path points at was written — what source.ts does for YAML. `JSON.parse` does the parsing; a
 * small scanner finds what it does not say: where a syntax error is (its messages give an offset or nothing), keys
 * written twice (JSON.parse keeps the last silently, while a reviewer reads the first), and positions.
 */
import { InputError } from '../errors.js';
import type { SourcePos } from '../model/desired.js';
import type { PathSegment } from './source.js';

/** Deeper than any file passthru writes by far; the scanner recurses once per level. */
const MAX_DEPTH = 100;

/** Characters a string holds as themselves: skipped in one step, since snapshots hold long XML strings. */
// eslint-disable-next-line no-control-regex -- control characters end the run: they are errors in a JSON string
const PLAIN_RUN = /[^"\\\u0000-\u001f]*/y;

/** A problem at an offset of the text. */
interface Fault {
  offset: number;
  message: string;
}

/**
 * A JSON pointer (`/vms/a~1b/devices/0`, as ajv's instancePath) as a path into `value`: list indexes become
 * numbers, so that paths print as `devices[0]`.
 */
export function pointerPath(value: unknown, pointer: string): PathSegment[] {
  const path: PathSegment[] = [];
  let current = value;
  for (const raw of pointer.split('/').slice(1)) {
    const segment = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      path.push(Number(segment));
      current = current[Number(segment)];
    } else {
      path.push(segment);
      current = typeof current === 'object' && current !== null ? (current as Record<string, unknown>)[segment] : undefined;
    }
  }
  return path;
}

/** `file:line:col` of an offset. */
export function jsonPosition(text: string, file: string, offset: number): SourcePos {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { file, line, col: offset - lineStart + 1 };
}

/**
 * The value of a JSON text. Throws an InputError positioned at the fault when it is not JSON, nests deeper than
 * 100 levels, or writes a key twice in one object; `hint` says how to get a good file.
 */
export function parseJsonText(text: string, file: string, hint: string): unknown {
  let value: unknown;
  let parseError: string | null = null;
  try {
    value = JSON.parse(text);
  } catch (error) {
    parseError = error instanceof Error ? error.message : String(error);
  }
  const fault = scanJson(text) ?? (parseError === null ? null : { offset: 0, message: `not JSON: ${parseError}` });
  if (fault) throw new InputError([{ ...jsonPosition(text, file, fault.offset), message: fault.message, hint }]);
  return value;
}

/** The first fault of `text` as JSON, or null. */
function scanJson(text: string): Fault | null {
  const scanner = new Scanner(text);
  try {
    scanner.value(0);
    scanner.skipSpace();
    if (scanner.i < text.length) scanner.fail('not JSON: unexpected text after the end of the value');
    return null;
  } catch (error) {
    if (error instanceof ScanFault) return error.fault;
    throw error;
  }
}

/**
 * Where the value at `path` starts in `text` (valid JSON): its first character, or that of the deepest value of
 * the path that exists.
 */
export function locateJson(text: string, file: string, path: readonly PathSegment[]): SourcePos {
  const scanner = new Scanner(text);
  scanner.skipSpace();
  for (const segment of path) {
    const start = scanner.i;
    if (!scanner.enter(segment)) {
      scanner.i = start;
      break;
    }
  }
  return jsonPosition(text, file, scanner.i);
}

class ScanFault extends Error {
  constructor(readonly fault: Fault) {
    super(fault.message);
  }
}

class Scanner {
  i = 0;
  constructor(readonly text: string) {}

  fail(message: string, offset = this.i): never {
    throw new ScanFault({ offset, message });
  }

  skipSpace(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i] as string)) this.i++;
  }

  /** Scans one value from `i` (after spaces), checking it; leaves `i` after it. */
  value(depth: number): void {
    this.skipSpace();
    const ch = this.text[this.i];
    if (ch === '{' || ch === '[') {
      if (depth >= MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
      if (ch === '{') this.object(depth);
      else this.array(depth);
    } else if (ch === '"') {
      this.string();
    } else if (ch === '-' || (ch !== undefined && ch >= '0' && ch <= '9')) {
      const match = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
      match.lastIndex = this.i;
      if (!match.test(this.text)) this.fail('not JSON: malformed number');
      this.i = match.lastIndex;
    } else {
      for (const literal of ['true', 'false', 'null']) {
        if (this.text.startsWith(literal, this.i)) {
          this.i += literal.length;
          return;
        }
      }
      this.fail(ch === undefined ? 'not JSON: the text ends where a value should be' : `not JSON: unexpected ${JSON.stringify(ch)}`);
    }
  }

  private object(depth: number): void {
    this.i++;
    const keys = new Map<string, number>();
    this.skipSpace();
    if (this.text[this.i] === '}') {
      this.i++;
      return;
    }
    for (;;) {
      this.skipSpace();
      if (this.text[this.i] !== '"') this.fail('not JSON: expected a key in double quotes');
      const keyStart = this.i;
      const key = this.string();
      const first = keys.get(key);
      if (first !== undefined) {
        const at = jsonPosition(this.text, '', first);
        this.fail(`key ${JSON.stringify(key)} is written twice in this object (first at ${at.line}:${at.col})`, keyStart);
      }
      keys.set(key, keyStart);
      this.expect(':');
      this.value(depth + 1);
      if (this.separator('}')) return;
    }
  }

  private array(depth: number): void {
    this.i++;
    this.skipSpace();
    if (this.text[this.i] === ']') {
      this.i++;
      return;
    }
    for (;;) {
      this.value(depth + 1);
      if (this.separator(']')) return;
    }
  }

  /** After a member: true at the closing bracket (consumed), false after a comma. */
  private separator(close: string): boolean {
    this.skipSpace();
    const ch = this.text[this.i];
    this.i++;
    if (ch === close) return true;
    if (ch !== ',') this.fail(`not JSON: expected "," or "${close}"`, this.i - 1);
    return false;
  }

  private expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.i] !== ch) this.fail(`not JSON: expected "${ch}"`);
    this.i++;
  }

  /** Scans a string from its opening quote and returns its value. */
  private string(): string {
    const start = this.i;
    this.i++;
    let escaped = false;
    for (; this.i < this.text.length; this.i++) {
      PLAIN_RUN.lastIndex = this.i;
      PLAIN_RUN.test(this.text);
      this.i = PLAIN_RUN.lastIndex;
      const code = this.text.charCodeAt(this.i);
      if (code < 0x20) this.fail('not JSON: a control character in a string must be escaped');
      if (code === 0x5c) {
        escaped = true;
        const next = this.text[this.i + 1] ?? '';
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(this.text.slice(this.i + 2, this.i + 6))) this.fail('not JSON: malformed \\u escape');
          this.i += 5;
        } else if ('"\\/bfnrt'.includes(next) && next !== '') {
          this.i++;
        } else {
          this.fail('not JSON: unknown escape in a string');
        }
      } else if (code === 0x22) {
        this.i++;
        const raw = this.text.slice(start, this.i);
        return escaped ? (JSON.parse(raw) as string) : raw.slice(1, -1);
      }
    }
    return this.fail('not JSON: this string has no closing quote', start);
  }

  /** Moves `i` from a container to the start of its member `segment`; false when there is none. */
  enter(segment: PathSegment): boolean {
    const ch = this.text[this.i];
    if (ch === '{' && typeof segment === 'string') {
      this.i++;
      for (;;) {
        this.skipSpace();
        if (this.text[this.i] !== '"') return false;
        const key = this.string();
        this.expect(':');
        this.skipSpace();
        if (key === segment) return true;
        this.value(0);
        if (this.separator('}')) return false;
      }
    }
    if (ch === '[' && typeof segment === 'number') {
      this.i++;
      for (let index = 0; ; index++) {
        this.skipSpace();
        if (this.text[this.i] === ']') return false;
        if (index === segment) return true;
        this.value(0);
        if (this.separator(']')) return false;
      }
    }
    return false;
  }
}
