#!/bin/bash
# lab-scenario: iommu=on timeout=1800
# Scenario "main", INSIDE L1 booted with intel_iommu=on: the whole life of issue 5 on a real (emulated) host.
#   1 doctor passes                      4 release: hostdev removed, device back on e1000e
#   2 seed flow: plan, apply, idempotent 5 blocked for real, nothing changed (multi-function half, bridge, mgmt NIC)
#   3 L2 starts and sees 8086:10d3       6 a fault in the middle of a real apply is rolled back
# With PASSTHRU_READY=1 each step is a passthru command; with 0 the raw virsh equivalents of the seed's runbook run
# instead (and the passthru-only checks are reported SKIPPED), so the lab itself is proven before the CLI exists.
# Every assertion reads the state back from L1 (sysfs, virsh dumpxml, L2's console).
. "$(dirname "$0")/lib.sh"

TARGET=0000:01:00.0       # e1000e on its own root port, own IOMMU group: the passthrough target
MF0=0000:02:00.0          # multi-function e1000e, function 0 ...
MF1=0000:02:00.1          # ... and function 1: one shared IOMMU group
BRIDGE=0000:03:00.0       # pcie-pci-bridge
BEHIND=0000:04:01.0       # conventional e1000 behind the bridge
MGMT=0000:05:00.0         # L1's management NIC: static address + default route
L2=l2                     # the L2 domain the seed's NIC goes to
PT_VIRSH_ENV=()

section "L1 facts"
l1_facts
wait_libvirtd
ensure_kvm
virsh version 2>&1 | sed 's/^/  /'

section "topology (what the scenarios rely on)"
expect "$TARGET identity" "$(vendev $TARGET)" 8086:10d3
expect "$TARGET driver" "$(drv $TARGET)" e1000e
expect "$TARGET IOMMU group members" "$(group_members $TARGET)" "$TARGET"
expect "$MF0 group members (shared by both functions)" "$(group_members $MF0)" "$MF0 $MF1"
expect "$MF1 driver" "$(drv $MF1)" e1000e
expect "$BRIDGE class (PCI-to-PCI bridge)" "$(pciclass $BRIDGE)" 0x060400
expect_match "$BEHIND group members include the bridge" "$(group_members $BEHIND)" "$BRIDGE.*$BEHIND|$BEHIND.*$BRIDGE"
DEFDEV=$(ip -4 route show default | awk '{for(i=1;i<NF;i++) if($i=="dev") print $(i+1)}' | head -1)
for i in $(seq 1 30); do [ -n "$DEFDEV" ] && break; sleep 1
  DEFDEV=$(ip -4 route show default | awk '{for(i=1;i<NF;i++) if($i=="dev") print $(i+1)}' | head -1); done
expect "default route's NIC is the mgmt NIC" "$(basename "$(readlink -f /sys/class/net/${DEFDEV:-none}/device 2>/dev/null)")" "$MGMT"
expect_match "mgmt NIC carries an address" "$(ip -4 -br addr show dev "${DEFDEV:-none}" 2>&1)" '10\.0\.2\.15/24'
for a in $TARGET $MF0 $MF1 $BEHIND; do
  n=$(ls /sys/bus/pci/devices/$a/net 2>/dev/null | head -1)
  expect "$a ($n) has no IPv4 address" "$(ip -4 -o addr show dev "${n:-none}" 2>/dev/null | wc -l)" 0
done

section "node + project share (the CLI's runtime in L1)"
if [ "$PASSTHRU_READY" = 1 ]; then
  run_step "the CLI starts in L1 from /proj (bin + dist/bundle + schemas + package.json)" 120 node "$PT_BIN" --version
  expect "project runtime loads in L1" "$(STEP_OUT | tail -1)" "$(jq_node /proj/package.json j.version)"
  run_step "the same again (9p cache warm): what each passthru run pays at least" 120 node "$PT_BIN" --version
fi
run_step "bare node start" 60 node -e 0
echo "passthru CLI present: $([ -f /proj/dist/bundle/passthru.js ] && echo yes || echo no); PASSTHRU_READY=$PASSTHRU_READY"

# ---------------------------------------------------------------------------------------------------------------
section "1. doctor"
# (virt-host-validate is shown for reference only: L1's CPU says AMD (TCG -cpu max has svm) while its IOMMU is Intel,
# so it looks for an IVRS table and WARNs whether the IOMMU is on or off)
run_step "reference only: virt-host-validate qemu" 60 virt-host-validate qemu
expect_match "cmdline has intel_iommu=on" "$(cat /proc/cmdline)" '(^| )intel_iommu=on( |$)'
expect_ne "IOMMU groups present" "$(ls /sys/kernel/iommu_groups | wc -l)" 0
dmesg > "$WORK/dmesg.txt"
expect_match "DMAR table seen by the kernel" "$(grep 'ACPI: DMAR' "$WORK/dmesg.txt")" DMAR
expect_match "kernel enabled DMA remapping" "$(grep -E 'DMAR: (Intel\(R\) Virtualization Technology for Directed I/O|IOMMU enabled)' "$WORK/dmesg.txt" | head -3)" 'Directed I/O|IOMMU enabled'
expect "vfio-pci module available" "$(modinfo -F name vfio-pci 2>&1)" vfio_pci
if [ "$PASSTHRU_READY" = 1 ]; then
  pt doctor -c "$URI"
  expect "passthru doctor exit code" "$PT_RC" 0
else skip "passthru doctor (CLI not ready)"; fi

# ---------------------------------------------------------------------------------------------------------------
section "2. seed flow: $TARGET to $L2, replacing its bridge interface"
define_domain "$L2" with-bridge
expect "$L2 starts with one bridge interface" "$(bridge_ifaces $L2)" 1
expect "$L2 starts without the hostdev" "$(has_hostdev $L2 $TARGET)" 0
cat > "$WORK/seed.yaml" <<EOF
version: 1
vms:
  $L2:
    devices:
      - address: "$TARGET"
        expect: { vendor: "8086", product: "10d3" }
    removeInterfaces:
      - { type: bridge, source: br0 }
EOF
cat "$WORK/seed.yaml"
if [ "$PASSTHRU_READY" = 1 ]; then
  pt plan -f "$WORK/seed.yaml" -c "$URI"
  expect_match "text plan names the device" "$(cat "$WORK/pt.out")" '01:00\.0'
  pt_plan "$WORK/seed.yaml"
  expect "plan --detailed-exitcode before apply (changes)" "$PT_RC" 2
  expect "plan applyable" "$(plan_applyable)" true
  expect "plan lists the seed's steps in order" "$(plan_kinds)" \
    "nodedev-detach@$TARGET attach-hostdev@$TARGET>$L2 remove-interface>$L2"
  pt apply -f "$WORK/seed.yaml" -c "$URI" --yes
  expect "apply --yes exit code" "$PT_RC" 0
else
  run_step "seed 9: nodedev-detach" 60 virsh nodedev-detach "$(nodedev $TARGET)"
  expect "nodedev-detach rc" "$RC" 0
  hostdev_xml $TARGET > "$WORK/hostdev.xml"
  run_step "seed 11-12: attach-device --config" 60 virsh attach-device "$L2" "$WORK/hostdev.xml" --config
  expect "attach-device rc" "$RC" 0
  run_step "remove the bridge interface" 60 virsh detach-interface "$L2" bridge --mac 52:54:00:aa:00:01 --config
  expect "detach-interface rc" "$RC" 0
fi
echo "readlink: $(readlink /sys/bus/pci/devices/$TARGET/driver)"
expect "$TARGET driver after apply" "$(drv $TARGET)" vfio-pci
expect "/dev/vfio/<group of $TARGET> exists" "$(ls /dev/vfio/$(group_of $TARGET) 2>&1)" "/dev/vfio/$(group_of $TARGET)"
virsh dumpxml --inactive "$L2" | sed -n '/<hostdev/,/<\/hostdev>/p;/<interface/,/<\/interface>/p' | sed 's/^/  /'
expect "$L2 persistent XML has the hostdev" "$(has_hostdev $L2 $TARGET)" 1
expect "$L2 persistent XML has no bridge interface" "$(bridge_ifaces $L2)" 0
if [ "$PASSTHRU_READY" = 1 ]; then
  pt_plan "$WORK/seed.yaml"
  expect "plan --detailed-exitcode after apply (no changes)" "$PT_RC" 0
  expect "plan after apply has no actions" "$(plan_kinds)" ""
else skip "plan after apply reports no changes (CLI not ready)"; fi

# ---------------------------------------------------------------------------------------------------------------
section "3. L2 starts with the NIC"
rm -f /var/log/libvirt/qemu/$L2-console.log
run_step "virsh start $L2" 120 virsh start "$L2"
expect "virsh start $L2 rc" "$RC" 0
expect "$TARGET driver while $L2 runs" "$(drv $TARGET)" vfio-pci
echo "L2 accelerator: $(grep -E -o -m1 -- '-accel [a-z]+|accel=[a-z]+' /var/log/libvirt/qemu/$L2.log)"
# L2 took 106-300 s under TCG (up to ~15 s under nested KVM): 2x headroom or more
wait_domain_off "$L2" "${L2_TIMEOUT:-$([ "${L2_ACCEL:-tcg}" = kvm ] && echo 180 || echo 720)}"
expect "$L2 shut off by itself" "$(virsh domstate $L2 2>&1)" "shut off"
echo "--- L2 console:"; grep -a 'L2-' /var/log/libvirt/qemu/$L2-console.log | sed 's/^/  /'
# L2 that never reached its init: its kernel's last words and QEMU's log say where it stood
grep -a -q 'L2-GUEST-UP' /var/log/libvirt/qemu/$L2-console.log || { echo "--- L2 never reached its init; console tail and QEMU log tail:"
  tail -n 15 /var/log/libvirt/qemu/$L2-console.log | sed 's/^/  c| /'; tail -n 10 /var/log/libvirt/qemu/$L2.log | sed 's/^/  q| /'; }
expect "L2 booted" "$(grep -a -c 'L2-GUEST-DONE' /var/log/libvirt/qemu/$L2-console.log)" 1
expect "L2 lists the NIC 8086:10d3" "$(grep -a -c 'L2-PCI .* vendor=0x8086 device=0x10d3' /var/log/libvirt/qemu/$L2-console.log)" 1
timeout 10 virsh destroy "$L2" > /dev/null 2>&1
# libvirt does not reattach at VM stop a managed device that was already on vfio-pci when the VM started (SPEC 8)
expect "$TARGET driver after $L2 stopped" "$(drv $TARGET)" vfio-pci
expect "$L2 persistent XML still has the hostdev" "$(has_hostdev $L2 $TARGET)" 1
if [ "$PASSTHRU_READY" = 1 ]; then
  pt_plan "$WORK/seed.yaml"
  expect "plan --detailed-exitcode after $L2 stopped (no changes)" "$PT_RC" 0
  pt check -f "$WORK/seed.yaml" -c "$URI"
  expect "check (CI drift check) after $L2 stopped: in sync" "$PT_RC" 0
else skip "plan after L2 stopped reports no changes (CLI not ready)"; fi

# ---------------------------------------------------------------------------------------------------------------
section "4. release $TARGET"
cat > "$WORK/release.yaml" <<EOF
version: 1
vms:
  $L2:
    devices: []
    removeInterfaces:
      - { type: bridge, source: br0 }
release:
  - { address: "$TARGET" }
EOF
cat "$WORK/release.yaml"
if [ "$PASSTHRU_READY" = 1 ]; then
  pt_plan "$WORK/release.yaml"
  expect "release plan --detailed-exitcode (changes)" "$PT_RC" 2
  expect "release plan steps" "$(plan_kinds)" "detach-hostdev@$TARGET>$L2 nodedev-reattach@$TARGET"
  pt apply -f "$WORK/release.yaml" -c "$URI" --yes
  expect "release apply --yes exit code" "$PT_RC" 0
else
  run_step "detach-device --config" 60 virsh detach-device "$L2" "$WORK/hostdev.xml" --config
  expect "detach-device rc" "$RC" 0
  run_step "nodedev-reattach" 60 virsh nodedev-reattach "$(nodedev $TARGET)"
  expect "nodedev-reattach rc" "$RC" 0
fi
echo "readlink: $(readlink /sys/bus/pci/devices/$TARGET/driver)"
expect "$TARGET driver after release" "$(drv $TARGET)" e1000e
expect "$TARGET driver_override after release" "$(override $TARGET)" "(null)"
expect "$L2 persistent XML has no hostdev" "$(has_hostdev $L2 $TARGET)" 0
if [ "$PASSTHRU_READY" = 1 ]; then
  pt_plan "$WORK/release.yaml"
  expect "plan --detailed-exitcode after release (no changes)" "$PT_RC" 0
else skip "plan after release reports no changes (CLI not ready)"; fi

# ---------------------------------------------------------------------------------------------------------------
section "5. blocked for real, nothing changed"
# block_case NAME ADDR FACT...: the file gives ADDR to $L2; passthru must refuse plan and apply and change nothing
block_case() {
  local name=$1 addr=$2
  echo "--- case: $name ($addr)"
  cat > "$WORK/block-$name.yaml" <<EOF
version: 1
vms:
  $L2:
    devices:
      - address: "$addr"
EOF
  snapshot_state "$WORK/before-$name.state"
  if [ "$PASSTHRU_READY" = 1 ]; then
    pt_plan "$WORK/block-$name.yaml"
    expect "$name: plan --detailed-exitcode (blocked = error)" "$PT_RC" 1
    expect "$name: plan applyable" "$(plan_applyable)" false
    expect_match "$name: plan has a block problem about $addr" "$(plan_blocks)" "@${addr%.*}"
    pt apply -f "$WORK/block-$name.yaml" -c "$URI" --yes
    expect "$name: apply --yes refuses (exit 1)" "$PT_RC" 1
  else skip "$name: passthru plan/apply refuse (CLI not ready)"; fi
  snapshot_state "$WORK/after-$name.state"
  expect_same "$name: L1 state (driver links, driver_override, domain XML)" "$WORK/before-$name.state" "$WORK/after-$name.state"
}
# (a) one function of the multi-function device: its group mate stays on e1000e -> group not viable
expect "viability: $MF1 shares $MF0's group" "$(group_of $MF1)" "$(group_of $MF0)"
expect "viability: $MF1 is bound to a host driver" "$(drv $MF1)" e1000e
block_case multifunction-half $MF0
# (b) the PCIe-to-PCI bridge itself
expect "bridge: $BRIDGE header is a bridge (class 0x0604)" "$(pciclass $BRIDGE | cut -c1-6)" 0x0604
block_case bridge $BRIDGE
# (c) the management NIC that carries L1's default route
expect "mgmt: default route via $MGMT" "$(basename "$(readlink -f /sys/class/net/${DEFDEV:-none}/device 2>/dev/null)")" "$MGMT"
block_case mgmt-nic $MGMT
expect "mgmt NIC still carries the default route" "$(ip -4 route show default | grep -c "dev $DEFDEV")" 1

# control: L1 itself refuses the multi-function half, so the block is not passthru's opinion. libvirt detaches
# 02:00.0 (managed), QEMU fails on the group, libvirt reattaches.
define_domain mfhalf
hostdev_xml $MF0 > "$WORK/hd-mf0.xml"
run_step "control: attach only $MF0 to mfhalf (--config)" 60 virsh attach-device mfhalf "$WORK/hd-mf0.xml" --config
run_step "control: start mfhalf with only $MF0" 120 virsh start mfhalf
expect_ne "control: start with half a multi-function group fails" "$RC" 0
expect_match "control: libvirt/QEMU says the group is not viable" "$(STEP_OUT)" 'not viable'
timeout 30 virsh destroy mfhalf > /dev/null 2>&1; run_step "undefine mfhalf" 30 virsh undefine mfhalf
expect "control: $MF0 back on e1000e" "$(drv $MF0)" e1000e
expect "control: $MF1 still on e1000e" "$(drv $MF1)" e1000e

# ---------------------------------------------------------------------------------------------------------------
section "6. a fault in the middle of a real apply is rolled back"
# fault_case MODE: the file gives $TARGET to domain 'victim'; the attach step is sabotaged by fault-virsh.sh
fault_case() {
  local mode=$1
  echo "--- fault: $mode"
  rm -f /run/lab-fault /run/lab-fault.fired /run/lab-fault.log
  define_domain victim
  cp "$WORK/victim.xml" "$WORK/victim-defined.xml"
  snapshot_state "$WORK/before-fault-$mode.state"
  cat > "$WORK/fault.yaml" <<EOF
version: 1
vms:
  victim:
    devices:
      - address: "$TARGET"
EOF
  printf 'FAULT_MODE=%s\nFAULT_DOMAIN=victim\nFAULT_ON=attach-device\n' "$mode" > /run/lab-fault
  if [ "$PASSTHRU_READY" = 1 ]; then
    PT_VIRSH_ENV=(PASSTHRU_VIRSH=/lab/guest/fault-virsh.sh)   # and --virsh: both are in SPEC 4
    pt apply -f "$WORK/fault.yaml" -c "$URI" --yes --virsh /lab/guest/fault-virsh.sh
    PT_VIRSH_ENV=()
    expect "fault $mode: apply fails but rolls back (exit 1, not 0 or 3)" "$PT_RC" 1
  else
    # the same sequence by hand: detach (real), sabotaged attach, then the rollback passthru must do
    run_step "fault $mode: nodedev-detach" 60 virsh nodedev-detach "$(nodedev $TARGET)"
    expect "fault $mode: device was detached (the fault hits mid-apply)" "$(drv $TARGET)" vfio-pci
    hostdev_xml $TARGET > "$WORK/hostdev.xml"
    run_step "fault $mode: sabotaged attach-device" 60 /lab/guest/fault-virsh.sh -c "$URI" attach-device victim "$WORK/hostdev.xml" --config
    expect_ne "fault $mode: the attach failed" "$RC" 0
    run_step "fault $mode: rollback by hand (nodedev-reattach)" 60 virsh nodedev-reattach "$(nodedev $TARGET)"
  fi
  echo "fault log:"; sed 's/^/  /' /run/lab-fault.log 2>/dev/null
  expect "fault $mode: the fault fired" "$([ -e /run/lab-fault.fired ] && echo yes || echo no)" yes
  rm -f /run/lab-fault /run/lab-fault.fired
  echo "readlink: $(readlink /sys/bus/pci/devices/$TARGET/driver)"
  expect "fault $mode: $TARGET back on its host driver" "$(drv $TARGET)" e1000e
  expect "fault $mode: $TARGET driver_override cleared" "$(override $TARGET)" "(null)"
  if [ "$mode" = undefine ]; then
    expect "fault $mode: victim is gone (the fault removed it)" "$(virsh domstate victim > /dev/null 2>&1 && echo exists || echo gone)" gone
    # the rest of L1 is as before, apart from the domain the fault removed
    snapshot_state "$WORK/after-fault-$mode.state"
    expect_same "fault $mode: PCI drivers, driver_override, /dev/vfio as before" \
      <(sed '/^domain /,$d' "$WORK/before-fault-$mode.state") <(sed '/^domain /,$d' "$WORK/after-fault-$mode.state")
    expect_same "fault $mode: $L2 untouched" <(sed -n "/^domain $L2\$/,/<\/domain>/p" "$WORK/before-fault-$mode.state") \
      <(sed -n "/^domain $L2\$/,/<\/domain>/p" "$WORK/after-fault-$mode.state")
  else
    expect "fault $mode: victim has no hostdev" "$(has_hostdev victim $TARGET)" 0
    snapshot_state "$WORK/after-fault-$mode.state"
    expect_same "fault $mode: L1 state as before the apply" "$WORK/before-fault-$mode.state" "$WORK/after-fault-$mode.state"
    run_step "undefine victim" 30 virsh undefine victim
  fi
}
fault_case undefine
fault_case kill

# ---------------------------------------------------------------------------------------------------------------
section "7. a host seen only through libvirt (the remote path)"
# A URI alias (L1's /etc/libvirt/libvirt.conf) names L1's own libvirt with no host part passthru could call local,
# so passthru treats it as remote (SPEC 5): devices, drivers and IOMMU groups come from nodedev-list/dumpxml and
# every step is verified through nodedev-dumpxml, not sysfs. The path of `-c qemu+ssh://root@hv2/system`, run
# against real devices.
if [ "$PASSTHRU_READY" = 1 ]; then
  RURI=lab-remote
  cp /etc/libvirt/libvirt.conf "$WORK/libvirt.conf.orig" 2>/dev/null || : > "$WORK/libvirt.conf.orig"
  echo "uri_aliases = [ \"$RURI=qemu:///system\" ]" >> /etc/libvirt/libvirt.conf
  run_step "virsh -c $RURI uri (the alias)" 30 virsh -c "$RURI" uri
  expect "alias resolves to L1's libvirt" "$(STEP_OUT | head -1)" "qemu:///system"
  define_domain remote1
  printf 'version: 1\nvms:\n  remote1:\n    devices:\n      - address: "%s"\n        expect: { vendor: "8086", product: "10d3" }\n' \
    "$TARGET" > "$WORK/remote.yaml"
  pt_plan "$WORK/remote.yaml" "$RURI"
  expect "remote: plan --detailed-exitcode (changes)" "$PT_RC" 2
  expect_match "remote: observed through libvirt only (host-use-unknown warning)" "$(plan_warnings)" host-use-unknown
  expect "remote: plan steps" "$(plan_kinds)" "nodedev-detach@$TARGET attach-hostdev@$TARGET>remote1"
  pt apply -f "$WORK/remote.yaml" -c "$RURI" --yes
  expect "remote: apply --yes exit code" "$PT_RC" 0
  expect "remote: $TARGET driver after apply" "$(drv $TARGET)" vfio-pci
  expect "remote: remote1 persistent XML has the hostdev" "$(has_hostdev remote1 $TARGET)" 1
  pt_plan "$WORK/remote.yaml" "$RURI"
  expect "remote: plan --detailed-exitcode after apply (no changes)" "$PT_RC" 0
  printf 'version: 1\nvms:\n  remote1:\n    devices: []\nrelease:\n  - { address: "%s" }\n' "$TARGET" > "$WORK/remote-release.yaml"
  pt apply -f "$WORK/remote-release.yaml" -c "$RURI" --yes
  expect "remote: release apply --yes exit code" "$PT_RC" 0
  expect "remote: $TARGET driver after release" "$(drv $TARGET)" e1000e
  expect "remote: $TARGET driver_override after release" "$(override $TARGET)" "(null)"
  expect "remote: remote1 persistent XML has no hostdev" "$(has_hostdev remote1 $TARGET)" 0
  # IOMMU groups read from node devices: half of the multi-function group is refused here too
  printf 'version: 1\nvms:\n  remote1:\n    devices:\n      - address: "%s"\n' "$MF0" > "$WORK/remote-mf.yaml"
  snapshot_state "$WORK/before-remote-mf.state"
  pt_plan "$WORK/remote-mf.yaml" "$RURI"
  expect "remote: multi-function half: plan --detailed-exitcode (blocked)" "$PT_RC" 1
  expect_match "remote: multi-function half: block problem about $MF0" "$(plan_blocks)" "@${MF0%.*}"
  pt apply -f "$WORK/remote-mf.yaml" -c "$RURI" --yes
  expect "remote: multi-function half: apply --yes refuses (exit 1)" "$PT_RC" 1
  snapshot_state "$WORK/after-remote-mf.state"
  expect_same "remote: multi-function half: L1 state unchanged" "$WORK/before-remote-mf.state" "$WORK/after-remote-mf.state"
  run_step "undefine remote1" 30 virsh undefine remote1
  cp "$WORK/libvirt.conf.orig" /etc/libvirt/libvirt.conf
else skip "the remote path (passthru only)"; fi

section "cleanup"
run_step "undefine $L2" 30 virsh undefine "$L2"
summary
