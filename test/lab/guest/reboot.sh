#!/bin/bash
# lab-scenario: iommu=on boots=2 timeout=900 needs=persist-binding
# Scenario "reboot", INSIDE L1 (intel_iommu=on), booted twice from one overlay: a real reboot that keeps L1's disk
# (issue 10's lab (f), SPEC 10).
#   boot 1  a `managed: false` device is applied: passthru detaches it and persists the binding through driverctl
#           (action persist-binding: /etc/driverctl.d/pci-ADDR says vfio-pci), then L1 powers off
#   boot 2  the device is on vfio-pci right after boot, before any VM started (driverctl's udev rule bound it), and
#           `passthru agent --once` and `passthru check` report in sync; reboot-to-in-sync is measured
# run-lab.sh skips this scenario when the built CLI has no persist-binding (the bindings branch not merged yet).
# With the virsh equivalents (no CLI) boot 1 runs `driverctl set-override` itself and boot 2 checks the same facts.
. "$(dirname "$0")/lib.sh"

TARGET=0000:01:00.0       # e1000e on its own root port, own IOMMU group
VM=rb1                    # a domain that is defined but never started
KEEP=/var/lib/lab-reboot  # on L1's disk: survives the reboot (the overlay), gone with it afterwards
OVERRIDE=/etc/driverctl.d/pci-$TARGET
AGENT_STATE_DIR=$KEEP/agent

section "L1 facts (boot ${BOOT:-1} of ${BOOTS:-1})"
l1_facts
run_step "driverctl in L1" 30 driverctl --help
expect "driverctl is installed in L1" "$(command -v driverctl >/dev/null && echo yes || echo no)" yes

if [ "${BOOT:-1}" = 1 ]; then
  # -------------------------------------------------------------------------------------------------------------
  section "boot 1: persist a managed: false binding"
  wait_libvirtd
  mkdir -p "$KEEP"
  expect "$TARGET on its host driver at first boot" "$(drv $TARGET)" e1000e
  expect "no driverctl override for $TARGET yet" "$([ -e "$OVERRIDE" ] && echo present || echo absent)" absent
  define_domain "$VM"
  printf 'version: 1\nvms:\n  %s:\n    devices:\n      - address: "%s"\n        managed: false\n' "$VM" "$TARGET" > "$KEEP/boot.yaml"
  cat "$KEEP/boot.yaml"
  if [ "$PASSTHRU_READY" = 1 ]; then
    pt_plan "$KEEP/boot.yaml"
    expect "plan --detailed-exitcode (changes)" "$PT_RC" 2
    expect "plan steps (SPEC 10: persist-binding after the detach, before the attach)" "$(plan_kinds)" \
      "nodedev-detach@$TARGET persist-binding@$TARGET attach-hostdev@$TARGET>$VM"
    pt apply -f "$KEEP/boot.yaml" -c "$URI" --yes
    expect "apply --yes exit code" "$PT_RC" 0
    pt_plan "$KEEP/boot.yaml"
    expect "plan --detailed-exitcode after apply (no changes)" "$PT_RC" 0
  else
    run_step "virsh equivalent: driverctl set-override $TARGET vfio-pci" 120 driverctl set-override "$TARGET" vfio-pci
    expect "driverctl set-override rc" "$RC" 0
  fi
  expect "$TARGET driver after apply" "$(drv $TARGET)" vfio-pci
  expect "driverctl's persisted override for $TARGET" "$(cat "$OVERRIDE" 2>&1)" vfio-pci
  run_step "driverctl list-overrides" 30 driverctl list-overrides
  expect_match "driverctl lists the override" "$(STEP_OUT)" "$TARGET.*vfio-pci"
  [ "$PASSTHRU_READY" = 1 ] && expect_match "$VM has the hostdev with managed='no'" \
    "$(virsh dumpxml --inactive "$VM" | tr -d '\n' | grep -o "<hostdev[^>]*managed='no'")" "managed='no'"
  sync
  date +%s.%N > "$KEEP/shutdown-at"; sync   # the reboot's clock starts here (L1's clock follows the host's RTC)
  summary
  exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
section "boot 2: the binding is there after boot, before any VM starts"
# first, before anything of the test starts a VM or touches the device
AT_BOOT_DRV=$(drv $TARGET); AT_BOOT_OVERRIDE=$(override $TARGET); AT_BOOT_UPTIME=$(uptime_s)
echo "=== at the start of boot 2 (uptime ${AT_BOOT_UPTIME}s): $TARGET driver=$AT_BOOT_DRV driver_override=$AT_BOOT_OVERRIDE"
expect "$KEEP survived the reboot (the same disk)" "$([ -f "$KEEP/shutdown-at" ] && echo yes || echo no)" yes
expect "$TARGET on vfio-pci right after boot" "$AT_BOOT_DRV" vfio-pci
expect "$TARGET driver_override after boot" "$AT_BOOT_OVERRIDE" vfio-pci
expect "driverctl's override is still persisted" "$(cat "$OVERRIDE" 2>&1)" vfio-pci
echo "--- who bound it:"; journalctl -b --no-pager -u "driverctl@pci-$TARGET.service" 2>&1 | tail -5 | sed 's/^/  /'
wait_libvirtd
expect "no domain is running (none was ever started)" "$(timeout 30 virsh list --name | grep -c .)" 0
expect "$VM was never started (no QEMU log)" "$([ -e /var/log/libvirt/qemu/$VM.log ] && echo started || echo never)" never
expect "$TARGET still on vfio-pci once libvirtd is up" "$(drv $TARGET)" vfio-pci
if [ "$PASSTHRU_READY" = 1 ]; then
  pt agent --once -f "$KEEP/boot.yaml" --state-dir "$AGENT_STATE_DIR" -c "$URI"
  expect "agent --once after the reboot exit code (in sync)" "$PT_RC" 0
  expect "agent's status after the reboot" "$(status_host 'h.state')" in-sync
  REBOOT_TO_IN_SYNC=$(sub "$(cat "$KEEP/shutdown-at")" "$(now)")
  echo "=== FIGURE reboot-to-in-sync: ${REBOOT_TO_IN_SYNC}s (end of boot 1 -> agent --once in sync in boot 2; boot 2's uptime then $(uptime_s)s)"
  pt check -f "$KEEP/boot.yaml" -c "$URI"
  expect "check after the reboot (in sync)" "$PT_RC" 0
else skip "passthru agent --once / check after the reboot (CLI not ready)"; fi
summary
