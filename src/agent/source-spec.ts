/**
 * `--source SRC` (SPEC 9): a local file, or a file in a git repository written `git+URL#REF:PATH`
 * (`git+file:///srv/infra.git#main:hv1/passthrough.yaml`). Parsed purely and strictly at start, so that a typo is a
 * positioned error (`--source:1:COL: ...`, exit 1) and never a git command: the URL and REF end up as git
 * arguments, and a value starting with `-` would be read as an option.
 */
import { InputError } from '../errors.js';

/** Where the desired state comes from. */
export type SourceSpec =
  | { kind: 'file'; path: string }
  | {
      kind: 'git';
      /** What git fetches from: `file:///srv/infra.git`, `ssh://git@host/infra.git`, `git@host:infra.git`, `/srv/infra.git`. */
      url: string;
      /** A branch, tag or full ref name (`main`, `v1.2`, `refs/heads/main`). */
      ref: string;
      /** The file inside the commit, relative to the repository root, `/`-separated. */
      path: string;
    };

/** The pseudo-file positioned errors about `--source` name. */
const FLAG = '--source';

/** Transports a git source may use. Others (`ext::`, `fd::`) run commands or are not meant for fetching a file. */
const SCHEMES = ['file', 'ssh', 'git', 'http', 'https'];

const EXAMPLE = 'write git+URL#REF:PATH, e.g. git+file:///srv/infra.git#main:hv1/passthrough.yaml';

function fail(col: number, message: string, hint = EXAMPLE): never {
  throw new InputError([{ file: FLAG, line: 1, col, message, hint }]);
}

/** Parses `--source`. Throws an InputError positioned at the offending column. */
export function parseSourceSpec(text: string): SourceSpec {
  if (text === '') fail(1, 'the source is empty', 'pass a file (./passthrough.yaml) or a git source git+URL#REF:PATH');
  if (!text.startsWith('git+')) return { kind: 'file', path: text };
  const hash = text.indexOf('#');
  if (hash < 0) fail(text.length + 1, `a git source needs "#REF:PATH" after the URL`);
  const url = text.slice(4, hash);
  checkUrl(url, 5);
  const rest = text.slice(hash + 1);
  const colon = rest.indexOf(':');
  if (colon < 0) fail(text.length + 1, `a git source needs ":PATH" after the ref "${rest}"`);
  const ref = rest.slice(0, colon);
  checkRef(ref, hash + 2);
  const file = rest.slice(colon + 1);
  checkPath(file, hash + 2 + colon + 1);
  return { kind: 'git', url, ref, path: file };
}

function checkUrl(url: string, col: number): void {
  if (url === '') fail(col, 'the git URL is empty');
  if (url.startsWith('-')) fail(col, `the git URL "${url}" starts with "-"`);
  if (/[\s\0]/.test(url)) fail(col + url.search(/[\s\0]/), 'the git URL contains white space or a control character');
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (scheme) {
    if (!SCHEMES.includes((scheme[1] ?? '').toLowerCase())) {
      fail(col, `unsupported git transport "${scheme[1]}://"`, `use one of ${SCHEMES.map((s) => `${s}://`).join(', ')}`);
    }
    if (url.length === scheme[0].length) fail(col + url.length, 'the git URL has nothing after the scheme');
    return;
  }
  if (url.includes('::')) fail(col, `unsupported git transport in "${url}"`, `use one of ${SCHEMES.map((s) => `${s}://`).join(', ')}`);
  // An absolute path, or scp-like `[user@]host:path` (git's own short form for ssh).
  if (url.startsWith('/') || /^[^/:]+:./.test(url)) return;
  fail(col, `"${url}" is not a git URL`, 'use file:///path, ssh://user@host/path, user@host:path or an absolute path');
}

/** git check-ref-format's rules, enough to refuse what git would refuse or misread. */
function checkRef(ref: string, col: number): void {
  const bad = (offset: number, why: string): never => fail(col + offset, `the ref "${ref}" ${why}`, 'name a branch, tag or ref: main, v1.2, refs/heads/main');
  if (ref === '') bad(0, 'is empty');
  if (ref.startsWith('-')) bad(0, 'starts with "-"');
  // eslint-disable-next-line no-control-regex -- git refuses control characters in refs: so does this check
  const forbidden = /[\s\0-\x1f\x7f~^:?*[\\]|\.\.|@\{|\/\/|^\/|^\.|\/\./.exec(ref);
  // eslint-disable-next-line no-control-regex -- shown as "?" rather than printed raw
  if (forbidden) bad(forbidden.index, `contains "${forbidden[0].replace(/[\0-\x1f\x7f]/, '?')}", which git does not allow in a ref`);
  if (ref.endsWith('/') || ref.endsWith('.') || ref.endsWith('.lock') || ref === '@') bad(ref.length - 1, 'has an ending git does not allow in a ref');
}

function checkPath(file: string, col: number): void {
  const hint = 'give the file relative to the repository root, e.g. hv1/passthrough.yaml';
  if (file === '') fail(col, 'the path in the repository is empty', hint);
  if (file.startsWith('/')) fail(col, `the path "${file}" is absolute`, hint);
  if (file.includes('\0')) fail(col + file.indexOf('\0'), 'the path contains a NUL byte', hint);
  let offset = 0;
  for (const segment of file.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') fail(col + offset, `the path "${file}" has an empty, "." or ".." part`, hint);
    offset += segment.length + 1;
  }
}

/**
 * The source as it is shown in status.json and logs: the text given, with any password in the URL (`https://user:
 * TOKEN@host/...`) replaced by `***`, since status files are world-readable.
 */
export function describeSource(spec: SourceSpec): string {
  if (spec.kind === 'file') return spec.path;
  return `git+${redactUrl(spec.url)}#${spec.ref}:${spec.path}`;
}

/** A URL with the password of its user info hidden. */
export function redactUrl(url: string): string {
  return url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/, '$1:***@');
}
