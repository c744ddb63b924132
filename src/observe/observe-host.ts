/**
 * One host's observation, whichever way its devices are seen: a local host from sysfs/procfs under `root`
 * (richer: host use, SELinux, ACPI tables), a remote host through libvirt node devices. Domains always come from
 * virsh. The planner never knows which source a snapshot came from.
 */
import type { Clock } from '../io/clock.js';
import type { Virsh } from '../io/virsh.js';
import type { DesiredHost } from '../model/desired.js';
import { SNAPSHOT_FORMAT_VERSION, type HostSnapshot } from '../model/snapshot.js';
import { observeDomains } from './domains.js';
import { observeNodedevDevices } from './nodedev-devices.js';
import { observeLocalHost } from './platform.js';
import type { WarnFn } from './sysfs.js';

/** Why a remote host's host use is unknown. */
const REMOTE_HOST_USE = 'the host is observed through libvirt only, which shows no routes, mounts or swap';

/** Why a remote host's persisted bindings are unknown. */
const REMOTE_BINDINGS = 'the host is observed through libvirt only, which shows no files under /etc/driverctl.d';

/** What observing one host needs. */
export interface ObserveHostDeps {
  virsh: Virsh;
  /** The local host's filesystem root (`--root`). */
  root: string;
  clock: Clock;
  warn?: WarnFn;
}

/** Observes one host now. */
export async function observeHost(host: DesiredHost, deps: ObserveHostDeps): Promise<HostSnapshot> {
  const warn = deps.warn ?? (() => {});
  const domainsPromise = observeDomains(deps.virsh, host.uri);
  const base = {
    format_version: SNAPSHOT_FORMAT_VERSION as typeof SNAPSHOT_FORMAT_VERSION,
    host: host.name,
    uri: host.uri,
    observedAt: deps.clock.now().toISOString(),
  };
  if (host.local) {
    const [local, domains] = await Promise.all([observeLocalHost(deps.root, { warn }), domainsPromise]);
    return { ...base, deviceSource: 'sysfs', ...local, domains };
  }
  const [devices, domains] = await Promise.all([observeNodedevDevices(deps.virsh, host.uri, { warn }), domainsPromise]);
  return {
    ...base,
    deviceSource: 'nodedev',
    // Through libvirt we see groups (nodedev iommuGroup) but not firmware tables or the kernel command line.
    iommu: { groupsPresent: devices.some((d) => d.iommuGroup !== null), dmarTable: null, ivrsTable: null, cmdline: null },
    selinux: { enabled: false, virtUseSysfs: null },
    hostUseKnown: false,
    hostUseUnknown: { network: REMOTE_HOST_USE, storage: REMOTE_HOST_USE },
    devices,
    domains,
    bindingsUnknown: REMOTE_BINDINGS,
  };
}
