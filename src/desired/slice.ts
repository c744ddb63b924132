/** The per-host view of the desired state: hosts are planned independently (SPEC 2), each from its own slice. */
import { InternalError } from '../errors.js';
import type { DesiredHostState, DesiredState } from '../model/desired.js';

/**
 * The VMs, release, protect and sriov entries of host `hostName`, in file order. The name must be one of `state.hosts`:
 * callers iterate those, so another name is a bug, not a user error.
 */
export function desiredForHost(state: DesiredState, hostName: string): DesiredHostState {
  const host = state.hosts.find((h) => h.name === hostName);
  if (!host) throw new InternalError(`host "${hostName}" is not in the desired state of ${state.file}`);
  return {
    host,
    vms: state.vms.filter((vm) => vm.host === hostName),
    release: state.release.filter((entry) => entry.host === hostName),
    protect: state.protect.filter((entry) => entry.host === hostName),
    sriov: (state.sriov ?? []).filter((entry) => entry.host === hostName),
  };
}
