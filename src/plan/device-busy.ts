/**
 * SPEC 13 `device-busy`: a device the plan takes from its host driver must not be held open by a host process
 * (its DRM nodes, `/dev/nvidia*`, `resource*` files, NVMe namespaces): unbinding a device in use hangs or crashes
 * the driver. Judged from the holders observation found (observe/device-holders.ts); where it could not look (a
 * remote host, a captured tree), the plan says so instead of assuming the device is free.
 */
import type { Action, Problem } from '../model/plan.js';
import type { DeviceHolder, HostSnapshot } from '../model/snapshot.js';
import type { HostView } from './host-view.js';

const VFIO = 'vfio-pci';

/** Why holders are unknown on a host observed through libvirt. */
const REMOTE = 'the host is observed through libvirt, which shows no processes';

/**
 * The devices `actions` take from a host driver: each `nodedev-detach`, and each managed `attach-hostdev` of a
 * device on a host driver (libvirt detaches it when it plugs it or starts the VM).
 */
function detachedFromHost(actions: readonly Action[], view: HostView): Map<string, string> {
  const taken = new Map<string, string>();
  for (const a of actions) {
    if (a.kind !== 'nodedev-detach' && !(a.kind === 'attach-hostdev' && a.managed)) continue;
    const driver = view.device(a.address)?.driver ?? null;
    if (driver !== null && driver !== VFIO && !taken.has(a.address)) taken.set(a.address, driver);
  }
  return taken;
}

const named = (h: DeviceHolder) => `PID ${h.pid} (${h.comm})`;

/** One problem per device the plan takes from a host driver while a process holds it, or while that is unknown. */
export function checkDeviceBusy(actions: readonly Action[], snapshot: HostSnapshot, view: HostView): Problem[] {
  const unknown = snapshot.deviceSource === 'nodedev' ? REMOTE : snapshot.holdersUnknown;
  return [...detachedFromHost(actions, view)].flatMap(([address, driver]): Problem[] => {
    if (unknown !== undefined) {
      return [
        {
          severity: 'warn',
          code: 'device-holders-unknown',
          message: `could not tell whether a process holds ${address} open (${unknown}); unbinding it from ${driver} while in use would hang the driver`,
          hint: `check on the host first: \`fuser -v /sys/bus/pci/devices/${address}/resource* /dev/dri/* /dev/nvidia*\``,
          address,
        },
      ];
    }
    const holders = view.device(address)?.holders ?? [];
    if (holders.length === 0) return [];
    const pids = [...new Map(holders.map((h) => [h.pid, h])).values()];
    return [
      {
        severity: 'block',
        code: 'device-busy',
        message: `${address} is held open by ${holders.map((h) => `${named(h)} on ${h.path}`).join(', ')}: unbinding it from ${driver} now would hang or crash the driver`,
        hint: `stop ${pids.map(named).join(', ')} or make ${pids.length === 1 ? 'it' : 'them'} let go of the device (a display manager, nvidia-persistenced, a monitoring agent), then plan again`,
        address,
      },
    ];
  });
}
