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
  const routing = (a.bus << 8) + ((a.slot << 3) | (a.fn ?? 0)) + offset + stride * index;
  const bus = routing >> 8;
  if (bus > 0xff) return null;
  const devfn = routing & 0xff;
  return formatPciAddress({ domain: a.domain, bus, slot: devfn >> 3, fn: devfn & 7 });
}
