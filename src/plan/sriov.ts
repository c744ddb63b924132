/**
 * SR-IOV VF counts (SPEC 11): the `set-numvfs` and `persist-numvfs` actions of one host, what blocks them, and
 * the host as it will be once the counts are set — VFs of a count not yet set placed where the kernel will put
 * them (offset and stride, model/sriov-address.ts) — so that claims of those VFs resolve in the same plan.
 *
 * Changing a count destroys every VF of the PF, so it is blocked while any of them is in any domain, running or
 * not (`vfs-in-use`), and above the PF's `sriov_totalvfs` (`numvfs-too-many`).
 */
import { formatPos, type DesiredHostState } from '../model/desired.js';
import type { Action, Problem } from '../model/plan.js';
import { vfAddress } from '../model/sriov-address.js';
import { persistedCount } from '../model/sriov-udev-rules.js';
import type { HostSnapshot, PciDevice } from '../model/snapshot.js';
import { UNKNOWN_ID } from '../model/pci-function.js';
import type { HostView } from './host-view.js';
import type { Assignment } from './resolve-claims.js';

/** The counts' part of a host's plan. */
export interface SriovPlan {
  actions: Action[];
  problems: Problem[];
  /** The snapshot with every PF's VFs as its planned count leaves them: what claims are resolved against. */
  snapshot: HostSnapshot;
  /** VFs that only exist once this plan's `set-numvfs` ran: their IOMMU group cannot be checked yet. */
  pending: ReadonlySet<string>;
}

/** Plans the VF counts of `desired.sriov` on the host of `snapshot`. */
export function planSriov(desired: DesiredHostState, snapshot: HostSnapshot, view: HostView): SriovPlan {
  const actions: Action[] = [];
  const problems: Problem[] = [];
  const pending = new Set<string>();
  let devices = snapshot.devices;
  for (const entry of desired.sriov ?? []) {
    const where = `sriov at ${formatPos(entry.pos)}`;
    const pf = view.device(entry.pf);
    if (!pf?.sriov) {
      problems.push({
        severity: 'block',
        code: pf ? 'not-sriov-capable' : 'device-not-found',
        message: pf
          ? `${entry.pf} (${where}) is not an SR-IOV physical function: it has no sriov_totalvfs`
          : `${entry.pf} (${where}) does not exist on host ${desired.host.name}`,
        hint: pf
          ? 'check the address with `lspci -Dnn -s ADDRESS -vv | grep -i sr-iov`; SR-IOV may need enabling in the firmware setup'
          : 'check the address with `lspci -Dnn`, or drop the entry',
        address: entry.pf,
      });
      continue;
    }
    const from = pf.sriov.numVfs;
    const to = entry.numVfs;
    if (from !== to) {
      const blocked = countChangeProblems(entry.pf, pf, to, view, snapshot, where);
      problems.push(...blocked);
      actions.push({ kind: 'set-numvfs', address: entry.pf, from, to, reason: `${where} sets ${to} VFs (it has ${from})` });
      const after = withVfCount(devices, entry.pf, to);
      devices = after.devices;
      for (const vf of after.created) pending.add(vf);
    }
    // A remote host's rule file is not observed (and its count not set by passthru).
    const persistedCounts = snapshot.sriovPersisted ?? (snapshot.deviceSource === 'sysfs' ? [] : undefined);
    if (persistedCounts !== undefined) {
      const persisted = persistedCount(persistedCounts, entry.pf);
      if (persisted !== to) {
        actions.push({
          kind: 'persist-numvfs',
          address: entry.pf,
          from: persisted,
          to,
          reason: `${where}: the next boot would give it ${persisted} VFs`,
        });
      }
    }
  }
  return { actions, problems, snapshot: devices === snapshot.devices ? snapshot : { ...snapshot, devices }, pending };
}

/** Why the count of `pf` cannot change to `to` now. */
function countChangeProblems(address: string, pf: PciDevice, to: number, view: HostView, snapshot: HostSnapshot, where: string): Problem[] {
  const problems: Problem[] = [];
  const totalVfs = pf.sriov?.totalVfs ?? 0;
  if (to > totalVfs) {
    problems.push({
      severity: 'block',
      code: 'numvfs-too-many',
      message: `${where} asks ${to} VFs of ${address}, which can have at most ${totalVfs} (sriov_totalvfs)`,
      hint: `lower numVfs to ${totalVfs} or less`,
      address,
    });
  }
  for (const vf of pf.virtualFunctions) {
    for (const dom of view.usersOf(vf)) {
      problems.push({
        severity: 'block',
        code: 'vfs-in-use',
        message: `${where} changes the VF count of ${address}, which destroys every VF, but VF ${vf} is in VM "${dom.name}"`,
        hint: `remove the VFs of ${address} from every VM first (an apply of the file without those claims), then change numVfs`,
        address: vf,
        vm: dom.name,
      });
    }
  }
  if (snapshot.deviceSource !== 'sysfs') {
    problems.push({
      severity: 'block',
      code: 'numvfs-remote',
      message: `${where}: passthru sets VF counts through the local host's sysfs, and host ${snapshot.host} is observed through libvirt`,
      hint: `run passthru on that host (its own qemu:///system), or set it there: echo ${to} > /sys/bus/pci/devices/${address}/sriov_numvfs`,
      address,
    });
  }
  return problems;
}

/**
 * `devices` with the VFs of PF `address` replaced by the `count` the kernel creates, at the addresses offset and
 * stride give (unbound, in no IOMMU group yet); none is predicted without them (a remote PF). Shared with the
 * plan simulator.
 */
export function withVfCount(devices: readonly PciDevice[], address: string, count: number): { devices: PciDevice[]; created: string[] } {
  const pf = devices.find((d) => d.address === address);
  if (!pf?.sriov) return { devices: [...devices], created: [] };
  const { offset, stride, vfDevice } = pf.sriov;
  const vfs: PciDevice[] = [];
  for (let i = 0; i < count && offset !== null && stride !== null; i++) {
    const address = vfAddress(pf.address, offset, stride, i);
    if (address === null) break;
    vfs.push({
      address,
      vendor: pf.vendor,
      product: vfDevice ?? UNKNOWN_ID,
      class: pf.class,
      driver: null,
      driverOverride: null,
      iommuGroup: null,
      isBridge: false,
      physFunction: pf.address,
      virtualFunctions: [],
      netInterfaces: [],
      hostUse: [],
    });
  }
  const old = new Set(pf.virtualFunctions);
  const kept = devices.filter((d) => !old.has(d.address)).map((d) =>
    d.address === pf.address && d.sriov ? { ...d, virtualFunctions: vfs.map((v) => v.address), sriov: { ...d.sriov, numVfs: count } } : d,
  );
  const sorted = [...kept, ...vfs].sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return { devices: sorted, created: vfs.map((v) => v.address) };
}

/**
 * SR-IOV rules on what the claims resolved to: a PF whose VFs exist stays on its host driver (SPEC 11, 3), an
 * `interface` belongs on a VF only, and a VF created by this plan has no IOMMU group to check yet (a warning: the
 * apply's closing plan checks it once it exists).
 */
export function checkSriovAssignments(view: HostView, assignments: Assignment[], pending: ReadonlySet<string>): Problem[] {
  return assignments.flatMap((a): Problem[] => {
    const d = a.device;
    const base = { address: d.address, vm: a.vm.name };
    if (d.virtualFunctions.length > 0) {
      return [
        {
          ...base,
          severity: 'block',
          code: 'pf-has-vfs',
          message: `${d.address} is an SR-IOV PF with ${d.virtualFunctions.length} VFs: passing it through would take them from under the host`,
          hint: 'claim its VFs instead, or set its numVfs: 0 under sriov first',
        },
      ];
    }
    if (a.interface && d.physFunction === null) {
      return [
        {
          ...base,
          severity: 'block',
          code: 'interface-not-a-vf',
          message: `${d.address} (${formatPos(a.pos)}) is not an SR-IOV VF, so it cannot be given as <interface type='hostdev'>`,
          hint: 'remove interface: from the entry to pass it through as a plain hostdev, or claim a VF',
        },
      ];
    }
    const linksDown = d.physFunction === null ? undefined : view.device(d.physFunction)?.sriov?.linksDown;
    if (a.interface && linksDown !== undefined && linksDown.length > 0) {
      return [
        {
          ...base,
          severity: 'warn',
          code: 'pf-link-down',
          message: `${d.address} is a VF of ${d.physFunction ?? '?'}, whose link ${linksDown.join(', ')} is down: libvirt will not start ${a.vm.name} with it as an <interface> ("the PF is not online")`,
          hint: `bring the PF's link up first (ip link set ${linksDown[0] ?? 'IF'} up, and in the host's network configuration)`,
        },
      ];
    }
    if (pending.has(d.address) && view.snapshot.iommu.groupsPresent) {
      return [
        {
          ...base,
          severity: 'warn',
          code: 'vf-not-yet-created',
          message: `${d.address} is VF of ${d.physFunction ?? '?'} that this plan's set-numvfs creates: its IOMMU group is checked once it exists`,
          hint: 'the apply plans again after its last step and fails (rolling back) if the new VF cannot be passed through',
        },
      ];
    }
    return [];
  });
}

/** Marks each detach of a VF in `pending` (created by this plan's `set-numvfs`) with its PF, for the rollback. */
export function markCreatedVfs(actions: readonly Action[], pending: ReadonlySet<string>, view: HostView): Action[] {
  return actions.map((a) => {
    const pf = a.kind === 'nodedev-detach' && pending.has(a.address) ? view.device(a.address)?.physFunction : null;
    return a.kind === 'nodedev-detach' && pf ? { ...a, createdWith: pf } : a;
  });
}
