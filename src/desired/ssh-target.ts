/**
 * Where a `qemu+ssh://` URI's host is reached by ssh (SPEC 12): the URI's user, host, port and `keyfile`, the way
 * libvirt's ssh transport uses them. Pure: io/ssh.ts turns a target into an `ssh` argv.
 *
 * Only a URI that checkLibvirtUri accepts is read, and a part that ssh would take for an option (a host or user
 * starting with "-") or that holds a control character or whitespace is refused, so that nothing from a file can
 * become an ssh option. The libssh/libssh2 transports reach the same sshd and keys, so they count as ssh too; tls,
 * tcp, unix and ext give no shell and are not ssh targets.
 */
import { checkLibvirtUri } from './uri.js';

/** The transports whose host answers an OpenSSH client. */
const SSH_TRANSPORTS = new Set(['ssh', 'libssh', 'libssh2']);

/** One host as ssh reaches it. */
export interface SshTarget {
  /** Host name or address, IPv6 without brackets (a zone as `%eth0`). */
  host: string;
  user: string | null;
  port: number | null;
  /** The private key (`?keyfile=`), as the URI gives it. */
  keyfile: string | null;
}

/** A URI's ssh target, or why it has none: `not-ssh` (another transport, a local URI, an alias) or `refused`. */
export type SshTargetResult = { ok: true; target: SshTarget } | { ok: false; kind: 'not-ssh' | 'refused'; reason: string };

/** Characters ssh or a shell on the way could read as something other than a name. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const UNSAFE = /[\s\x00-\x1f\x7f]/;

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The ssh target of `uri`; see the file comment. */
export function sshTargetOf(uri: string): SshTargetResult {
  const fault = checkLibvirtUri(uri);
  if (fault) return { ok: false, kind: 'refused', reason: `it is not a libvirt URI: ${fault.reason}` };
  const m = /^[A-Za-z][A-Za-z0-9]*\+([A-Za-z0-9]+):\/\/([^/?#]*)[^?#]*(?:\?([^#]*))?$/.exec(uri);
  if (!m || !SSH_TRANSPORTS.has((m[1] ?? '').toLowerCase())) return { ok: false, kind: 'not-ssh', reason: 'its transport is not ssh' };
  const authority = m[2] ?? '';
  const at = authority.lastIndexOf('@');
  const userText = at < 0 ? null : authority.slice(0, at);
  const hostPort = authority.slice(at + 1);
  const hp = /^(\[[^\]]*\]|[^:]*)(?::(\d+))?$/.exec(hostPort);
  const hostText = hp?.[1] ?? '';
  if (hostText === '') return { ok: false, kind: 'not-ssh', reason: 'it names no host' };
  const host = decode(hostText.startsWith('[') ? hostText.slice(1, -1) : hostText);
  const user = userText === null ? null : decode(userText);
  let keyfile: string | null = null;
  for (const pair of (m[3] ?? '').split(/[&;]/)) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq) === 'keyfile') keyfile = decode(pair.slice(eq + 1).replace(/\+/g, ' '));
  }
  const refuse = (what: string, why: string): SshTargetResult => ({ ok: false, kind: 'refused', reason: `its ${what} ${why}` });
  for (const [what, value] of [['host', host], ['user', user], ['keyfile', keyfile]] as const) {
    if (value === null) {
      if (what === 'host' || (what === 'user' && userText !== null) || (what === 'keyfile' && /(^|[&;])keyfile=/.test(m[3] ?? ''))) {
        return refuse(what, 'has a bad %-escape');
      }
      continue;
    }
    if (value === '') return refuse(what, 'is empty');
    if (value.startsWith('-')) return refuse(what, 'starts with "-", which ssh would read as an option');
    if (UNSAFE.test(value)) return refuse(what, 'holds whitespace or a control character');
  }
  return { ok: true, target: { host: host as string, user, port: hp?.[2] === undefined ? null : Number(hp[2]), keyfile } };
}
