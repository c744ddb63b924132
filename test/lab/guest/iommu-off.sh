#!/bin/bash
# lab-scenario: iommu=off timeout=600
# Scenario "iommu-off", INSIDE L1 booted with intel_iommu=off (the firmware still has the DMAR table: the case the
# seed's runbook step 2 fixes). passthru doctor must fail and give the remedy; a plan for the seed is blocked and an
# apply changes nothing. Kept cheap: without the CLI nothing here needs libvirtd, so it is not waited for.
. "$(dirname "$0")/lib.sh"
TARGET=0000:01:00.0

section "L1 facts"
l1_facts

section "1b. IOMMU off: the facts doctor must see"
expect_match "cmdline has intel_iommu=off" "$(cat /proc/cmdline)" '(^| )intel_iommu=off( |$)'
expect "no IOMMU groups" "$(ls /sys/kernel/iommu_groups 2>/dev/null | wc -l)" 0
expect "$TARGET has no IOMMU group" "$(group_of $TARGET)" none
dmesg > "$WORK/dmesg.txt"
expect_match "DMAR table present (firmware side is fine)" "$(grep 'ACPI: DMAR' "$WORK/dmesg.txt")" DMAR
expect "$TARGET driver" "$(drv $TARGET)" e1000e
echo "--- kernel's DMAR/IOMMU lines:"; grep -i -E 'DMAR|IOMMU' "$WORK/dmesg.txt" | head -8 | sed 's/^/  /'

if [ "$PASSTHRU_READY" = 1 ]; then
  pt doctor -c "$URI"
  expect "passthru doctor exit code (fails)" "$PT_RC" 1
  expect_match "passthru doctor gives the remedy" "$(cat "$WORK/pt.out" "$WORK/pt.err")" 'intel_iommu=on'

  wait_libvirtd
  ensure_kvm
  define_domain l2 with-bridge
  cat > "$WORK/seed.yaml" <<EOF
version: 1
vms:
  l2:
    devices:
      - address: "$TARGET"
    removeInterfaces:
      - { type: bridge, source: br0 }
EOF
  snapshot_state "$WORK/before.state"
  pt_plan "$WORK/seed.yaml"
  expect "seed plan --detailed-exitcode with IOMMU off (blocked = error)" "$PT_RC" 1
  expect "seed plan applyable" "$(plan_applyable)" false
  expect_ne "seed plan has a block problem" "$(plan_blocks)" ""
  pt apply -f "$WORK/seed.yaml" -c "$URI" --yes
  expect "apply --yes refuses (exit 1)" "$PT_RC" 1
  snapshot_state "$WORK/after.state"
  expect_same "L1 state after the refused apply" "$WORK/before.state" "$WORK/after.state"
  expect "$TARGET driver after the refused apply" "$(drv $TARGET)" e1000e
else
  skip "passthru doctor fails with the remedy (CLI not ready)"
  skip "seed plan/apply blocked with IOMMU off (CLI not ready)"
fi
summary
