/**
 * Where the kernel puts an SR-IOV VF (drivers/pci/iov.c, pci_iov_virtfn_bus/pci_iov_virtfn_devfn): VF `index` of a
 * PF has routing ID PF + First VF Offset + index × VF Stride, the routing ID being bus << 8 | devfn and devfn
 * slot << 3 | function. The domain is the PF's. Offset and stride are read from the PF as the kernel reports them
 * (`sriov_offset`, `sriov_stride`); PCIe lets them depend on NumVFs, and the devices passthru has met keep them
 * constant (the lab's igb: offset 128, stride 2), which is what a plan for a count not yet set assumes.
 */
import { formatPciAddress, pciFunction } from './pci-address.js';

/** The canonical address of VF `index` of `pf`, or null when it would lie beyond bus 255. */
export function vfAddress(pf: string, offset: number, stride: number, index: number): string | null {
  const a = pciFunction(pf);
  const routing = routingId(pf) + offset + stride * index;
  const bus = routing >> 8;
  if (bus > 0xff) return null;
  const devfn = routing & 0xff;
  return formatPciAddress({ domain: a.domain, bus, slot: devfn >> 3, fn: devfn & 7 });
}

/** A VF's place: its PF and index. */
export interface VfIdentity {
  pf: string;
  index: number;
}

/** What the identity of a VF is read from: a host's functions (a snapshot's devices). */
interface SriovFunction {
  address: string;
  physFunction: string | null;
  virtualFunctions: string[];
  sriov?: { offset: number | null; stride: number | null; totalVfs: number };
}

/**
 * Which VF of which PF `address` is: from the PF's `virtfnN` links when it exists, else — a VF that a planned
 * count creates — from the offset and stride of a PF it would belong to. Null for anything else.
 */
export function vfIdentity(address: string, devices: readonly SriovFunction[]): VfIdentity | null {
  const self = devices.find((d) => d.address === address);
  if (self?.physFunction) {
    const index = devices.find((d) => d.address === self.physFunction)?.virtualFunctions.indexOf(address) ?? -1;
    if (index >= 0) return { pf: self.physFunction, index };
  }
  for (const pf of devices) {
    const { offset, stride, totalVfs } = pf.sriov ?? { offset: null, stride: null, totalVfs: 0 };
    if (offset === null || stride === null || stride === 0) continue;
    const distance = routingId(address) - routingId(pf.address) - offset;
    if (address.slice(0, 4) !== pf.address.slice(0, 4) || distance < 0 || distance % stride !== 0) continue;
    const index = distance / stride;
    if (index < totalVfs) return { pf: pf.address, index };
  }
  return null;
}

function routingId(address: string): number {
  const a = pciFunction(address);
  return (a.bus << 8) + ((a.slot << 3) | (a.fn ?? 0));
}
