/**
 * `passthru verify` (SPEC 13), the decision: for each running VM of the file, is each device it claims in the
 * running domain (live XML) and seen by the guest? Pure: the claimed devices, the live XML and what the guest (or
 * QEMU) listed in; a verdict per device out.
 *
 * How a host device is matched to the guest's view: by its vendor:device ids, which passthrough shows the guest
 * unchanged. The guest's bus numbers are its firmware's (behind a pcie-root-port they differ from libvirt's controller
 * index), so the guest address from the live XML is not required to match; it only picks, among several guest
 * functions with the same ids, the one at that address, and QEMU's `qdev_id` picks the one libvirt named by the
 * device's `<alias>`. Each guest function answers for one claimed device at most (two identical NICs need two).
 */
import type { GuestPciDevice } from '../libvirt/guest-replies.js';
import { guestSide, type GuestSide } from '../libvirt/guest-side.js';
import type { DesiredHostState } from '../model/desired.js';
import type { Plan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { hostView } from './host-view.js';
import { resolveClaims } from './resolve-claims.js';

/** `verify --format json` version; fields may be added. */
export const VERIFY_FORMAT_VERSION = '1';

/** What the guest's devices were read through, or why they could not be. */
export type GuestView = { via: 'agent' | 'qmp'; devices: GuestPciDevice[] } | { via: null; reason: string };

/** One claimed device of a running VM: its identity on the host, and its element in the live XML if there. */
export interface ClaimedDevice {
  address: string;
  vendor: string;
  product: string;
  /** Its element's guest side in the running domain; null when the live XML has no hostdev of it. */
  live: GuestSide | null;
}

export type DeviceStatus = 'seen' | 'missing' | 'unknown';

/** The verdict on one device. */
export interface DeviceVerdict {
  address: string;
  vendor: string;
  product: string;
  status: DeviceStatus;
  /** Why, for humans: `listed by the guest agent at 0000:01:00.0`, `not in the running domain's XML`. */
  reason: string;
  /** Where the guest has it, when it was seen and the source tells. */
  guestAddress: string | null;
}

/** The verdicts on one VM's devices. `via` is how its guest was asked (null: it could not be). */
export interface VmVerdict {
  vm: string;
  uuid: string;
  via: 'agent' | 'qmp' | null;
  devices: DeviceVerdict[];
}

const SOURCE = { agent: 'the guest (agent)', qmp: 'QEMU (query-pci)' } as const;

/** Decides every claimed device of one running VM. */
export function verifyVm(vm: string, uuid: string, claimed: readonly ClaimedDevice[], view: GuestView): VmVerdict {
  const unused = view.via === null ? [] : [...view.devices];
  const devices = claimed.map((c): DeviceVerdict => {
    const base = { address: c.address, vendor: c.vendor, product: c.product };
    const ids = `${c.vendor}:${c.product}`;
    if (c.live === null) return { ...base, status: 'missing', reason: "not in the running domain's XML", guestAddress: null };
    if (view.via === null) return { ...base, status: 'unknown', reason: view.reason, guestAddress: null };
    const candidates = unused.filter((g) => g.vendor === c.vendor && g.product === c.product);
    const live = c.live;
    const pick =
      candidates.find((g) => live.alias !== null && g.qdevId === live.alias) ??
      candidates.find((g) => live.guestAddress !== null && g.address === live.guestAddress) ??
      candidates[0];
    if (pick === undefined) return { ...base, status: 'missing', reason: `${SOURCE[view.via]} lists no ${ids} device`, guestAddress: null };
    unused.splice(unused.indexOf(pick), 1);
    return { ...base, status: 'seen', reason: `${ids} listed by ${SOURCE[view.via]}${pick.address ? ` at ${pick.address}` : ''}`, guestAddress: pick.address };
  });
  return { vm, uuid, via: view.via, devices };
}

/** One host's verification: its VMs' verdicts, or why it could not be observed. */
export interface HostVerdict {
  name: string;
  uri: string;
  vms: VmVerdict[];
  /** VMs of the file on this host that are not running: nothing to verify in them. */
  notRunning: string[];
  error?: string;
}

/**
 * The exit code (decided where the issue is silent, like `check`): 1 when a host could not be observed; else 2 when
 * any device is missing; else 1 when any is unknown (not seen is not "all seen", and a guest without an agent must
 * never pass as verified); else 0.
 */
export function verifyExitCode(hosts: readonly HostVerdict[]): 0 | 1 | 2 {
  if (hosts.some((h) => h.error !== undefined)) return 1;
  const statuses = hosts.flatMap((h) => h.vms.flatMap((v) => v.devices.map((d) => d.status)));
  if (statuses.includes('missing')) return 2;
  return statuses.includes('unknown') ? 1 : 0;
}

/** A running VM of the file and the devices it claims, as `verify` asks its guest about them. */
export interface VerifyTarget {
  vm: string;
  uuid: string;
  claimed: ClaimedDevice[];
}

/**
 * Which VMs of `desired` run on the host and which devices each claims (selectors resolved as the planner does,
 * sticky to what the VM holds), with each device's element in the live XML; and the VMs with nothing to verify.
 * `only`, when given, limits it to those VMs (`apply --verify`: the VMs changed live).
 */
export function verifyTargets(desired: DesiredHostState, snapshot: HostSnapshot, only?: ReadonlySet<string>): { targets: VerifyTarget[]; notRunning: string[] } {
  const view = hostView(snapshot);
  const { assignments } = resolveClaims(desired, view);
  const targets: VerifyTarget[] = [];
  const notRunning: string[] = [];
  for (const vm of desired.vms) {
    if (only && !only.has(vm.name)) continue;
    const dom = view.domain(vm.name);
    if (!dom?.active || dom.live === null) {
      notRunning.push(vm.name);
      continue;
    }
    const live = dom.live;
    const claimed = assignments
      .filter((a) => a.vm === vm)
      .map((a): ClaimedDevice => {
        const element = live.hostdevs.find((h) => h.address === a.device.address);
        return { address: a.device.address, vendor: a.device.vendor, product: a.device.product, live: element ? guestSide(element.xml) : null };
      });
    targets.push({ vm: vm.name, uuid: dom.uuid, claimed });
  }
  return { targets, notRunning };
}

/** `apply --verify`: per host, the VMs whose running domain the plan changes (its `live` actions). */
export function vmsChangedLive(plan: Plan): Map<string, Set<string>> {
  const only = new Map<string, Set<string>>();
  for (const h of plan.hosts) {
    const vms = new Set(h.actions.flatMap((a) => ('live' in a && a.live ? [a.vm] : [])));
    if (vms.size > 0) only.set(h.name, vms);
  }
  return only;
}
