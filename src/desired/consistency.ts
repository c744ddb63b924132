/**
 * Whether a `DesiredState` that did not come from `loadDesiredState` (the one embedded in a saved plan, or one an
 * integrator built) holds together the way a loaded one always does. The schema checks each value; this checks
 * what relates values: host names are unique and referenced ones exist, every URI is a libvirt URI and `local`
 * says what it says (getting that wrong would read this machine's devices for a remote host), no VM is listed
 * twice, and no device is claimed twice.
 */
import type { DesiredState } from '../model/desired.js';
import { findConflicts } from './conflicts.js';
import { showString } from './show.js';
import type { PathSegment } from './source.js';
import { checkLibvirtUri, isLocalUri } from './uri.js';

/** A problem with the value at `path` (a path into the DesiredState). */
export interface StateFault {
  path: PathSegment[];
  message: string;
}

/** The first inconsistency of `state`, or null. Values are assumed to have the DesiredState types. */
export function desiredStateFault(state: DesiredState): StateFault | null {
  const names = new Set<string>();
  for (const [i, host] of state.hosts.entries()) {
    if (names.has(host.name)) return { path: ['hosts', i, 'name'], message: `host ${showString(host.name)} is declared twice` };
    names.add(host.name);
    const fault = checkLibvirtUri(host.uri);
    if (fault) return { path: ['hosts', i, 'uri'], message: `${showString(host.uri)} is not a libvirt URI: ${fault.reason}` };
    if (host.local !== isLocalUri(host.uri)) {
      return {
        path: ['hosts', i, 'local'],
        message: `host ${host.name} is marked ${host.local ? 'local' : 'remote'}, but ${showString(host.uri)} is ${host.local ? 'remote' : 'local'}`,
      };
    }
  }
  const unknownHost = (list: 'vms' | 'release' | 'protect'): StateFault | null => {
    const i = state[list].findIndex((entry) => !names.has(entry.host));
    return i < 0 ? null : { path: [list, i, 'host'], message: `host ${showString(state[list][i]?.host ?? '')} is not declared in hosts` };
  };
  const unknown = unknownHost('vms') ?? unknownHost('release') ?? unknownHost('protect');
  if (unknown) return unknown;
  const vms = new Set<string>();
  for (const [i, vm] of state.vms.entries()) {
    const key = JSON.stringify([vm.host, vm.name]);
    if (vms.has(key)) return { path: ['vms', i, 'name'], message: `VM ${showString(vm.name)} is listed twice on host ${vm.host}` };
    vms.add(key);
  }
  const conflict = findConflicts(state)[0];
  return conflict ? { path: [], message: `its entries conflict: ${conflict.message}` } : null;
}
