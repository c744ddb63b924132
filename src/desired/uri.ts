/**
 * libvirt connection URIs: what libvirt accepts (so that a `uri` from a file or `-c` cannot smuggle anything else
 * into a virsh argument or a generated script), and what a URI says about where the host is.
 *
 * The grammar is RFC 3986 narrowed to what libvirt URIs use (https://libvirt.org/uri.html):
 * `driver[+transport]://[user@][host][:port][/path][?name=value&...]`, or a libvirt.conf alias (letters, digits,
 * `_` and `-`). RFC 3986 also allows the sub-delimiters `! $ ' ( ) *` and `;` in a path; no libvirt URI needs
 * them unescaped and they mean something to a shell, so they must be percent-encoded, as must anything else
 * (spaces, quotes, backslashes, non-ASCII). `;` is kept in the query, where libvirt reads it like `&`.
 */
import { describeCharacter } from './show.js';

/** The remote driver's transports (`qemu+ssh://`); libvirt refuses any other. */
const TRANSPORTS = new Set(['tls', 'tcp', 'unix', 'ssh', 'libssh', 'libssh2', 'ext']);

const ALIAS = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
const UNRESERVED = /[A-Za-z0-9._~-]/;
/** Beyond unreserved characters and %XX: the characters each part may hold unescaped. */
const ALSO_ALLOWED = { user: '', host: '', path: '/:@+,=', query: '/:@+,=&;?' } as const;
type Part = keyof typeof ALSO_ALLOWED;

/** Why a string is not a libvirt URI: `index` is the character at fault (0-based), `reason` says what is wrong. */
export interface UriFault {
  index: number;
  reason: string;
}

/** The parts of a URI (not an alias) that passthru reads. */
interface UriParts {
  /** `''` for a local URI; an IPv6 literal keeps its brackets. */
  host: string;
}

/** Null when `uri` is a libvirt URI or alias; else the first fault. */
export function checkLibvirtUri(uri: string): UriFault | null {
  const parsed = parseUri(uri);
  return 'reason' in parsed ? parsed : null;
}

function parseUri(uri: string): UriParts | UriFault | { alias: true } {
  if (uri === '') return { index: 0, reason: 'it is empty' };
  const schemeEnd = uri.indexOf('://');
  if (schemeEnd < 0) {
    if (ALIAS.test(uri)) return { alias: true };
    if (uri.startsWith('-')) return { index: 0, reason: 'it starts with "-", which virsh and shells read as an option' };
    const bad = [...uri].findIndex((ch) => !/[A-Za-z0-9_-]/.test(ch));
    return {
      index: utf16Index(uri, bad),
      reason: `it has no "://" and ${describeCharacter([...uri][bad] ?? '')} cannot be in a libvirt.conf alias`,
    };
  }
  const scheme = checkScheme(uri.slice(0, schemeEnd));
  if (scheme) return scheme;
  let i = schemeEnd + 3;
  const authorityEnd = firstOf(uri, '/?#', i);
  const authority = checkAuthority(uri, i, authorityEnd);
  if ('reason' in authority) return authority;
  i = authorityEnd;
  const pathEnd = firstOf(uri, '?#', i);
  const pathFault = checkChars(uri, i, pathEnd, 'path');
  if (pathFault) return pathFault;
  i = pathEnd;
  if (uri[i] === '?') {
    const queryEnd = firstOf(uri, '#', i + 1);
    const queryFault = checkChars(uri, i + 1, queryEnd, 'query');
    if (queryFault) return queryFault;
    i = queryEnd;
  }
  if (i < uri.length) return { index: i, reason: '"#" (a fragment) has no meaning in a libvirt URI' };
  return authority;
}

function checkScheme(scheme: string): UriFault | null {
  const match = /^([A-Za-z][A-Za-z0-9]*)(?:\+([A-Za-z0-9]+))?$/.exec(scheme);
  if (!match) {
    const bad = scheme === '' ? 0 : [...scheme].findIndex((ch, k) => !(k === 0 ? /[A-Za-z]/ : /[A-Za-z0-9+]/).test(ch));
    return {
      index: Math.max(0, utf16Index(scheme, bad)),
      reason: 'the part before "://" must be a driver name such as qemu or test, optionally with +transport',
    };
  }
  const transport = match[2];
  if (transport !== undefined && !TRANSPORTS.has(transport.toLowerCase())) {
    return {
      index: (match[1] ?? '').length + 1,
      reason: `"${transport}" is not a libvirt transport (${[...TRANSPORTS].join(', ')})`,
    };
  }
  return null;
}

function checkAuthority(uri: string, start: number, end: number): UriParts | UriFault {
  const at = uri.lastIndexOf('@', end - 1);
  let hostStart = start;
  if (at >= start) {
    const userFault = checkChars(uri, start, at, 'user');
    if (userFault) return userFault;
    if (at === start) return { index: at, reason: 'the user name before "@" is empty' };
    hostStart = at + 1;
  }
  let hostEnd: number;
  if (uri[hostStart] === '[') {
    const close = uri.indexOf(']', hostStart);
    if (close < 0 || close >= end) return { index: hostStart, reason: 'the IPv6 address in "[" has no closing "]"' };
    const literal = uri.slice(hostStart + 1, close);
    if (!/^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(%25[A-Za-z0-9._~-]+)?$/.test(literal)) {
      return { index: hostStart + 1, reason: 'the part in "[...]" is not an IPv6 address (a zone is written %25, e.g. [fe80::1%25eth0])' };
    }
    hostEnd = close + 1;
  } else {
    const colon = uri.indexOf(':', hostStart);
    hostEnd = colon >= 0 && colon < end ? colon : end;
    const hostFault = checkChars(uri, hostStart, hostEnd, 'host');
    if (hostFault) return hostFault;
  }
  if (hostEnd < end) {
    if (uri[hostEnd] !== ':') return { index: hostEnd, reason: `${describeCharacter(uri[hostEnd] ?? '')} cannot follow the host` };
    const port = uri.slice(hostEnd + 1, end);
    if (!/^[0-9]{1,5}$/.test(port) || Number(port) > 65535 || Number(port) === 0) {
      return { index: hostEnd + 1, reason: 'the port after ":" must be a number from 1 to 65535' };
    }
  }
  return { host: uri.slice(hostStart, hostEnd) };
}

function checkChars(uri: string, start: number, end: number, part: Part): UriFault | null {
  for (let i = start; i < end; i++) {
    const ch = uri[i] as string;
    if (ch === '%') {
      const hex = uri.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { index: i, reason: '"%" must start an escape of two hex digits, such as %20' };
      const code = parseInt(hex, 16);
      if (code < 0x20 || code === 0x7f) return { index: i, reason: `%${hex} encodes a control character` };
      i += 2;
    } else if (!UNRESERVED.test(ch) && !ALSO_ALLOWED[part].includes(ch)) {
      const where = { user: 'the user name', host: 'the host name', path: 'the path', query: 'the query' }[part];
      return { index: i, reason: `${describeCharacter(ch)} is not allowed in ${where}` };
    }
  }
  return null;
}

function firstOf(text: string, chars: string, from: number): number {
  for (let i = from; i < text.length; i++) if (chars.includes(text[i] as string)) return i;
  return text.length;
}

// Faults found while iterating by code point are reported as UTF-16 indexes, like every other index here.
function utf16Index(text: string, codePointIndex: number): number {
  return [...text].slice(0, Math.max(0, codePointIndex)).join('').length;
}

/** How to write a libvirt URI, for the hint of every URI diagnostic. */
export const URI_HINT =
  'a libvirt URI is driver[+transport]://[user@][host][:port]/path[?name=value&...], e.g. qemu:///system or ' +
  'qemu+ssh://root@hv2/system?keyfile=/root/.ssh/id_ed25519; percent-encode any other character (%3B for ";")';

/**
 * True when the URI has no remote host part: `qemu:///system`, `qemu+unix:///system`, `test:///abs/node.xml`.
 * `qemu+ssh://root@hv2/system` and `qemu://hv2/system` are remote, and so is `qemu+tcp://localhost/system`: it
 * names a host, and SPEC 5 draws the line at the host part, not at what it resolves to. A libvirt.conf alias may
 * point anywhere, so it counts as remote: devices are then read through libvirt, which is right wherever the alias
 * leads.
 */
export function isLocalUri(uri: string): boolean {
  return remoteHostOf(uri) === '';
}

/** The host part of a URI (`hv2` for `qemu+ssh://root@hv2:22/system`), `''` for a local one, null for an alias. */
export function remoteHostOf(uri: string): string | null {
  const parsed = parseUri(uri);
  return 'host' in parsed ? parsed.host : null;
}
