#!/bin/bash
# lab-scenario: iommu=on timeout=1500
# Scenario "agent", INSIDE L1 (intel_iommu=on): `passthru agent --mode apply` (SPEC 9) following a real git repo
# with the real libvirt and kernel of L1 (issue 10's lab (a)-(e)):
#   a  a push to a bare repo in L1 makes the running agent converge the host (push-to-converged is measured)
#   b  a hostdev removed by hand (`virsh detach-device --config`) is restored by the agent
#   c  a blocked commit (half of the multi-function group) changes nothing: `blocked`, passthru_plan_blocked 1
#   d  an invalid commit changes nothing: `invalid` with the positioned error
#   e  SIGTERM while the agent's apply has a step in flight: the host ends fully applied or fully rolled back, the
#      agent exits 0 and the host's lock is free (a manual apply takes it at once)
# Every check reads L1 back (sysfs, dumpxml --inactive, the lock dir) or the agent's own files (status.json,
# passthru.prom), never its log. Without the CLI every check is SKIPPED (there is no raw equivalent of an agent).
. "$(dirname "$0")/lib.sh"

TARGET=0000:01:00.0       # e1000e on its own root port, own IOMMU group
MF0=0000:02:00.0          # multi-function e1000e, function 0 ...
MF1=0000:02:00.1          # ... and function 1: one shared IOMMU group
VM=ag1                    # the domain the agent's file owns
REPO=/srv/infra.git       # the bare repo the agent pulls from
CLONE=/root/infra         # where "the operator" commits and pushes
SOURCE="git+file://$REPO#main:passthrough.yaml"
INTERVAL=5s               # short, so that a hand edit (no libvirt event) is found soon
LOCK_DIR=/run/passthru    # the apply lock's directory (PASSTHRU_STATE_DIR unset), one <host>.lock per host

section "L1 facts"
l1_facts
wait_libvirtd
if [ "$PASSTHRU_READY" != 1 ]; then
  skip "the agent scenario (a)-(e) runs passthru agent only: CLI not ready"
  summary; exit 0
fi
run_step "git in L1" 30 git --version
expect "git --version in L1 exit code" "$RC" 0

# opgit ARGS...: the operator's git (the lab runner's environment has no HOME, as a systemd unit without User=; the
# agent keeps it that way, the operator's identity lives in /root/.gitconfig)
opgit() { HOME=/root git "$@"; }
# push_yaml MSG: commits $WORK/next.yaml as passthrough.yaml and pushes it; REV = the commit, PUSHED_AT = when
push_yaml() {
  cp "$WORK/next.yaml" "$CLONE/passthrough.yaml"
  opgit -C "$CLONE" add passthrough.yaml && opgit -C "$CLONE" commit -q -m "$1" || fail "git commit '$1'"
  REV=$(opgit -C "$CLONE" rev-parse HEAD)
  PUSHED_AT=$(now)
  opgit -C "$CLONE" push -q origin HEAD:main || fail "git push '$1'"
  echo "=== pushed $REV: $1"; sed 's/^/  | /' "$WORK/next.yaml"
}
# status_rev_is REV: status.json already refers to REV (a cheap grep: polled while the clock runs)
status_rev_is() { grep -q "\"revision\": *\"$1\"" "$AGENT_STATE_DIR/status.json" 2>/dev/null; }
state_now() { status_host 'h.state'; }
# yaml_for ADDR...: the agent's file giving ADDRs to $VM
yaml_for() {
  { echo "version: 1"; echo "vms:"; echo "  $VM:"
    if [ $# = 0 ]; then echo "    devices: []"; else echo "    devices:"; for a in "$@"; do echo "      - address: \"$a\""; done; fi
  } > "$WORK/next.yaml"
}

section "setup: a bare repo in L1, domain $VM, the agent started"
opgit config --global user.name "lab operator"; opgit config --global user.email lab@l1
opgit config --global init.defaultBranch main
rm -rf "$REPO" "$CLONE" "$AGENT_STATE_DIR"
opgit init -q --bare "$REPO" && opgit clone -q "$REPO" "$CLONE" 2>/dev/null
echo "=== the agent runs with HOME=${HOME:-(unset)}"
define_domain "$VM"
yaml_for
push_yaml "ag1 owned, no devices"
REV0=$REV
rm -f /run/lab-fault /run/lab-fault.fired /run/lab-fault.log
# the agent's virsh is fault-virsh.sh: the real virsh while /run/lab-fault is absent; (e) uses it to hold a step
(cd "$WORK" && exec node "$PT_BIN" agent --source "$SOURCE" --mode apply --interval "$INTERVAL" \
   --state-dir "$AGENT_STATE_DIR" --virsh /lab/guest/fault-virsh.sh) > "$WORK/agent.out" 2> "$WORK/agent.log" &
AGENT_PID=$!
echo "=== agent pid $AGENT_PID: passthru agent --source $SOURCE --mode apply --interval $INTERVAL --state-dir $AGENT_STATE_DIR"
# the first reconcile pays node's start from 9p, the first fetch and observation: 30-60 s under TCG
if ! wait_until "the agent's first reconcile of $REV0 is in-sync" 300 eval 'status_rev_is $REV0 && [ "$(state_now)" = in-sync ]'; then
  # nothing after this can pass: say why and stop (every later wait would run out its own budget)
  fail "the agent never recorded in-sync for $REV0 (status: $(status_host 'h.state+" "+JSON.stringify(h.problems)'))"
  echo "--- the agent's log:"; tail -n 40 "$WORK/agent.log" | sed 's/^/  | /'
  kill -TERM "$AGENT_PID"; summary; exit 0
fi
expect "agent: first state (ag1 owned, no devices)" "$(state_now)" in-sync
expect "agent: status.json source revision" "$(jq_node "$AGENT_STATE_DIR/status.json" 'j.source.revision')" "$REV0"
expect "agent: status.json agent.mode" "$(jq_node "$AGENT_STATE_DIR/status.json" 'j.agent.mode')" apply
expect "agent: status.json agent.pid" "$(jq_node "$AGENT_STATE_DIR/status.json" 'String(j.agent.pid)')" "$AGENT_PID"
expect "$TARGET on its host driver before the push" "$(drv $TARGET)" e1000e

# ---------------------------------------------------------------------------------------------------------------
section "a. a push converges the host"
yaml_for "$TARGET"
push_yaml "give $TARGET to $VM"
REV_A=$REV
converged_a() { [ "$(drv $TARGET)" = vfio-pci ] && [ "$(has_hostdev $VM $TARGET)" = 1 ] && status_rev_is "$REV_A"; }
# one interval (5 s) until the fetch sees the commit, then observe + plan + apply (~10-20 s under TCG): 180 s
wait_until "L1 converged on $REV_A ($TARGET on vfio-pci, in $VM's persistent XML, status.json on the commit)" 180 converged_a
PUSH_TO_CONVERGED=$WAITED
echo "=== FIGURE push-to-converged: ${PUSH_TO_CONVERGED}s (git push -> read back from L1)"
expect "a: $TARGET driver" "$(drv $TARGET)" vfio-pci
expect "a: $VM persistent XML has the hostdev" "$(has_hostdev $VM $TARGET)" 1
expect_match "a: agent state after the push" "$(state_now)" '^(applied|in-sync)$'
expect "a: status revision is the pushed commit" "$(status_host 'h.revision')" "$REV_A"
expect_match "a: passthru_applies_total{result=\"applied\"} counts the apply" \
  "$(grep -E '^passthru_applies_total\{.*result="applied"' "$AGENT_STATE_DIR/passthru.prom")" ' [1-9][0-9]*$'
expect_match "a: passthru_desired_revision_info names the commit" \
  "$(grep -E '^passthru_desired_revision_info\{' "$AGENT_STATE_DIR/passthru.prom")" "revision=\"$REV_A\""
wait_until "the next reconcile records in-sync" 120 eval '[ "$(state_now)" = in-sync ]'
expect "a: in-sync at the next reconcile" "$(state_now)" in-sync
expect "a: passthru_host_in_sync" "$(metric passthru_host_in_sync)" 1
pt status --state-dir "$AGENT_STATE_DIR"
expect "a: passthru status exit code (in sync)" "$PT_RC" 0

# ---------------------------------------------------------------------------------------------------------------
section "b. a hostdev removed by hand is restored"
hostdev_xml $TARGET > "$WORK/hostdev.xml"
run_step "by hand: virsh detach-device $VM --config (libvirt sends no event for it)" 60 virsh detach-device "$VM" "$WORK/hostdev.xml" --config
expect "b: the hand edit removed the hostdev" "$(has_hostdev $VM $TARGET)" 0
wait_until "the agent restored the hostdev in $VM" 180 eval '[ "$(has_hostdev $VM $TARGET)" = 1 ]'
echo "=== FIGURE hand-edit-restored: ${WAITED}s (detach-device --config -> hostdev back, interval $INTERVAL)"
expect "b: $VM persistent XML has the hostdev again" "$(has_hostdev $VM $TARGET)" 1
expect "b: $TARGET still on vfio-pci" "$(drv $TARGET)" vfio-pci
wait_until "status.json records the repair" 60 eval '[ "$(state_now)" = applied ] || [ "$(state_now)" = in-sync ]'
expect_match "b: agent state after the repair" "$(state_now)" '^(applied|in-sync)$'

# ---------------------------------------------------------------------------------------------------------------
section "c. a blocked commit (half of the multi-function group) changes nothing"
wait_until "the agent is idle in-sync" 120 eval '[ "$(state_now)" = in-sync ]'
snapshot_state "$WORK/before-c.state"
yaml_for "$TARGET" "$MF0"
push_yaml "also give $MF0 (its group mate $MF1 stays on e1000e)"
REV_C=$REV
wait_until "the agent read $REV_C" 180 status_rev_is "$REV_C"
expect "c: agent state" "$(state_now)" blocked
expect_match "c: status has a block problem about $MF0" \
  "$(status_host 'h.problems.filter(p=>p.severity==="block").map(p=>p.code+"@"+(p.address||"-")).join(" ")')" "@${MF0%.*}"
expect "c: passthru_plan_blocked" "$(metric passthru_plan_blocked)" 1
expect_match "c: passthru_host_state{state=\"blocked\"} 1" "$(grep -E '^passthru_host_state\{.*state="blocked"' "$AGENT_STATE_DIR/passthru.prom")" ' 1$'
pt status --state-dir "$AGENT_STATE_DIR"
expect "c: passthru status exit code (blocked)" "$PT_RC" 1
expect_match "c: passthru status says blocked" "$(cat "$WORK/pt.out")" blocked
pt status --state-dir "$AGENT_STATE_DIR" --format json
expect "c: passthru status --format json: state" "$(jq_node "$WORK/pt.out" 'j.hosts[0].state')" blocked
sleep 12   # two more intervals: a blocked revision is observed again but never applied
snapshot_state "$WORK/after-c.state"
expect_same "c: L1 state after the blocked commit (and two more intervals)" "$WORK/before-c.state" "$WORK/after-c.state"
expect "c: $MF0 still on e1000e" "$(drv $MF0)" e1000e

# ---------------------------------------------------------------------------------------------------------------
section "d. an invalid commit changes nothing"
printf 'version: 1\nvms:\n  %s:\n    devices:\n      - address: "%s"\n        bogus: true\n' "$VM" "$TARGET" > "$WORK/next.yaml"
push_yaml "an unknown key at line 6"
REV_D=$REV
wait_until "the agent read $REV_D" 180 status_rev_is "$REV_D"
expect "d: agent state" "$(state_now)" invalid
MSG=$(status_host 'h.problems.map(p=>p.code+": "+p.message).join(" | ")')
echo "=== d: problems: $MSG"
expect_match "d: the positioned error (file:line:col) names line 6" "$MSG" 'passthrough\.yaml:6:[0-9]+: '
expect_match "d: the error names the unknown key" "$MSG" bogus
expect_match "d: passthru_host_state{state=\"invalid\"} 1" "$(grep -E '^passthru_host_state\{.*state="invalid"' "$AGENT_STATE_DIR/passthru.prom")" ' 1$'
pt status --state-dir "$AGENT_STATE_DIR"
expect "d: passthru status exit code (invalid)" "$PT_RC" 1
expect_match "d: passthru status says invalid" "$(cat "$WORK/pt.out")" invalid
expect_match "d: passthru status shows the position" "$(cat "$WORK/pt.out")" 'passthrough\.yaml:6:'
snapshot_state "$WORK/after-d.state"
expect_same "d: L1 state after the invalid commit" "$WORK/before-c.state" "$WORK/after-d.state"

# ---------------------------------------------------------------------------------------------------------------
section "e. SIGTERM while the agent's apply has a step in flight"
snapshot_state "$WORK/before-e.state"
# every nodedev-detach of the agent's virsh now waits 10 s before it runs: the first one is the step in flight
printf 'FAULT_MODE=delay\nFAULT_DELAY=10\nFAULT_ON=nodedev-detach\n' > /run/lab-fault
yaml_for "$TARGET" "$MF0" "$MF1"
push_yaml "the whole multi-function group $MF0 + $MF1"
cp "$WORK/next.yaml" "$WORK/whole-group.yaml"
wait_until "the agent's apply has a nodedev-detach in flight" 180 test -e /run/lab-fault.fired
a=$(now); kill -TERM "$AGENT_PID"
echo "=== SIGTERM sent to the agent (pid $AGENT_PID) at $(date +%T.%N)"
# the held step ends within 10 s, then the rollback (a reattach, verified) and the status write: 120 s
wait_until "the agent exited after SIGTERM" 120 eval '! kill -0 $AGENT_PID' || { fail "e: the agent still runs 120 s after SIGTERM"; kill -KILL "$AGENT_PID"; }
wait "$AGENT_PID"; AGENT_RC=$?
echo "=== FIGURE sigterm-to-exit: $(sub "$a" "$(now)")s"
rm -f /run/lab-fault
echo "--- fault log:"; sed 's/^/  /' /run/lab-fault.log 2>/dev/null
echo "--- the agent's log (last 25 lines):"; tail -n 25 "$WORK/agent.log" | sed 's/^/  | /'
expect "e: the agent exits 0 after SIGTERM" "$AGENT_RC" 0
snapshot_state "$WORK/after-e.state"
if diff -q "$WORK/before-e.state" "$WORK/after-e.state" > /dev/null; then OUTCOME=rolled-back
elif [ "$(drv $MF0)$(drv $MF1)" = vfio-pcivfio-pci ] && [ "$(has_hostdev $VM $MF0)$(has_hostdev $VM $MF1)$(has_hostdev $VM $TARGET)" = 111 ]; then OUTCOME=applied
else OUTCOME=partial; diff -u "$WORK/before-e.state" "$WORK/after-e.state" | head -30 | sed 's/^/    /'; fi
echo "=== e: outcome: $OUTCOME; $MF0 $(drv $MF0), $MF1 $(drv $MF1)"
expect_match "e: the host is fully applied or fully rolled back" "$OUTCOME" '^(applied|rolled-back)$'
[ "$OUTCOME" = rolled-back ] && expect_match "e: status.json records the interrupted apply" \
  "$(status_host 'h.state+" "+h.problems.map(p=>p.code).join(",")')" '^failed .*interrupted'
expect "e: no lock left in $LOCK_DIR" "$(ls "$LOCK_DIR" 2>/dev/null | grep -c '\.lock$')" 0
pt apply -f "$WORK/whole-group.yaml" --yes --lock-timeout 10s
expect "e: a manual apply gets the lock at once and applies (exit 0)" "$PT_RC" 0
expect_nomatch "e: ... without taking over a stale lock" "$(cat "$WORK/pt.out" "$WORK/pt.err")" 'took over|stale|taken over'
expect "e: $MF0 on vfio-pci after the manual apply" "$(drv $MF0)" vfio-pci
expect "e: $MF1 on vfio-pci after the manual apply" "$(drv $MF1)" vfio-pci
expect "e: $VM has both functions" "$(has_hostdev $VM $MF0)$(has_hostdev $VM $MF1)" 11

section "cleanup"
echo "--- the agent's log (last 150 lines):"; tail -n 150 "$WORK/agent.log" | sed 's/^/  | /'
run_step "undefine $VM" 30 virsh undefine "$VM"
summary
