/**
 * One host's observation, whichever way its devices are seen: a local host from sysfs/procfs under `root`
 * (richer: SELinux, ACPI tables), a remote host through libvirt node devices and, for its host use, one ssh
 * (observe/remote-host-use.ts). Domains always come from virsh. The planner never knows which source a snapshot
 * came from.
 */
import type { Clock } from '../io/clock.js';
import { createSsh, type Ssh } from '../io/ssh.js';
import type { Virsh } from '../io/virsh.js';
import type { DesiredHost } from '../model/desired.js';
import { SNAPSHOT_FORMAT_VERSION, type HostSnapshot, type PciDevice } from '../model/snapshot.js';
import { scanDeviceHolders } from './device-holders.js';
import { observeDomains } from './domains.js';
import { observeNodedevDevices } from './nodedev-devices.js';
import { observeLocalHost } from './platform.js';
import { applyRemoteDump, readRemoteDump } from './remote-host-use.js';
import { readSriovPersisted } from './sriov-rules.js';
import type { WarnFn } from './sysfs.js';

/** Why a remote host's persisted bindings are unknown. */
const REMOTE_BINDINGS = 'the host is observed through libvirt only, which shows no files under /etc/driverctl.d';

/** What observing one host needs. */
export interface ObserveHostDeps {
  virsh: Virsh;
  /** The local host's filesystem root (`--root`). */
  root: string;
  clock: Clock;
  /** Reads a remote host's host use (SPEC 12). Default: the real ssh. */
  ssh?: Ssh;
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
    // Left out when nothing is persisted, so that a host without SR-IOV observes (and fingerprints) as before.
    const persisted = readSriovPersisted(deps.root, warn);
    return {
      ...base,
      deviceSource: 'sysfs',
      ...local,
      ...withHolders(local.devices, deps.root),
      domains,
      ...(persisted.length > 0 ? { sriovPersisted: persisted } : {}),
    };
  }
  // The ssh runs alongside virsh: one round trip's time, not two.
  const [devices, domains, dump] = await Promise.all([
    observeNodedevDevices(deps.virsh, host.uri, { warn }),
    domainsPromise,
    readRemoteDump(host.uri, deps.ssh ?? createSsh()),
  ]);
  return {
    ...base,
    deviceSource: 'nodedev',
    // Through libvirt we see groups (nodedev iommuGroup) but not firmware tables or the kernel command line.
    iommu: { groupsPresent: devices.some((d) => d.iommuGroup !== null), dmarTable: null, ivrsTable: null, cmdline: null },
    selinux: { enabled: false, virtUseSysfs: null },
    ...applyRemoteDump(dump, devices, warn),
    devices,
    domains,
    bindingsUnknown: REMOTE_BINDINGS,
  };
}

/**
 * Sets each device's holders (SPEC 13 `device-busy`) from one scan of the processes, for the devices a plan may take
 * from a host driver (bridges and devices already on vfio-pci are never detached); or says why they are unknown.
 */
function withHolders(devices: PciDevice[], root: string): { holdersUnknown?: string } {
  const scan = scanDeviceHolders(root, devices.filter((d) => !d.isBridge && d.driver !== 'vfio-pci').map((d) => d.address));
  if (!scan.known) return { holdersUnknown: scan.reason };
  for (const d of devices) {
    const held = scan.holders.get(d.address);
    if (held && held.length > 0) d.holders = held;
  }
  return {};
}
