/** `-c/--connect URI`: run the file against one host given on the command line instead of its `hosts` (SPEC 4). */
import { InputError } from '../errors.js';
import type { DesiredHost, DesiredState } from '../model/desired.js';
import { findConflicts } from './conflicts.js';
import { DEFAULT_HOST } from './normalise.js';
import { isLocalUri, remoteHostOf } from './uri.js';

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
 */
export function withConnectUri(state: DesiredState, uri: string): DesiredState {
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
