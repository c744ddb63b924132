#!/bin/bash
# lab-scenario: iommu=on sriov=1 timeout=1500
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
# ---------------------------------------------------------------------------------------------------------------
# passthru's SR-IOV steps (SPEC 11), read back from L1: the count, VF 1 to L2 as a NIC with a MAC and a VLAN, the
# vfs-in-use block, release and back to no VFs; the udev rule that persists the count appears and goes.
L2=l2
VF_MAC=52:54:00:66:00:01
VF_VLAN=42
RULES=/etc/udev/rules.d/70-passthru-sriov.rules
# sriov_yaml NUMVFS [with-vf]   the file: passthru owns the PF's count; with-vf gives VF 1 to L2 as a NIC
sriov_yaml() {
  echo "version: 1"
  echo "sriov:"
  echo "  - { pf: \"$PF\", numVfs: $1 }"
  echo "vms:"
  echo "  $L2:"
  if [ "${2:-}" = with-vf ]; then
    echo "    devices:"
    echo "      - vf: { pf: \"$PF\", index: 1 }"
    echo "        interface: { mac: \"$VF_MAC\", vlan: $VF_VLAN }"
  else echo "    devices: []"; fi
}
plan_numvfs() { jq_node "$WORK/plan.json" 'j.hosts.flatMap(h=>h.actions.filter(a=>a.kind==="set-numvfs").map(a=>a.from+"->"+a.to)).join(" ")'; }
numvfs() { cat /sys/bus/pci/devices/$PF/sriov_numvfs; }
rules_line() { grep -h "KERNEL==\"$PF\"" "$RULES" 2>/dev/null || echo none; }
# the interface element's facts in L2's persistent XML, on one line
l2_xml() { virsh dumpxml --inactive "$L2" 2>/dev/null | tr -d '\n' | sed 's/>[[:space:]]*</></g'; }

# set_count FROM TO   passthru plans set-numvfs FROM->TO and persist-numvfs for the PF (file sriovTO.yaml) and
# applies it (the whole call timed as FIGURE passthru-numvfs-FROM-to-TO); then sriov_numvfs must read TO
set_count() {
  sriov_yaml "$2" > "$WORK/sriov$2.yaml"; cat "$WORK/sriov$2.yaml"
  pt plan -f "$WORK/sriov$2.yaml" -c "$URI"
  pt_plan "$WORK/sriov$2.yaml"
  expect "plan numVfs $2 --detailed-exitcode (changes)" "$PT_RC" 2
  expect "plan numVfs $2 steps" "$(plan_kinds)" "set-numvfs@$PF persist-numvfs@$PF"
  expect "set-numvfs from -> to" "$(plan_numvfs)" "$1->$2"
  a=$(now)
  pt apply -f "$WORK/sriov$2.yaml" -c "$URI" --yes
  expect "apply numVfs $2 --yes exit code" "$PT_RC" 0
  echo "=== FIGURE passthru-numvfs-$1-to-$2: $(sub "$a" "$(now)")s (passthru apply of set-numvfs $1->$2 + persist-numvfs, whole call)"
  expect "$PF sriov_numvfs after apply" "$(numvfs)" "$2"
}

if [ "$PASSTHRU_READY" = 1 ]; then
  section "passthru: numVfs 2 (set-numvfs, persist-numvfs)"
  define_domain "$L2"
  # libvirt sets a VF's MAC and VLAN through its PF's netdev at start and refuses while that netdev is down ("Unable
  # to configure VF 1 of PF 'eth3' because the PF is not online", lab run 1). The PF goes up before its VFs are made,
  # as an operator would (igb answers the VFs' mailbox only while its interface is open)
  PFNET=$(ls /sys/bus/pci/devices/$PF/net 2>/dev/null | head -1)
  run_step "ip link set $PFNET up (the PF online, before its VFs)" 20 ip link set "$PFNET" up
  set_count 0 2
  wait_until "both VFs bound to igbvf after passthru's apply" 90 eval '[ "$(drv $VF0)$(drv $VF1)" = igbvfigbvf ]'
  echo "=== FIGURE passthru-vf-creation-to-igbvf: $(sub "$a" "$(now)")s (passthru apply started -> both VFs on igbvf)"
  expect "virtfn1 is VF 1's address" "$(basename "$(readlink /sys/bus/pci/devices/$PF/virtfn1)")" "$VF1"
  echo "--- $RULES:"; sed 's/^/  /' "$RULES" 2>&1
  expect "udev rule persists 2 VFs (persist-numvfs)" "$(rules_line)" "ACTION==\"bind\", SUBSYSTEM==\"pci\", KERNEL==\"$PF\", ATTR{sriov_numvfs}=\"2\""
  pt_plan "$WORK/sriov2.yaml"
  expect "plan numVfs 2 after apply (no changes)" "$PT_RC" 0

  section "passthru: VF 1 to $L2 with MAC $VF_MAC and VLAN $VF_VLAN"
  sriov_yaml 2 with-vf > "$WORK/sriov-vf.yaml"; cat "$WORK/sriov-vf.yaml"
  pt plan -f "$WORK/sriov-vf.yaml" -c "$URI"
  pt_plan "$WORK/sriov-vf.yaml"
  expect "plan VF 1 --detailed-exitcode (changes)" "$PT_RC" 2
  expect_match "plan VF 1 steps attach VF 1 to $L2" "$(plan_kinds)" "attach-hostdev@$VF1>$L2"
  expect "plan VF 1: the interface's MAC and VLAN (JSON)" "$(jq_node "$WORK/plan.json" 'j.hosts.flatMap(h=>h.actions.filter(a=>a.kind==="attach-hostdev").map(a=>a.interface&&(a.interface.mac+"/"+a.interface.vlan))).join(" ")')" "$VF_MAC/$VF_VLAN"
  pt apply -f "$WORK/sriov-vf.yaml" -c "$URI" --yes
  expect "apply VF 1 --yes exit code" "$PT_RC" 0
  X=$(l2_xml); echo "--- $L2's interfaces:"; echo "$X" | grep -o "<interface type='hostdev'.*</interface>" | sed 's/^/  /'
  expect_match "$L2 has an <interface type='hostdev' managed='yes'>" "$X" "<interface type='hostdev' managed='yes'>"
  IFX=$(echo "$X" | grep -o "<interface type='hostdev'.*</interface>")
  expect_match "$L2's interface has the MAC" "$IFX" "<mac address='$VF_MAC'/>"
  expect_match "$L2's interface has VF 1 as its source" "$IFX" "<source><address type='pci' domain='0x0000' bus='0x06' slot='0x10' function='0x2'/></source>"
  expect_match "$L2's interface has the VLAN tag" "$IFX" "<vlan><tag id='$VF_VLAN'/></vlan>"
  pt_plan "$WORK/sriov-vf.yaml"
  expect "plan VF 1 after apply (no changes)" "$PT_RC" 0

  section "L2 receives VF 1 as a NIC"
  rm -f /var/log/libvirt/qemu/$L2-console.log
  run_step "ip link show $PFNET before $L2 starts" 20 ip link show "$PFNET"
  echo "lab: virsh start $L2" > /dev/kmsg
  run_step "virsh start $L2" 120 virsh start "$L2"
  expect "virsh start $L2 rc" "$RC" 0
  expect "$VF1 driver while $L2 runs" "$(drv $VF1)" vfio-pci
  run_step "ip link show $PFNET (the PF's VF table, set by libvirt at start)" 20 ip link show "$PFNET"
  expect_match "the PF lists vf 1 with the MAC and the VLAN" "$(STEP_OUT | tr -s ' ')" "vf 1 .*$VF_MAC.*vlan $VF_VLAN"

  section "numVfs 3 while VF 1 is assigned: blocked (vfs-in-use), nothing changes"
  sriov_yaml 3 with-vf > "$WORK/sriov3.yaml"
  virsh dumpxml --inactive "$L2" > "$WORK/l2-before.xml" 2>&1; cp "$RULES" "$WORK/rules-before" 2>/dev/null
  N_BEFORE=$(numvfs)
  pt_plan "$WORK/sriov3.yaml"
  expect "plan numVfs 3 --detailed-exitcode (blocked)" "$PT_RC" 1
  expect "plan numVfs 3 applyable" "$(plan_applyable)" false
  # the problem names the VF that is in a domain, and that domain
  expect_match "plan numVfs 3 blocks: vfs-in-use (VF 1 in $L2)" "$(plan_blocks)" "vfs-in-use@$VF1>$L2"
  pt apply -f "$WORK/sriov3.yaml" -c "$URI" --yes
  expect "apply numVfs 3 --yes exit code (blocked)" "$PT_RC" 1
  expect "$PF sriov_numvfs unchanged" "$(numvfs)" "$N_BEFORE"
  virsh dumpxml --inactive "$L2" > "$WORK/l2-after.xml" 2>&1
  expect_same "$L2's persistent XML after the blocked apply" "$WORK/l2-before.xml" "$WORK/l2-after.xml"
  expect_same "the udev rule after the blocked apply" "$WORK/rules-before" "$RULES"

  section "L2's own view"
  wait_domain_off "$L2" "${L2_TIMEOUT:-$([ "${L2_ACCEL:-tcg}" = kvm ] && echo 180 || echo 720)}"
  echo "--- L2 console:"; grep -a 'L2-' /var/log/libvirt/qemu/$L2-console.log | sed 's/^/  /'
  grep -a -q 'L2-GUEST-UP' /var/log/libvirt/qemu/$L2-console.log || { echo "--- L2 never reached its init; console tail and QEMU log tail:"
    tail -n 15 /var/log/libvirt/qemu/$L2-console.log | sed 's/^/  c| /'; tail -n 10 /var/log/libvirt/qemu/$L2.log | sed 's/^/  q| /'; }
  expect "L2 booted" "$(grep -a -c 'L2-GUEST-DONE' /var/log/libvirt/qemu/$L2-console.log)" 1
  VFPCI=$(grep -a -o 'L2-PCI [^ ]* vendor=0x8086 device=0x10ca' /var/log/libvirt/qemu/$L2-console.log | awk '{print $2}')
  expect_match "L2 lists one 8086:10ca device (the VF)" "$VFPCI" '^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$'
  L2NET=$(grep -a "L2-NET [^ ]* address=[^ ]* pci=$VFPCI" /var/log/libvirt/qemu/$L2-console.log | tr -d '\r')
  expect_match "L2 has a NIC on that device (igbvf bound)" "$L2NET" "L2-NET [^ ]+ address=[0-9a-f:]{17} pci=$VFPCI"
  echo "--- L1's kernel about igb/igbvf since $L2's start:"; dmesg | sed -n '/lab: virsh start/,$p' | grep -i 'igb\|vf' | sed 's/^/  /'
  run_step "ip link show $PFNET after $L2 ran" 20 ip link show "$PFNET"
  # OPEN: the PF's VF table says vf 1 has $VF_MAC (checked above; L1's igb: "setting MAC ... on VF 1"), but igbvf in
  # L2 says "PF still in reset state. Is the PF interface up?" then "Assigning random MAC address." (L2-DMESG above,
  # lab4 runs 1 and 2): its reset (e1000_reset_hw_vf) finds neither RSTD nor RSTI in the VF's mailbox within its
  # ~1 ms wait, so it never sends the reset message the PF answers with the MAC. In QEMU's igb (hw/net/igb_core.c
  # since 8.1) a VF's own reset sets neither bit (igb_vf_reset only raises VFLRE to the PF); RSTD (read-to-clear) is
  # set only when the PF writes CTRL_EXT.PFRSTD. Tried: PF up before the VFs (run 1), PF down + up after L2 started
  # and before its igbvf loaded (run 2; igb writes PFRSTD again at open): same, so the model is not complete. Most
  # likely a limit of the emulation, not of passthru (L2's MAC is given only by igb's answer): printed, not judged.
  L2MAC=${L2NET#*address=}
  echo "=== NOTE L2's MAC on the VF: ${L2MAC%% *} (declared $VF_MAC) -> $(printf '%s' "$L2NET" | grep -q "address=$VF_MAC " && echo same || echo DIFFERENT)"
  timeout 10 virsh destroy "$L2" > /dev/null 2>&1

  section "release VF 1, then numVfs 0"
  sriov_yaml 2 > "$WORK/sriov2.yaml"
  pt_plan "$WORK/sriov2.yaml"
  expect "release plan --detailed-exitcode (changes)" "$PT_RC" 2
  expect_match "release plan detaches VF 1 from $L2" "$(plan_kinds)" "detach-hostdev@$VF1>$L2"
  pt apply -f "$WORK/sriov2.yaml" -c "$URI" --yes
  expect "release apply --yes exit code" "$PT_RC" 0
  expect_nomatch "$L2 has no hostdev interface" "$(l2_xml)" "<interface type='hostdev'"
  expect "$VF1 back on igbvf" "$(drv $VF1)" igbvf
  set_count 2 0
  expect "no virtfn links" "$(ls /sys/bus/pci/devices/$PF/ | grep -c '^virtfn')" 0
  expect "$PF still on igb" "$(drv $PF)" igb
  expect "the udev rule is gone (no PF with VFs left)" "$([ -e "$RULES" ] && { echo present; cat "$RULES"; } || echo gone)" gone
  pt_plan "$WORK/sriov0.yaml"
  expect "plan numVfs 0 after apply (no changes)" "$PT_RC" 0
else
  skip "passthru's SR-IOV steps (CLI not ready)"
fi
summary
