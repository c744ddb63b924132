# Helpers for the scenario scripts that run INSIDE the L1 VM (sourced, not run). bash.
#
# Every assertion reads the world back from L1 itself (sysfs driver links, `virsh dumpxml`, L2's console), never
# from passthru's own report. Each check prints one line, `CHECK OK: ...`, `CHECK FAILED: ...` or `CHECK SKIPPED: ...`;
# `summary` prints the closing `TEST SUMMARY: FAILS=N OK=N SKIPPED=N` that run-lab.sh judges.

export LIBVIRT_DEFAULT_URI=qemu:///system LC_ALL=C
[ -f /lab/lab.env ] && . /lab/lab.env
# PASSTHRU_READY=1: the CLI is built (dist/bundle/passthru.js, what bin/passthru.js loads) and the passthru steps
# run; 0: the raw virsh equivalents run.
if [ -z "${PASSTHRU_READY:-}" ]; then
  PASSTHRU_READY=0; [ -f /proj/dist/bundle/passthru.js ] && PASSTHRU_READY=1
fi
URI=qemu:///system
WORK=/tmp/lab; mkdir -p "$WORK"
FAILS=0; OKS=0; SKIPS=0

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", b-a}'; }
uptime_s() { cut -d' ' -f1 /proc/uptime; }
section() { echo; echo "=================== $* (uptime $(uptime_s)s)"; }

ok()   { OKS=$((OKS+1));   echo "CHECK OK: $*"; }
fail() { FAILS=$((FAILS+1)); echo "CHECK FAILED: $*"; }
skip() { SKIPS=$((SKIPS+1)); echo "CHECK SKIPPED: $*"; }

# expect NAME ACTUAL EXPECTED        equality
expect() { if [ "$2" = "$3" ]; then ok "$1 = '$3'"; else fail "$1 = '$2', expected '$3'"; fi; }
# expect_match NAME ACTUAL ERE       extended regex match
expect_match() { if printf '%s' "$2" | grep -Eq -- "$3"; then ok "$1 ~ /$3/"; else fail "$1 = '$2', expected to match /$3/"; fi; }
# expect_nomatch NAME ACTUAL ERE
expect_nomatch() { if printf '%s' "$2" | grep -Eq -- "$3"; then fail "$1 matches /$3/ but must not: '$(printf '%s' "$2" | grep -E -- "$3" | head -3)'"; else ok "$1 !~ /$3/"; fi; }
# expect_ne NAME ACTUAL UNEXPECTED
expect_ne() { if [ "$2" != "$3" ]; then ok "$1 = '$2' (not '$3')"; else fail "$1 = '$2', must not be '$3'"; fi; }
# expect_same NAME FILE_BEFORE FILE_AFTER     files identical (prints the diff otherwise)
expect_same() {
  cat "$2" > "$WORK/same.a"; cat "$3" > "$WORK/same.b"
  if [ ! -s "$WORK/same.a" ]; then fail "$1: nothing to compare (empty snapshot)"
  elif diff -u "$WORK/same.a" "$WORK/same.b" > "$WORK/diff.out"; then ok "$1: unchanged ($(wc -l < "$WORK/same.a") lines compared)"
  else fail "$1: changed:"; sed 's/^/    /' "$WORK/diff.out" | head -40; fi
}

# run_step DESC TIMEOUT cmd...   prints the command, its output, rc and wall time; sets RC
run_step() {
  local d=$1 t=$2; shift 2; local a
  echo "### $d"; echo "\$ $*"
  a=$(now); timeout -k 5 "$t" "$@" > "$WORK/step.out" 2>&1; RC=$?; 
  sed 's/^/  | /' "$WORK/step.out"
  printf '### rc=%s time=%ss (%s)\n' "$RC" "$(sub "$a" "$(now)")" "$d"
  [ "$RC" = 124 ] && echo "### TIMEOUT after ${t}s: $d"
  return 0
}
STEP_OUT() { cat "$WORK/step.out"; }

# pt ARGS...   runs passthru (the CLI under test) as a user would inside L1; output in $WORK/pt.out, rc in PT_RC
PT_TIMEOUT=${PT_TIMEOUT:-360}   # a call took 2-18 s in L1; 360 s is 20x that
PT_BIN=${PT_BIN:-/proj/bin/passthru.js}
PT_VIRSH_ENV=()
pt() {
  local a; echo "### passthru $*"
  a=$(now)
  (cd "$WORK" && timeout -k 5 "$PT_TIMEOUT" env "${PT_VIRSH_ENV[@]}" node "$PT_BIN" "$@") > "$WORK/pt.out" 2> "$WORK/pt.err"
  PT_RC=$?
  sed 's/^/  | /' "$WORK/pt.out"; sed 's/^/  ! /' "$WORK/pt.err"
  printf '### passthru rc=%s time=%ss\n' "$PT_RC" "$(sub "$a" "$(now)")"
  [ "$PT_RC" = 124 ] && echo "### TIMEOUT after ${PT_TIMEOUT}s: passthru $*"
  return 0
}
# pt_plan YAML [URI]   `plan --format json --detailed-exitcode`: JSON in $WORK/plan.json, rc in PT_RC
pt_plan() { pt plan -f "$1" -c "${2:-$URI}" --format json --detailed-exitcode; cp "$WORK/pt.out" "$WORK/plan.json"; }
# jq_node FILE JS-EXPR   evaluates EXPR with `j` = the parsed JSON file; prints strings raw, the rest as JSON
jq_node() {
  node -e 'let r;
try { const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8"));
      r=(new Function("j","return ("+process.argv[2]+")"))(j); }
catch (e) { r="JSON-ERROR: "+String(e.message).split("\n")[0]; }
console.log(typeof r==="string"?r:JSON.stringify(r));' "$1" "$2" 2>&1
}
# plan facts, read from the public JSON contract (SPEC 4)
plan_kinds() { jq_node "$WORK/plan.json" 'j.hosts.flatMap(h=>h.actions.map(a=>a.kind+(a.address?"@"+a.address:"")+(a.vm?">"+a.vm:""))).join(" ")'; }
plan_blocks() { jq_node "$WORK/plan.json" 'j.hosts.flatMap(h=>h.problems.filter(p=>p.severity==="block").map(p=>p.code+"@"+(p.address||"-")+">"+(p.vm||"-"))).join(" ")'; }
plan_warnings() { jq_node "$WORK/plan.json" 'j.hosts.flatMap(h=>h.problems.filter(p=>p.severity==="warn").map(p=>p.code)).join(" ")'; }
plan_applyable() { jq_node "$WORK/plan.json" 'String(j.applyable)'; }

# drv ADDR   basename of the driver link, or "none"
drv() { local l; l=$(readlink "/sys/bus/pci/devices/$1/driver") && echo "${l##*/}" || echo none; }
override() { local o; o=$(cat "/sys/bus/pci/devices/$1/driver_override" 2>/dev/null) || o='?'; echo "${o:-(null)}"; }
group_of() { local l; l=$(readlink "/sys/bus/pci/devices/$1/iommu_group") && echo "${l##*/}" || echo none; }
group_members() { local g; g=$(group_of "$1"); [ "$g" = none ] && { echo none; return; }; ls "/sys/kernel/iommu_groups/$g/devices" | sort | tr '\n' ' ' | sed 's/ $//'; }
vendev() { local v d; read -r v < "/sys/bus/pci/devices/$1/vendor"; read -r d < "/sys/bus/pci/devices/$1/device"; echo "${v#0x}:${d#0x}"; }
pciclass() { local c; read -r c < "/sys/bus/pci/devices/$1/class"; echo "$c"; }
nodedev() { echo "pci_$(echo "$1" | tr ':.' '__')"; }

# hostdev_xml ADDR   a <hostdev managed='yes'> for a PCI address 0000:BB:SS.F
hostdev_xml() {
  local d=${1#0000:}; local bus=${d%%:*} r=${d#*:}; local slot=${r%%.*} fn=${r#*.}
  echo "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x$bus' slot='0x$slot' function='0x$fn'/></source></hostdev>"
}
# has_hostdev DOMAIN ADDR   1 if the persistent XML has a PCI hostdev with that source address, else 0. Only the
# <source> is compared: each hostdev also has the guest-side <address> libvirt gave it, which may spell another
# host device's address (bus 0x02 slot 0 function 0 in the guest while 0000:02:00.0 is a host device)
has_hostdev() {
  local d=${2#0000:}; local bus=${d%%:*} r=${d#*:}; local slot=${r%%.*} fn=${r#*.}
  virsh dumpxml --inactive "$1" 2>/dev/null | tr -d '\n' | sed 's/<hostdev/\n<hostdev/g; s/<\/hostdev>/<\/hostdev>\n/g' \
    | grep '^<hostdev' | sed 's/.*<source>\(.*\)<\/source>.*/\1/' | grep -c "bus='0x$bus' slot='0x$slot' function='0x$fn'"
}
# bridge_ifaces DOMAIN   number of <interface type='bridge'> in the persistent XML
bridge_ifaces() { virsh dumpxml --inactive "$1" 2>/dev/null | grep -c "<interface type='bridge'"; }

# define_domain NAME [with-bridge|with-agent]   a small shut-off domain (L2: busybox initramfs, Debian's kernel of
# L1); with-agent adds the guest agent's virtio channel (L2's /bin/l2-agent starts qemu-ga on it)
define_domain() {
  local name=$1 devices="" type=qemu
  # L2_ACCEL (lab.env): kvm = nested KVM (TCG's -cpu max exposes SVM; ~10 s), tcg = TCG inside TCG (slower, no nested SVM)
  [ -e /dev/kvm ] && [ "${L2_ACCEL:-tcg}" = kvm ] && type=kvm
  [ "${2:-}" = with-agent ] && devices="<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
  [ "${2:-}" = with-bridge ] && devices="<interface type='bridge'><mac address='52:54:00:aa:00:01'/><source bridge='br0'/><model type='virtio'/></interface>"
  cat > "$WORK/$name.xml" <<XML
<domain type='$type'>
  <name>$name</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>/boot/vmlinuz-$(uname -r)</kernel>
    <initrd>/var/lib/lab/l2-initrd.gz</initrd>
    <cmdline>console=ttyS0 panic=-1 quiet loglevel=3</cmdline>
  </os>
  <features><acpi/></features>
  <on_poweroff>destroy</on_poweroff><on_reboot>destroy</on_reboot><on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    $devices
    <serial type='file'><source path='/var/log/libvirt/qemu/$name-console.log'/><target port='0'/></serial>
    <console type='file'><source path='/var/log/libvirt/qemu/$name-console.log'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
XML
  run_step "define domain $name${2:+ ($2)}" 30 virsh define "$WORK/$name.xml"
}

# snapshot_state FILE   what "nothing changed" compares: every PCI device's driver link and driver_override, the
# /dev/vfio nodes, and every domain's state and persistent XML
# (a handful of processes, not a few per device: forks are slow under TCG)
snapshot_state() {
  local dom batch=""
  {
    find /sys/bus/pci/devices/ -mindepth 1 -maxdepth 1 -printf 'pci %f\n' | sort
    find /sys/bus/pci/devices/*/ -maxdepth 1 -name driver -printf 'driver %h -> %l\n' | sed 's|/sys/bus/pci/devices/||; s|-> .*/|-> |' | sort
    grep -H '' /sys/bus/pci/devices/*/driver_override | sed 's|/sys/bus/pci/devices/||' | sort
    echo "vfio: $(ls /dev/vfio 2>/dev/null | sort | tr '\n' ' ')"
    for dom in $(timeout 30 virsh list --all --name | sort); do
      batch+="echo domain $dom; domstate --domain $dom; dumpxml --inactive --domain $dom; "
    done
    [ -n "$batch" ] && timeout 60 virsh "$batch"
  } > "$1" 2>&1
}

# wait_until DESC TIMEOUT CMD...   polls CMD every 0.5 s until it succeeds; WAITED = seconds it took. Prints what it
# waited for either way (a timeout names it), returns CMD's last status
wait_until() {
  local d=$1 t=$2 a; shift 2; a=$(now)
  while ! "$@" > /dev/null 2>&1; do
    if awk -v a="$a" -v b="$(now)" -v t="$t" 'BEGIN{exit !(b-a >= t)}'; then
      WAITED=$(sub "$a" "$(now)"); echo "### TIMEOUT after ${t}s: waited for $d"; return 1
    fi
    sleep 0.5
  done
  WAITED=$(sub "$a" "$(now)"); echo "=== $d: after ${WAITED}s"
}

# the agent's files (SPEC 9) in AGENT_STATE_DIR; status_host EXPR evaluates EXPR with `h` = the first host of
# status.json (the lab's files declare one host)
AGENT_STATE_DIR=${AGENT_STATE_DIR:-/var/lib/passthru}
status_host() { jq_node "$AGENT_STATE_DIR/status.json" "(h => ($1))(j.hosts[0] || {})"; }
# metric NAME   the value of the first sample of NAME in passthru.prom (labels ignored), or "none"
metric() {
  [ -f "$AGENT_STATE_DIR/passthru.prom" ] || { echo none; return; }
  awk -v m="$1" '$1 == m || index($1, m "{") == 1 { print $2; f = 1; exit } END { if (!f) print "none" }' "$AGENT_STATE_DIR/passthru.prom"
}

wait_libvirtd() {
  local a i; a=$(now)
  # 8-9 s measured on a quiet machine; 240 s leaves room for a busy one
  for i in $(seq 1 240); do timeout 10 virsh version > /dev/null 2>&1 && break; sleep 1; done
  if timeout 10 virsh version > /dev/null 2>&1; then
    echo "=== libvirtd answered after $(sub "$a" "$(now)")s (uptime $(uptime_s)s)"
  else fail "libvirtd did not answer within 240s (waited for \`virsh version\` on $URI)"; fi
}

# wait_domain_off NAME TIMEOUT   waits until the domain is shut off; prints the state
wait_domain_off() {
  local st t0=$SECONDS
  while [ $((SECONDS - t0)) -lt "$2" ]; do st=$(timeout 10 virsh domstate "$1" 2>/dev/null); [ "$st" = "shut off" ] && break; sleep 1; done
  st=$(timeout 10 virsh domstate "$1" 2>&1)
  echo "=== domain $1: '$st' after $((SECONDS - t0))s"
  [ "$st" = "shut off" ] || echo "### TIMEOUT after ${2}s: waited for domain $1 to power off (its console: /var/log/libvirt/qemu/$1-console.log)"
}

# ensure_kvm: L2 runs under nested KVM (TCG's -cpu max exposes SVM); udev may load kvm_amd only after the test
# started, and a domain defined before /dev/kvm exists would fall back to TCG-in-TCG (~90 s instead of ~10 s)
ensure_kvm() {
  local i
  for i in $(seq 1 20); do [ -e /dev/kvm ] && break; [ "$i" = 1 ] && { modprobe kvm_amd || modprobe kvm_intel; } 2>/dev/null; sleep 0.5; done
  echo "=== /dev/kvm: $(ls /dev/kvm 2>&1) ($(lsmod | awk '/^kvm_(amd|intel) /{print $1}'))"
}

l1_facts() {
  echo "kernel: $(uname -r)   cmdline: $(cat /proc/cmdline)"
  echo "cpus: $(nproc)  virt flag: $(grep -o -w -m1 'svm\|vmx' /proc/cpuinfo | head -1)  /dev/kvm: $(ls /dev/kvm 2>&1)"
  local a; a=$(now)
  echo "node: $(command -v node) $(timeout 120 node --version 2>&1) (first start from 9p: $(sub "$a" "$(now)")s)"
  echo "--- IOMMU groups:"
  for g in /sys/kernel/iommu_groups/*; do [ -d "$g" ] && echo "  group $(basename "$g"): $(ls "$g/devices" | tr '\n' ' ')"; done
  echo "--- PCI devices:"
  for d in /sys/bus/pci/devices/*; do a=${d##*/}; echo "  $a $(vendev "$a") class=$(pciclass "$a") driver=$(drv "$a") group=$(group_of "$a")"; done
  echo "--- routes:"; ip -4 route; ip -br addr
}

summary() {
  echo
  echo "=== finished at uptime $(uptime_s)s; passthru steps: $([ "$PASSTHRU_READY" = 1 ] && echo ON || echo 'OFF (virsh equivalents)')"
  echo "TEST SUMMARY: FAILS=$FAILS OK=$OKS SKIPPED=$SKIPS"
}
