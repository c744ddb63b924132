#!/bin/bash
# lab-scenario: iommu=on sriov=1 timeout=600
# Scenario "sriov", INSIDE L1 (intel_iommu=on) with the emulated SR-IOV NIC: an igb (Intel 82576) at 06:00.0 on its
# own root port (run-lab.sh adds it for `sriov=1`; QEMU >= 8). The raw facts passthru's SR-IOV support (SPEC 11)
# relies on, read and exercised with sysfs and virsh only (SR-IOV writes happen here, inside L1, never outside):
# 7 VFs at most, offset 128, stride 2, VFs created asynchronously by a write to sriov_numvfs, each on igbvf in its own
# IOMMU group, libvirt's node devices naming PF and VFs, and back to no VFs.
# passthru's own SR-IOV steps (numVfs, a VF by PF + index to L2 with a MAC and a VLAN, the blocks) come after
# these checks, in this file; L2's initramfs has igbvf and prints `L2-NET <if> address=<mac> pci=<addr>`.
. "$(dirname "$0")/lib.sh"

PF=0000:06:00.0           # igb, 8086:10c9
MGMT=0000:05:00.0         # L1's management NIC: untouched by any of this

# vf_addr I: the address of VF I as the kernel computes it: PF's routing id + offset + I * stride (same bus here)
vf_addr() {
  local off stride rid
  read -r off < /sys/bus/pci/devices/$PF/sriov_offset; read -r stride < /sys/bus/pci/devices/$PF/sriov_stride
  rid=$(( 0x${PF:5:2} * 256 + (0x${PF:8:2} << 3) + ${PF:11:1} + off + $1 * stride ))
  printf '0000:%02x:%02x.%d\n' $((rid >> 8)) $(((rid & 255) >> 3)) $((rid & 7))
}

section "L1 facts"
l1_facts
wait_libvirtd

section "the SR-IOV PF"
expect "$PF identity (82576)" "$(vendev $PF)" 8086:10c9
expect "$PF driver" "$(drv $PF)" igb
expect "$PF IOMMU group members (its own root port)" "$(group_members $PF)" "$PF"
expect "$PF sriov_totalvfs" "$(cat /sys/bus/pci/devices/$PF/sriov_totalvfs)" 7
expect "$PF sriov_offset" "$(cat /sys/bus/pci/devices/$PF/sriov_offset)" 128
expect "$PF sriov_stride" "$(cat /sys/bus/pci/devices/$PF/sriov_stride)" 2
expect "$PF sriov_vf_device" "$(cat /sys/bus/pci/devices/$PF/sriov_vf_device)" 10ca
expect "$PF sriov_numvfs at boot" "$(cat /sys/bus/pci/devices/$PF/sriov_numvfs)" 0
expect "the mgmt NIC is not the PF" "$(drv $MGMT)" e1000e

section "2 VFs, created by the kernel after the write"
VF0=$(vf_addr 0); VF1=$(vf_addr 1)
expect "VF 0 address computed from offset and stride" "$VF0" 0000:06:10.0
expect "VF 1 address computed from offset and stride" "$VF1" 0000:06:10.2
# the write returns once the kernel has added the VFs (their driver probes may still run): both are timed
a=$(now); echo 2 > /sys/bus/pci/devices/$PF/sriov_numvfs; WRC=$?
echo "=== FIGURE vf-write: $(sub "$a" "$(now)")s (echo 2 > sriov_numvfs returned)"
expect "write 2 to sriov_numvfs" "$WRC" 0
wait_until "virtfn0 and virtfn1 of $PF" 60 test -e /sys/bus/pci/devices/$PF/virtfn1 -a -e /sys/bus/pci/devices/$PF/virtfn0
echo "=== FIGURE vf-links-after-write: ${WAITED}s (the write returned -> both virtfn links)"
wait_until "both VFs bound to igbvf" 60 eval '[ "$(drv $VF0)$(drv $VF1)" = igbvfigbvf ]'
echo "=== FIGURE vf-creation-to-igbvf: $(sub "$a" "$(now)")s (write -> both VFs on igbvf)"
expect "virtfn0 is VF 0's address" "$(basename "$(readlink /sys/bus/pci/devices/$PF/virtfn0)")" "$VF0"
expect "virtfn1 is VF 1's address" "$(basename "$(readlink /sys/bus/pci/devices/$PF/virtfn1)")" "$VF1"
for vf in $VF0 $VF1; do
  expect "$vf identity (82576 VF)" "$(vendev $vf)" 8086:10ca
  expect "$vf driver" "$(drv $vf)" igbvf
  expect "$vf physfn is the PF" "$(basename "$(readlink /sys/bus/pci/devices/$vf/physfn)")" "$PF"
  expect "$vf is alone in its IOMMU group" "$(group_members $vf)" "$vf"
done
expect_ne "the VFs' groups differ" "$(group_of $VF0)" "$(group_of $VF1)"
run_step "libvirt's node device of the PF" 30 virsh nodedev-dumpxml "$(nodedev $PF)"
expect_match "the PF's node device: virt_functions maxCount='7'" "$(STEP_OUT)" "capability type='virt_functions' maxCount='7'"
run_step "libvirt's node device of VF 1" 30 virsh nodedev-dumpxml "$(nodedev $VF1)"
expect_match "VF 1's node device names its phys_function" "$(STEP_OUT | tr -d '\n')" "capability type='phys_function'.*bus='0x06' slot='0x00' function='0x0'"

section "back to no VFs"
echo 0 > /sys/bus/pci/devices/$PF/sriov_numvfs
expect "write 0 to sriov_numvfs" "$?" 0
wait_until "the VFs are gone" 60 eval '! ls /sys/bus/pci/devices/$PF/virtfn* > /dev/null 2>&1'
expect "$PF sriov_numvfs" "$(cat /sys/bus/pci/devices/$PF/sriov_numvfs)" 0
expect "$VF1 is gone" "$([ -e /sys/bus/pci/devices/$VF1 ] && echo present || echo gone)" gone
expect "$PF still on igb" "$(drv $PF)" igb
summary
