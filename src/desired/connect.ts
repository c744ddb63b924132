/**
 * Which hosts of the desired state a command runs against (SPEC 4, 12): `--host NAME` (repeatable) keeps only those,
 * and `-c/--connect URI` points the one remaining host at another URI.
 */
import { InputError, UsageError } from '../errors.js';
import type { DesiredHost, DesiredState } from '../model/desired.js';
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

/** What the command line says about hosts: `--host` names (empty = all) and `-c URI` (or null). */
export interface HostSelection {
  hosts: readonly string[];
  connect: string | null;
}

/**
 * The state limited to the `--host` names, then (with `-c`) moved onto the URI. Throws a UsageError, before any
 * host is looked at, for a name the file does not declare and for `-c` while several hosts remain.
 */
export function selectHosts(state: DesiredState, selection: HostSelection): DesiredState {
  const limited = selection.hosts.length > 0 ? onlyHosts(state, selection.hosts) : state;
  return selection.connect === null ? limited : withConnectUri(limited, selection.connect);
}

/** The hosts named, with their VMs, release and protect entries; a name the file does not declare is an error. */
function onlyHosts(state: DesiredState, names: readonly string[]): DesiredState {
  const declared = state.hosts.map((h) => h.name);
  const unknown = names.filter((n) => !declared.includes(n));
  if (unknown.length > 0) {
    throw new UsageError(
      `--host ${unknown.map((n) => JSON.stringify(n)).join(', ')}: ${state.file} declares no such host (it declares: ${declared.join(', ')})`,
      { hint: `use one of: ${declared.map((n) => `--host ${n}`).join(', ')}` },
    );
  }
  const keep = (entry: { host: string }) => names.includes(entry.host);
  return {
    ...state,
    hosts: state.hosts.filter((h) => names.includes(h.name)),
    vms: state.vms.filter(keep),
    release: state.release.filter(keep),
    protect: state.protect.filter(keep),
    ...(state.sriov ? { sriov: state.sriov.filter(keep) } : {}),
  };
}

/**
 * The state of its ONE host, with that host at `uri`. A state of several hosts is refused (UsageError): every VM
 * would land on one machine, and a plan there would prune the VMs that belong to the others; `--host` picks one.
 *
 * Naming: the host name the file chose is kept (plan output and journals then read the same with and without
 * `-c`), except for the implicit `local` host of a file that declares none (a file declaring just `local: { uri:
 * qemu:///system }` cannot be told apart from it): then the name comes from the URI — `local` for a local URI, else
 * its host part (`hv2` for `qemu+ssh://root@hv2/system`), or the URI itself when it has none (a libvirt.conf alias).
 */
export function withConnectUri(state: DesiredState, uri: string): DesiredState {
  checkConnectUri(uri);
  if (state.hosts.length > 1) {
    const names = state.hosts.map((h) => h.name);
    throw new UsageError(`-c ${uri} is for one host, and this run has ${names.length} from ${state.file}: ${names.join(', ')}`, {
      hint: `pick the one at that URI with --host NAME, e.g. -c ${uri} --host ${names[0] ?? 'NAME'}`,
    });
  }
  const only = state.hosts[0];
  const keepName = only !== undefined && !(only.name === DEFAULT_HOST.name && only.uri === DEFAULT_HOST.uri);
  const local = isLocalUri(uri);
  const name = keepName ? only.name : local ? DEFAULT_HOST.name : remoteHostOf(uri) || uri;
  const host: DesiredHost = { name, uri, local };
  return {
    file: state.file,
    hosts: [host],
    vms: state.vms.map((vm) => ({ ...vm, host: name })),
    release: state.release.map((entry) => ({ ...entry, host: name })),
    protect: state.protect.map((entry) => ({ ...entry, host: name })),
    ...(state.sriov ? { sriov: state.sriov.map((entry) => ({ ...entry, host: name })) } : {}),
  };
}
