#!/bin/bash
# lab-scenario: iommu=on timeout=1800
# Scenario "field", INSIDE L1 (intel_iommu=on): SPEC 13 against real devices and a real running L2.
# - device-busy: a process in L1 holding the e1000e NIC's resource0 open blocks the plan (the PID named), nothing changes;
# - verify --qmp: on the running L2 the passed NIC is `seen`; hot-unplugged from the live domain it is `missing` (exit 2);
#   QEMU's real query-pci reply is kept in /lab/out/ (compared with test/fixtures/guest-replies/ outside);
# - a device that does not come back: with e1000e unloaded and blacklisted (inside L1 only), a release reports that the
#   device did not come back, with the remedies, and is not called a success.
# L2 here is the lab's busybox initramfs with one more archive appended whose /init lists the PCI devices, starts
# qemu-ga (the domain has the guest agent channel) and then stays up (the stock one powers off), so that verify has a
# running guest to ask, through QEMU (--qmp) and through the agent; the agent's real replies are kept in /lab/out/.
. "$(dirname "$0")/lib.sh"

TARGET=0000:01:00.0       # e1000e 8086:10d3, alone in its group
L2=l2
L2_INITRD_UP=/var/lib/lab/l2-initrd-up.gz
L2CON=/var/log/libvirt/qemu/$L2-console.log

section "L1 facts"
l1_facts
wait_libvirtd

if [ "$PASSTHRU_READY" != 1 ]; then
  skip "the field scenario is passthru's own (CLI not ready)"
  summary; exit 0
fi

# ---------------------------------------------------------------------------------------------------------------
section "1. device-busy: a process holds $TARGET's resource0"
define_domain "$L2" with-agent
cat > "$WORK/seed.yaml" <<EOF
version: 1
vms:
  $L2:
    devices:
      - address: "$TARGET"
        expect: { vendor: "8086", product: "10d3" }
EOF
cat "$WORK/seed.yaml"
expect "$TARGET driver before" "$(drv $TARGET)" e1000e
sleep 900 3< /sys/bus/pci/devices/$TARGET/resource0 &
HOLDER=$!
wait_until "the holder $HOLDER has resource0 open" 30 eval 'readlink /proc/$HOLDER/fd/3 | grep -q "$TARGET/resource0$"'
echo "holder: pid $HOLDER fd 3 -> $(readlink /proc/$HOLDER/fd/3)"
snapshot_state "$WORK/busy-before"
pt plan -f "$WORK/seed.yaml" -c "$URI"
pt_plan "$WORK/seed.yaml"
expect "plan with the device held --detailed-exitcode (blocked)" "$PT_RC" 1
expect "plan applyable" "$(plan_applyable)" false
expect_match "plan blocks: device-busy on $TARGET" "$(plan_blocks)" "device-busy@$TARGET"
BUSY_MSG=$(jq_node "$WORK/plan.json" 'j.hosts.flatMap(h=>h.problems.filter(p=>p.code==="device-busy").map(p=>p.message)).join(" | ")')
echo "device-busy: $BUSY_MSG"
expect_match "device-busy names the holder's PID" "$BUSY_MSG" "(^|[^0-9])$HOLDER([^0-9]|$)"
expect_match "device-busy names the held file" "$BUSY_MSG" "resource0"
pt apply -f "$WORK/seed.yaml" -c "$URI" --yes
expect "apply --yes with the device held (blocked)" "$PT_RC" 1
snapshot_state "$WORK/busy-after"
expect_same "L1 after the blocked apply" "$WORK/busy-before" "$WORK/busy-after"
expect "$TARGET driver after the blocked apply" "$(drv $TARGET)" e1000e
kill "$HOLDER"; wait "$HOLDER" 2> /dev/null

# ---------------------------------------------------------------------------------------------------------------
section "2. verify --qmp on the running L2"
pt_plan "$WORK/seed.yaml"
expect "plan after the holder exited (changes)" "$PT_RC" 2
expect "plan steps" "$(plan_kinds)" "nodedev-detach@$TARGET attach-hostdev@$TARGET>$L2"
pt apply -f "$WORK/seed.yaml" -c "$URI" --yes
expect "apply --yes exit code" "$PT_RC" 0
expect "$TARGET driver after apply" "$(drv $TARGET)" vfio-pci
expect "$L2 persistent XML has the hostdev" "$(has_hostdev $L2 $TARGET)" 1
# an L2 that stays up: the stock initramfs plus an archive whose /init replaces the stock one (later entries win)
mkdir -p "$WORK/l2up"
cat > "$WORK/l2up/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
echo "L2-GUEST-UP uptime=$(cut -d' ' -f1 /proc/uptime)"
for d in /sys/bus/pci/devices/*; do
  echo "L2-PCI $(basename $d) vendor=$(cat $d/vendor) device=$(cat $d/device) class=$(cat $d/class)"
done
for m in /modules/*.ko; do insmod "$m" || echo "L2-INSMOD-FAILED $m"; done
/bin/l2-agent
last=x
while :; do
  n=$(cat /sys/bus/pci/devices/*/device | grep -c 0x10d3)
  [ "$n" != "$last" ] && echo "L2-NIC-COUNT $n uptime=$(cut -d' ' -f1 /proc/uptime)"
  last=$n; sleep 2
done
EOF
chmod +x "$WORK/l2up/init"
(cd "$WORK/l2up" && echo init | busybox cpio -o -H newc 2> /dev/null | gzip -1) > "$WORK/l2up.cpio.gz"
cat /var/lib/lab/l2-initrd.gz "$WORK/l2up.cpio.gz" > "$L2_INITRD_UP"
virsh dumpxml --inactive "$L2" | sed "s|/var/lib/lab/l2-initrd.gz|$L2_INITRD_UP|" > "$WORK/$L2-up.xml"
run_step "redefine $L2 with the initramfs that stays up" 30 virsh define "$WORK/$L2-up.xml"
rm -f "$L2CON"
run_step "virsh start $L2" 120 virsh start "$L2"
expect "virsh start $L2 rc" "$RC" 0
wait_until "L2 listed its PCI devices and stays up" 720 grep -a -q 'L2-NIC-COUNT 1' "$L2CON"
echo "=== FIGURE l2-up: ${WAITED}s (virsh start -> L2's init listed its devices)"
grep -a 'L2-' "$L2CON" | sed 's/^/  /'
expect "L2 lists the NIC 8086:10d3" "$(grep -a -c 'L2-PCI .* vendor=0x8086 device=0x10d3' "$L2CON")" 1
expect "$L2 is running" "$(virsh domstate $L2 2>&1)" running
mkdir -p /lab/out/guest-replies
VERDICTS='j.hosts.flatMap(h=>h.vms.flatMap(v=>v.devices.map(d=>d.address+"="+d.status))).join(" ")'
# the guest agent in L2 (qemu-ga from the initramfs, on the org.qemu.guest_agent.0 channel): its real replies
wait_until "L2's guest agent answers guest-ping" 240 timeout 20 virsh qemu-agent-command "$L2" '{"execute":"guest-ping"}'
grep -a 'L2-AGENT' "$L2CON" | sed 's/^/  /'
G=/lab/out/guest-replies
# agent_cmd JSON: the agent's reply, asked again (up to 6 times, 5 s apart) while libvirt says the agent is not
# responding or "not available for now": on a busy machine L2's qemu-ga (TCG inside TCG) misses libvirt's 5 s
# guest-sync now and then, and libvirt refuses the next command (CI trial, 2026-12-02: guest-ping ok, then that)
agent_cmd() {
  local out k
  for k in 1 2 3 4 5 6; do
    out=$(timeout 40 virsh qemu-agent-command "$L2" --timeout 30 "$1" 2>&1)
    printf '%s' "$out" | grep -q '^error: Guest agent \(is not responding\|not available for now\)' || break
    echo "  (agent busy, attempt $k: ${out%%$'\n'*})" >&2; sleep 5
  done
  printf '%s\n' "$out"
}
agent_cmd '{"execute":"guest-info"}' > $G/agent-info-l2.json
agent_cmd '{"execute":"guest-get-osinfo"}' > $G/agent-osinfo-l2.json
expect_match "guest-get-osinfo reply recorded" "$(head -c 300 $G/agent-osinfo-l2.json)" '"return"'
echo "guest agent in L2: $(jq_node $G/agent-info-l2.json 'j.return.version'), osinfo: $(head -c 300 $G/agent-osinfo-l2.json)"
# the listing passthru runs (src/libvirt/guest-replies.ts GUEST_PCI_LISTING), read from the built CLI, by /bin/sh
LISTING=$(node -e 'const s=require("fs").readFileSync("/proj/dist/bundle/passthru.js","utf8"); const m=s.match(/GUEST_PCI_LISTING\s*=\s*("(?:[^"\\]|\\.)*"|'"'"'(?:[^'"'"'\\]|\\.)*'"'"')/); process.stdout.write(m ? eval(m[1]) : "")')
expect_match "the CLI's PCI listing found in the bundle" "$LISTING" 'sys/bus/pci/devices'
EXEC=$(node -e 'console.log(JSON.stringify({execute:"guest-exec",arguments:{path:"/bin/sh",arg:["-c",process.argv[1]],"capture-output":true}}))' "$LISTING")
agent_cmd "$EXEC" > $G/agent-exec-l2.json
EPID=$(jq_node $G/agent-exec-l2.json 'j.return.pid')
expect_match "guest-exec of /bin/sh started (pid)" "$EPID" '^[0-9]+$'
exec_status() { agent_cmd '{"execute":"guest-exec-status","arguments":{"pid":'"$EPID"'}}' > "$1"; grep -q '"exited":true' "$1"; }
exec_status $G/agent-exec-status-l2-first.json
# a slow nested guest under load runs the listing late (60 s was not enough beside other work, 2026-12-02)
wait_until "guest-exec-status says exited" 300 exec_status $G/agent-exec-status-l2.json
echo "guest-exec-status: $(head -c 400 $G/agent-exec-status-l2.json)"
L2LIST=$(jq_node $G/agent-exec-status-l2.json 'Buffer.from(j.return["out-data"]||"","base64").toString()')
echo "$L2LIST" | sed 's/^/  agent| /'
expect_match "the listing through the agent has the NIC 8086:10d3" "$L2LIST" ' 0x8086 0x10d3'
expect "the listing's exit code" "$(jq_node $G/agent-exec-status-l2.json 'j.return.exitcode')" 0
agent_cmd '{"execute":"guest-get-devices"}' > $G/agent-get-devices-l2.json
echo "guest-get-devices on Linux: $(head -c 300 $G/agent-get-devices-l2.json)"
a=$(now)
# the nested L2 beside other work ran the listing in 17 s quiet, 173 s busy (CI trial 2026-12-02): --guest-timeout 5m (under pt's 360 s)
pt verify -f "$WORK/seed.yaml" -c "$URI" --format json --guest-timeout 5m
cp "$WORK/pt.out" "$WORK/verify-agent.json"
echo "=== FIGURE verify-agent: $(sub "$a" "$(now)")s"
expect "verify without --qmp, through the guest agent, exit code (all seen)" "$PT_RC" 0
expect_match "verify through the agent: $TARGET seen" "$(jq_node "$WORK/verify-agent.json" "$VERDICTS")" "$TARGET=seen"
expect "verify through the agent: via" "$(jq_node "$WORK/verify-agent.json" 'j.hosts.flatMap(h=>h.vms.map(v=>v.vm+"="+v.via)).join(" ")')" "$L2=agent"
pt verify -f "$WORK/seed.yaml" -c "$URI" --guest-timeout 5m
# without the agent (qemu-ga stopped through itself): unknown without --qmp, then QEMU's query-pci with --qmp
agent_cmd '{"execute":"guest-exec","arguments":{"path":"/bin/sh","arg":["-c","killall qemu-ga"]}}' > /dev/null
wait_until "L2's guest agent stopped answering" 120 eval '! timeout 20 virsh qemu-agent-command '"$L2"' '"'"'{"execute":"guest-ping"}'"'"''
pt verify -f "$WORK/seed.yaml" -c "$URI" --format json
cp "$WORK/pt.out" "$WORK/verify-noqmp.json"
expect "verify without --qmp and without a guest agent exit code (unknown)" "$PT_RC" 1
expect_match "verify without --qmp: $TARGET unknown" "$(jq_node "$WORK/verify-noqmp.json" "$VERDICTS")" "$TARGET=unknown"
a=$(now)
pt verify -f "$WORK/seed.yaml" -c "$URI" --qmp --format json
cp "$WORK/pt.out" "$WORK/verify-seen.json"; cp "$WORK/pt.err" "$WORK/verify-seen.err"
echo "=== FIGURE verify-qmp: $(sub "$a" "$(now)")s"
expect "verify --qmp exit code (all seen)" "$PT_RC" 0
expect_match "verify --qmp: $TARGET seen" "$(jq_node "$WORK/verify-seen.json" "$VERDICTS")" "$TARGET=seen"
expect_match "verify --qmp warns that libvirt taints the domain" "$(cat "$WORK/verify-seen.err")" "tainted"
pt verify -f "$WORK/seed.yaml" -c "$URI" --qmp
# the real replies, for test/fixtures/guest-replies/ (outside L1)
timeout 30 virsh qemu-monitor-command "$L2" --pretty '{"execute":"query-pci"}' > /lab/out/guest-replies/qmp-query-pci-l2.json 2>&1
expect_match "query-pci reply recorded" "$(head -c 200 /lab/out/guest-replies/qmp-query-pci-l2.json)" '"return"'

section "2b. $TARGET hot-unplugged from the live domain: missing"
hostdev_xml "$TARGET" > "$WORK/hostdev.xml"
run_step "virsh detach-device --live" 120 virsh detach-device "$L2" "$WORK/hostdev.xml" --live
expect "detach-device --live rc" "$RC" 0
wait_until "the live XML has no hostdev" 180 eval '! virsh dumpxml '"$L2"' | grep -q "<hostdev"'
echo "=== FIGURE live-unplug: ${WAITED}s"
wait_until "L2 saw the NIC go" 120 grep -a -q 'L2-NIC-COUNT 0' "$L2CON"
pt verify -f "$WORK/seed.yaml" -c "$URI" --qmp --format json
cp "$WORK/pt.out" "$WORK/verify-missing.json"
expect "verify --qmp exit code (missing)" "$PT_RC" 2
expect_match "verify --qmp: $TARGET missing" "$(jq_node "$WORK/verify-missing.json" "$VERDICTS")" "$TARGET=missing"
pt verify -f "$WORK/seed.yaml" -c "$URI" --qmp
timeout 30 virsh qemu-monitor-command "$L2" --pretty '{"execute":"query-pci"}' > /lab/out/guest-replies/qmp-query-pci-l2-unplugged.json 2>&1
run_step "virsh destroy $L2" 60 virsh destroy "$L2"
expect "$L2 persistent XML still has the hostdev" "$(has_hostdev $L2 $TARGET)" 1

# ---------------------------------------------------------------------------------------------------------------
section "3. a device that does not come back: e1000e unloaded and blacklisted (in L1)"
# the NIC must be on vfio-pci for the release to reattach it (libvirt may have returned it at the live unplug)
if [ "$(drv $TARGET)" != vfio-pci ]; then
  run_step "nodedev-detach $TARGET again" 60 virsh nodedev-detach "$(nodedev $TARGET)"
fi
expect "$TARGET driver before the release" "$(drv $TARGET)" vfio-pci
printf 'blacklist e1000e\ninstall e1000e /bin/false\n' > /etc/modprobe.d/lab-no-e1000e.conf
run_step "modprobe -r e1000e (L1's other e1000e NICs lose their driver too; nothing here needs them)" 60 modprobe -r e1000e
expect "e1000e is not loaded" "$(lsmod | grep -c '^e1000e ')" 0
cat > "$WORK/release.yaml" <<EOF
version: 1
vms:
  $L2:
    devices: []
release:
  - { address: "$TARGET" }
EOF
cat "$WORK/release.yaml"
pt_plan "$WORK/release.yaml"
expect "release plan steps" "$(plan_kinds)" "detach-hostdev@$TARGET>$L2 nodedev-reattach@$TARGET"
pt apply -f "$WORK/release.yaml" -c "$URI" --yes
cp "$WORK/pt.out" "$WORK/notback.out"; cat "$WORK/pt.err" >> "$WORK/notback.out"
expect "release apply exit code (failed, rolled back)" "$PT_RC" 1
expect_match "apply says the device did not come back" "$(cat "$WORK/notback.out")" "did not come back"
expect_match "apply gives the nodedev-reset remedy" "$(cat "$WORK/notback.out")" "virsh nodedev-reset $(nodedev $TARGET)"
expect_match "apply gives the remove + rescan remedy" "$(cat "$WORK/notback.out")" "/sys/bus/pci/rescan"
expect_nomatch "apply does not call it a success" "$(cat "$WORK/notback.out")" "^Applied|apply succeeded"
echo "after the release: driver $(drv $TARGET), hostdev in $L2: $(has_hostdev $L2 $TARGET)"
expect_ne "$TARGET is not on e1000e" "$(drv $TARGET)" e1000e
rm -f /etc/modprobe.d/lab-no-e1000e.conf
run_step "modprobe e1000e (back)" 60 modprobe e1000e
summary
