/** `-c/--connect URI`: run the file against one host given on the command line instead of its `hosts` (SPEC 4). */
import { InputError } from '../errors.js';
import type { DesiredHost, DesiredState } from '../model/desired.js';
import { findConflicts } from './conflicts.js';
import { DEFAULT_HOST } from './normalise.js';
import { showString } from './show.js';
import { checkLibvirtUri, isLocalUri, remoteHostOf, URI_HINT } from './uri.js';

/** Where a `-c` URI's diagnostics point: the command line is one line, and the column is the URI's character. */
export const CONNECT_ARGUMENT = '-c';

/** Throws an InputError positioned at the faulty character (`-c:1:15: ...`) when `uri` is not a libvirt URI. */
export function checkConnectUri(uri: string): void {
  const fault = checkLibvirtUri(uri);
  if (!fault) return;
  throw new InputError([
    {
      file: CONNECT_ARGUMENT,
      line: 1,
      col: fault.index + 1,
      message: `${showString(uri)} is not a libvirt URI: ${fault.reason}`,
      hint: URI_HINT,
    },
  ]);
}

/**
 * The state with every VM, release and protect entry moved onto one host at `uri`.
 *
 * Naming: a host name the file chose is kept when the file declares exactly one host (plan output and journals
 * then read the same with and without `-c`). Otherwise the file has no single name to keep (several hosts, or only
 * the implicit `local`, which a file declaring just `local: { uri: qemu:///system }` cannot be told apart from),
 * and the name comes from the URI: `local` for a local URI, else its host part (`hv2` for
 * `qemu+ssh://root@hv2/system`), or the URI itself when it has none (a libvirt.conf alias).
 *
 * Entries of several hosts that are harmless apart may collide on one; throws an InputError naming each collision.
 * A `uri` that is not a libvirt URI is refused first (checkConnectUri).
 */
export function withConnectUri(state: DesiredState, uri: string): DesiredState {
  checkConnectUri(uri);
  const only = state.hosts.length === 1 ? state.hosts[0] : undefined;
  const keepName = only !== undefined && !(only.name === DEFAULT_HOST.name && only.uri === DEFAULT_HOST.uri);
  const local = isLocalUri(uri);
  const name = keepName ? only.name : local ? DEFAULT_HOST.name : remoteHostOf(uri) || uri;
  const host: DesiredHost = { name, uri, local };
  const merged: DesiredState = {
    file: state.file,
    hosts: [host],
    vms: state.vms.map((vm) => ({ ...vm, host: name })),
    release: state.release.map((entry) => ({ ...entry, host: name })),
    protect: state.protect.map((entry) => ({ ...entry, host: name })),
  };
  const conflicts = findConflicts(merged);
  if (conflicts.length > 0) {
    const why = `-c ${uri} puts the entries of every host on one host`;
    throw new InputError(conflicts.map((d) => ({ ...d, hint: d.hint ? `${d.hint} (${why})` : why })));
  }
  return merged;
}
