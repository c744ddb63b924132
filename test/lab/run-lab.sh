#!/bin/bash
# The passthru lab (issue 5): real PCI passthrough inside an L1 "hypervisor" VM, driven by `npm run test:lab`.
#
#   1. installs the Debian packages it needs (root), copies the host's node binary for L1, builds the project
#   2. builds the L1 image, or reuses test/lab/cache/<recipe hash>/ (build-image.sh)
#   3. boots one L1 per scenario (QEMU TCG, q35, emulated Intel IOMMU, emulated PCIe NICs), each running
#      test/lab/guest/<scenario>.sh, which writes its log to the per-run share test/lab/work/<run>/<scenario>/out/
#   4. judges each scenario by the guest's own log markers; on failure prints the L1 console tail and the test log
#   5. exits 0 only if every scenario passed
#
# Scenarios: every test/lab/guest/NAME.sh that carries a line `# lab-scenario: KEY=VALUE ...` is scenario NAME
# (adding a scenario is adding that one file). Keys, all optional:
#   iommu=on|off   L1's kernel command line intel_iommu=on iommu=pt (default) or intel_iommu=off
#   boots=N        boot L1 N times (default 1) from one throw-away overlay of the cached image: a real reboot that
#                  keeps L1's disk; each boot's log is kept (out/test.bootI.log, console.bootI.log) and judged
#   sriov=1        give L1 the emulated SR-IOV NIC (igb = Intel 82576, 7 VFs) at 06:00.0; needs QEMU >= 8
#   timeout=S      hard limit of one boot in seconds (default 900; LAB_TIMEOUT_<name> overrides, - as _)
#   needs=WORD,... the scenario is SKIPPED (with that reason, not failed) when the built CLI
#                  (dist/bundle/passthru.js) does not contain each WORD: a feature another branch is still building
# Environment:
#   LAB_SCENARIOS   scenarios to run (default: all, the longest budget first)
#   LAB_PASSTHRU    1 (default): run the passthru steps; fail when the CLI does not build or dist/bundle/passthru.js is missing
#                   auto: run them only if the CLI builds; 0: the raw virsh equivalents only, no build
#   LAB_BUILD       0: do not run `npm run build` (dist/ is used as it is); default 1
#   LAB_SMP         L1 vCPUs (default 1: see README.md for the measurement)
#   LAB_MEM         L1 memory in MiB (default 3072)
#   LAB_PARALLEL    how many L1s run at once (default 2, one vCPU each; 0 or 1: one after the other)
#   LAB_L2_ACCEL    tcg (default): L2 under TCG inside L1; kvm: L2 under nested KVM inside L1 (faster, but TCG's
#                   nested SVM hung L1 about once in 30 L2 starts: see README.md)
#   LAB_RETRY_PANIC 1 (default): a scenario whose L1 kernel panicked (soft lockup, RCU stall...) before finishing is
#                   booted once more (all its boots, from a new overlay); the panic is still reported. 0: no retry
#   LAB_INTERACTIVE 1: boot one L1 (first scenario's hardware) with the console on this terminal, no test, no poweroff
#   LAB_KEEP        number of old run dirs to keep under test/lab/work/ (default 20)
# The body is one function, parsed whole before it runs, so that editing this file during a long run (loop.sh) does
# not feed bash a half-rewritten script.
main() {
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB_PASSTHRU=${LAB_PASSTHRU:-1}
LAB_SMP=${LAB_SMP:-1}
LAB_MEM=${LAB_MEM:-3072}
LAB_PARALLEL=${LAB_PARALLEL:-2}
LAB_INTERACTIVE=${LAB_INTERACTIVE:-0}
LAB_KEEP=${LAB_KEEP:-20}
T_START=$(date +%s)
say() { echo "lab: $*"; }
die() { echo "lab: ERROR: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (mmdebstrap, QEMU with 9p shares)"

# ---- 1. host packages --------------------------------------------------------------------------------------------
PKGS=(mmdebstrap busybox-static cpio qemu-utils e2fsprogs qemu-system-x86 ipxe-qemu)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq && timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"
fi

# ---- scenarios: the guest scripts that declare themselves (see the top of this file) ---------------------------
# scenario_opt NAME KEY DEFAULT: the value of KEY on NAME's `# lab-scenario:` line
scenario_opt() {
  local v; v=$(grep -m1 '^# lab-scenario:' "$HERE/guest/$1.sh" | tr ' ' '\n' | sed -n "s/^$2=//p")
  echo "${v:-$3}"
}
# boot_timeout NAME: seconds one boot of NAME may take (LAB_TIMEOUT_<name> overrides the scenario's own)
boot_timeout() { local var=LAB_TIMEOUT_${1//-/_}; echo "${!var:-$(scenario_opt "$1" timeout 900)}"; }
ALL_SCENARIOS=$(for f in "$HERE"/guest/*.sh; do
    grep -q '^# lab-scenario:' "$f" || continue; sc=$(basename "$f" .sh)
    echo "$(( $(boot_timeout "$sc") * $(scenario_opt "$sc" boots 1) )) $sc"
  done | sort -k1,1nr -k2 | awk '{print $2}' | tr '\n' ' ')
LAB_SCENARIOS=${LAB_SCENARIOS:-$ALL_SCENARIOS}
for sc in $LAB_SCENARIOS; do
  case " $ALL_SCENARIOS " in *" $sc "*) ;; *) die "unknown scenario '$sc' (scenarios: $ALL_SCENARIOS)" ;; esac
done

# ---- QEMU: the igb SR-IOV NIC exists from QEMU 8.0 on (Debian 12 has 7.2; bookworm-backports has 10.0) --------
QEMU_VERSION=$(qemu-system-x86_64 --version | sed -n 's/^QEMU emulator version \([0-9][0-9.]*\).*/\1/p')
say "outer QEMU: ${QEMU_VERSION:-unknown} ($(command -v qemu-system-x86_64))"
for sc in $LAB_SCENARIOS; do
  [ "$(scenario_opt "$sc" sriov 0)" = 1 ] || continue
  [ "${QEMU_VERSION%%.*}" -ge 8 ] 2>/dev/null && continue
  die "scenario $sc needs QEMU >= 8.0 for its emulated SR-IOV NIC (igb), this machine has QEMU ${QEMU_VERSION:-unknown}.
  On Debian 12, add the bookworm-backports suite and install its QEMU:
    printf 'Types: deb\\nURIs: http://deb.debian.org/debian\\nSuites: bookworm-backports\\nComponents: main\\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\\n' > /etc/apt/sources.list.d/backports.sources
    apt-get update && apt-get install -y -t bookworm-backports qemu-system-x86
  (or leave it out: LAB_SCENARIOS='${LAB_SCENARIOS//$sc/}')"
done

# ---- node for L1: the host's own binary (Debian 12 on both sides), shared read-only ---------------------------
NODE=$(command -v node) || die "node not found on PATH"
NODE=$(readlink -f "$NODE")
if ldd "$NODE" | grep -q 'not found'; then die "$NODE has unresolved libraries: $(ldd "$NODE" | grep 'not found')"; fi
NODEDIR=$HERE/work/hostnode
mkdir -p "$NODEDIR"
cmp -s "$NODE" "$NODEDIR/node" || { cp "$NODE" "$NODEDIR/node.tmp" && mv "$NODEDIR/node.tmp" "$NODEDIR/node"; }
say "node for L1: $NODE ($("$NODE" --version))"

# ---- the project: build dist/ so that /proj/bin/passthru.js runs inside L1 ------------------------------------
PASSTHRU_READY=0
T_NPM=$(date +%s)
if [ "$LAB_PASSTHRU" != 0 ]; then
  if [ ! -d "$ROOT/node_modules" ]; then
    say "npm ci"; (cd "$ROOT" && timeout 600 npm ci --no-audit --no-fund) || die "npm ci failed"
  fi
  if [ "${LAB_BUILD:-1}" = 0 ]; then say "LAB_BUILD=0: using dist/ as it is"; built=1
  else
    say "npm run build"
    if (cd "$ROOT" && timeout 600 npm run build) > "$HERE/work/build.log" 2>&1; then built=1; else built=0; fi
  fi
  [ $built = 1 ] || { tail -30 "$HERE/work/build.log"; [ "$LAB_PASSTHRU" = 1 ] && die "npm run build failed"; say "WARNING: npm run build failed"; }
  if [ -f "$ROOT/dist/bundle/passthru.js" ] && [ $built = 1 ]; then PASSTHRU_READY=1
  elif [ "$LAB_PASSTHRU" = 1 ]; then die "LAB_PASSTHRU=1 but dist/bundle/passthru.js is missing after the build"; fi
fi
T_NPM=$(( $(date +%s) - T_NPM ))
say "passthru steps: $([ $PASSTHRU_READY = 1 ] && echo "ON (node /proj/bin/passthru.js)" || echo "OFF (virsh equivalents; LAB_PASSTHRU=$LAB_PASSTHRU)")"

# ---- 2. image ------------------------------------------------------------------------------------------------------
t=$(date +%s)
IMG=$(bash "$HERE/build-image.sh") || die "image build failed"
[ -f "$IMG/BUILD-OK" ] || die "image build failed (no $IMG/BUILD-OK)"
T_IMAGE=$(( $(date +%s) - t ))
say "image: $IMG (${T_IMAGE}s)"

# ---- 3. boot L1 per scenario ---------------------------------------------------------------------------------------
RUN=$HERE/work/run-$(date +%Y%m%d-%H%M%S)-$$
mkdir -p "$RUN"
# keep the newest $LAB_KEEP run dirs
ls -1dt "$HERE"/work/run-* 2>/dev/null | tail -n +$((LAB_KEEP + 1)) | xargs -r rm -rf

# boot_l1 SCENARIO DIR: boots L1 with DIR as /lab, `boots=` times; the guest runs /lab/test.sh -> /lab/guest/SCENARIO.sh.
# One boot runs the cached image with -snapshot; several boots share a throw-away overlay (DIR/disk.qcow2, deleted
# afterwards), so what boot 1 writes to L1's disk is there in boot 2, and the cached image never changes. Each boot
# of a multi-boot scenario leaves out/test.bootI.log, console.bootI.log, qemu.bootI.out and qemu.bootI.rc; a boot
# that did not finish its test ends the scenario (the next boot would judge a half-done disk).
boot_l1() {
  local sc=$1 dir=$2 kiommu tmo boots serial
  case "$(scenario_opt "$sc" iommu on)" in
    off) kiommu="intel_iommu=off" ;;
    *)   kiommu="intel_iommu=on iommu=pt" ;;
  esac
  tmo=$(boot_timeout "$sc"); boots=$(scenario_opt "$sc" boots 1)
  mkdir -p "$dir/out"
  cp -r "$HERE/guest" "$dir/guest"
  printf '#!/bin/bash\nexec /lab/guest/%s.sh\n' "$sc" > "$dir/test.sh"
  chmod +x "$dir/test.sh" "$dir"/guest/*.sh
  if [ "$LAB_INTERACTIVE" = 1 ]; then rm -f "$dir/test.sh"; touch "$dir/no-poweroff"; serial=(-serial mon:stdio)
  else serial=(-serial "file:$dir/console.log" -monitor none); fi
  local disk=$IMG/l1.qcow2 snap=(-snapshot)
  if [ "$boots" -gt 1 ]; then
    disk=$dir/disk.qcow2; snap=()
    qemu-img create -q -f qcow2 -F qcow2 -b "$IMG/l1.qcow2" "$disk" || { echo "1 0" > "$dir/qemu.rc"; return; }
  fi
  # no_timer_check: on a starved host TCG's IO-APIC timer can miss the kernel's early test, which with interrupt
  # remapping is a panic ("timer doesn't work through Interrupt-remapped IO-APIC": once in run 3, load 10 on 2 cores)
  local cmd=(qemu-system-x86_64
    -name "passthru-lab-$sc" -accel tcg -cpu max -smp "$LAB_SMP" -m "$LAB_MEM"
    -machine q35,kernel-irqchip=split
    -device intel-iommu,intremap=on,caching-mode=on
    -nographic -vga none -no-reboot "${snap[@]}"
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img"
    -append "root=/dev/vda rw console=ttyS0 $kiommu net.ifnames=0 systemd.show_status=0 softlockup_panic=1 panic=-1 no_timer_check"
    -drive "file=$disk,if=virtio,format=qcow2,cache=unsafe"
    -virtfs "local,path=$dir,mount_tag=lab,security_model=none,id=lab"
    -virtfs "local,path=$ROOT,mount_tag=proj,security_model=none,readonly=on,id=proj"
    -virtfs "local,path=$NODEDIR,mount_tag=hostnode,security_model=none,readonly=on,id=hostnode"
    # 01:00.0 single e1000e, own root port, own IOMMU group: the passthrough target
    -device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=0x10
    -netdev user,id=n1,restrict=on -device e1000e,bus=rp1,netdev=n1,mac=52:54:00:00:01:01
    # 02:00.0 + 02:00.1 multi-function e1000e: one shared IOMMU group
    -device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2,addr=0x11
    -netdev user,id=n2,restrict=on -device e1000e,bus=rp2,addr=0x0.0x0,multifunction=on,netdev=n2,mac=52:54:00:00:02:00
    -netdev user,id=n3,restrict=on -device e1000e,bus=rp2,addr=0x0.0x1,netdev=n3,mac=52:54:00:00:02:01
    # 03:00.0 PCIe-to-PCI bridge with a conventional e1000 at 04:01.0: a group that includes the bridge
    -device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3,addr=0x12
    -device pcie-pci-bridge,id=pb1,bus=rp3
    -netdev user,id=n4,restrict=on -device e1000,bus=pb1,addr=0x1,netdev=n4,mac=52:54:00:00:03:01
    # 05:00.0 L1's management NIC (static 10.0.2.15/24 + default route in L1; user net, restrict=on: no way out)
    -device pcie-root-port,id=rp5,bus=pcie.0,chassis=5,slot=5,addr=0x13
    -netdev user,id=n5,restrict=on -device e1000e,bus=rp5,netdev=n5,mac=52:54:00:00:05:01
  )
  if [ "$(scenario_opt "$sc" sriov 0)" = 1 ]; then
    # 06:00.0 igb (Intel 82576, SR-IOV: 7 VFs at 06:10.0 + 2i) on its own root port: its own IOMMU group, VFs too
    cmd+=(-device pcie-root-port,id=rp6,bus=pcie.0,chassis=6,slot=6,addr=0x14
          -netdev user,id=n6,restrict=on -device igb,bus=rp6,netdev=n6,mac=52:54:00:00:06:00)
  fi
  echo "${cmd[*]} ${serial[*]}" > "$dir/qemu.cmd"
  if [ "$LAB_INTERACTIVE" = 1 ]; then "${cmd[@]}" "${serial[@]}"; return; fi
  local b t0 rc secs total=0
  for b in $(seq 1 "$boots"); do
    # the guest's own hard limit stays below the outer one, so a stuck test still writes its log and powers off
    printf 'PASSTHRU_READY=%s\nGUEST_TIMEOUT=%s\nSCENARIO=%s\nL2_ACCEL=%s\nBOOT=%s\nBOOTS=%s\n' "$PASSTHRU_READY" \
      $((tmo - 90)) "$sc" "${LAB_L2_ACCEL:-tcg}" "$b" "$boots" > "$dir/lab.env"
    rc=0; t0=$(date +%s)
    timeout -k 10 "$tmo" "${cmd[@]}" "${serial[@]}" < /dev/null > "$dir/qemu.out" 2>&1 &
    echo $! > "$dir/qemu.pid"
    wait $! || rc=$?
    secs=$(( $(date +%s) - t0 )); total=$((total + secs))
    [ "$boots" = 1 ] && break
    echo "$rc $secs" > "$dir/qemu.boot$b.rc"
    mv "$dir/out/test.log" "$dir/out/test.boot$b.log" 2>/dev/null
    mv "$dir/console.log" "$dir/console.boot$b.log" 2>/dev/null
    mv "$dir/qemu.out" "$dir/qemu.boot$b.out" 2>/dev/null
    grep -q '^lab-runner: done' "$dir/out/test.boot$b.log" 2>/dev/null || break
  done
  rm -f "$dir/disk.qcow2"
  echo "$rc $total" > "$dir/qemu.rc"
}

# boot_files DIR: "LOG CONSOLE RCFILE LABEL" per boot that ran (one line for a single-boot scenario)
boot_files() {
  local f b
  if [ ! -f "$1/qemu.boot1.rc" ]; then echo "$1/out/test.log $1/console.log $1/qemu.rc -"; return; fi
  for f in "$1"/qemu.boot*.rc; do
    b=${f##*/qemu.boot}; b=${b%.rc}
    echo "$1/out/test.boot$b.log $1/console.boot$b.log $f boot$b"
  done
}

# l1_panicked DIR: the last boot never finished and L1's kernel panicked (an infrastructure failure, not a verdict
# on passthru: TCG's nested SVM has hung L1 at L2's start about once in 10-30 runs, see README)
l1_panicked() {
  local log console rcf label
  read -r log console rcf label < <(boot_files "$1" | tail -1)
  ! grep -q '^lab-runner: done' "$log" 2>/dev/null &&
    grep -a -q -E 'Kernel panic|soft lockup|rcu.*stall' "$console" 2>/dev/null
}

# waiting_for LOG: what the guest was doing when it stopped writing its log (its last section and step headers), so
# that a timeout says what it waited for
waiting_for() {
  local sec step
  sec=$(grep -a '^===================' "$1" 2>/dev/null | tail -1 | sed 's/^=* *//')
  step=$(grep -a '^### ' "$1" 2>/dev/null | tail -1 | sed 's/^### //')
  echo "${sec:-(none)}; last step: ${step:-(none)}"
}

# judge_log LOG RCFILE: empty when this boot's log passes (the runner's completion marker, FAILS=0, no CHECK
# FAILED line, no skip with the passthru steps on), else why not
judge_log() {
  local log=$1 rc secs
  read -r rc secs < "$2"
  if ! grep -q '^lab-runner: done' "$log" 2>/dev/null; then
    echo "no completion marker (qemu rc=$rc$([ "$rc" = 124 ] && echo ", TIMEOUT after ${secs}s"); guest hung, panicked or never ran the test); last section: $(waiting_for "$log")"
  elif ! grep -q '^TEST SUMMARY: FAILS=0 ' "$log"; then grep -h '^TEST SUMMARY' "$log" || echo 'no TEST SUMMARY line'
  elif grep -q '^CHECK FAILED' "$log"; then echo "CHECK FAILED lines"
  elif [ "$PASSTHRU_READY" = 1 ] && ! grep -q '^TEST SUMMARY: .* SKIPPED=0$' "$log"; then
    echo "passthru steps are ON but checks were skipped: $(grep -h '^CHECK SKIPPED' "$log" | head -3 | tr '\n' ';')"
  fi
}

# judge SCENARIO DIR: PASS only when every boot passes (see judge_log)
judge() {
  local sc=$1 dir=$2 rc secs log console rcf label why="" summ="" w s
  read -r rc secs < "$dir/qemu.rc"
  while read -r log console rcf label; do
    w=$(judge_log "$log" "$rcf")
    s=$(grep -h '^TEST SUMMARY' "$log" 2>/dev/null | tail -1); s=${s#TEST SUMMARY: }
    [ "$label" = - ] && summ=$s || summ+="${summ:+; }$label: ${s:-no summary} ($(cut -d' ' -f2 "$rcf")s)"
    [ -n "$w" ] && why+="${why:+; }$([ "$label" = - ] || echo "$label: ")$w"
  done < <(boot_files "$dir")
  local boots; boots=$(scenario_opt "$sc" boots 1)
  [ "$boots" -gt 1 ] && [ "$(boot_files "$dir" | wc -l)" -lt "$boots" ] && why+="${why:+; }only $(boot_files "$dir" | wc -l) of $boots boots ran"
  local note=""; [ -d "$dir.panicked" ] && note=" (2nd try: the 1st L1 panicked, see $dir.panicked/)"
  if [ -z "$why" ]; then
    echo "$sc PASS ${secs}s $summ$note" >> "$RUN/results"
    say "scenario $sc: PASS in ${secs}s ($summ)"; return 0
  fi
  echo "$sc FAIL ${secs}s $summ$note" >> "$RUN/results"
  say "scenario $sc: FAIL in ${secs}s: $why"
  while read -r log console rcf label; do
    [ -z "$(judge_log "$log" "$rcf")" ] && continue
    [ "$label" = - ] && label=$sc || label="$sc $label"
    echo "----- $label: failed checks"; grep -h '^CHECK FAILED\|TIMEOUT' "$log" 2>/dev/null
    echo "----- $label: L1 console tail ($console)"; tail -n 60 "$console" 2>/dev/null | tr -d '\r'
    echo "----- $label: panics/lockups on the console"; grep -a -E 'Kernel panic|soft lockup|hard LOCKUP|rcu.*stall|BUG:|Oops' "$console" | head -10
    echo "----- $label: test log ($log)"; cat "$log" 2>/dev/null || echo "(none)"
    echo "----- $label: qemu output"; cat "${rcf%.rc}.out" 2>/dev/null
  done < <(boot_files "$dir")
  return 1
}

# missing_needs SCENARIO: the `needs=` words the built CLI does not contain (empty: nothing missing). Without the
# CLI (virsh equivalents) nothing is needed.
missing_needs() {
  local w miss=""
  [ "$PASSTHRU_READY" = 1 ] || return 0
  for w in $(scenario_opt "$1" needs "" | tr ',' ' '); do
    grep -q -- "$w" "$ROOT/dist/bundle/passthru.js" || miss+="${miss:+ }$w"
  done
  echo "$miss"
}

if [ "$LAB_INTERACTIVE" = 1 ]; then
  sc=${LAB_SCENARIOS%% *}; say "interactive L1 ($sc boot); quit with Ctrl-a x"; boot_l1 "$sc" "$RUN/$sc"; exit
fi

say "run dir $RUN; scenarios: $LAB_SCENARIOS; L1: -smp $LAB_SMP -m $LAB_MEM, TCG; $LAB_PARALLEL at once"
: > "$RUN/results"
RUNNABLE=""; skipped=0
for sc in $LAB_SCENARIOS; do
  miss=$(missing_needs "$sc")
  if [ -n "$miss" ]; then
    skipped=$((skipped + 1))
    echo "$sc SKIPPED 0s the built CLI has no '$miss' (a feature not on this branch yet)" >> "$RUN/results"
    say "scenario $sc: SKIPPED: dist/bundle/passthru.js has no '$miss' (the feature it tests is not in this build)"
  else RUNNABLE+="$sc "; fi
done
for sc in $RUNNABLE; do
  say "scenario $sc: $(scenario_opt "$sc" boots 1) boot(s) of at most $(boot_timeout "$sc")s, iommu=$(scenario_opt "$sc" iommu on), sriov=$(scenario_opt "$sc" sriov 0)"
done
# interrupted: stop the L1s this run started (timeout passes the signal on to its QEMU)
trap 'for f in "$RUN"/*/qemu.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; die "interrupted"' INT TERM
for sc in $RUNNABLE; do
  while [ "$(jobs -rp | wc -l)" -ge "$([ "$LAB_PARALLEL" -gt 1 ] 2>/dev/null && echo "$LAB_PARALLEL" || echo 1)" ]; do wait -n; done
  say "booting L1 for scenario $sc ..."
  boot_l1 "$sc" "$RUN/$sc" &
done
wait
for sc in $RUNNABLE; do
  if [ "${LAB_RETRY_PANIC:-1}" = 1 ] && l1_panicked "$RUN/$sc"; then
    say "scenario $sc: L1's kernel panicked before the test finished (infrastructure, not a verdict); booting it once more:"
    read -r _ console _ _ < <(boot_files "$RUN/$sc" | tail -1)
    grep -a -E 'Kernel panic|soft lockup|rcu.*stall|RIP:' "$console" | head -6 | tr -d '\r' | sed 's/^/    /'
    mv "$RUN/$sc" "$RUN/$sc.panicked"
    boot_l1 "$sc" "$RUN/$sc"
  fi
done
passed=0; failed=0
for sc in $RUNNABLE; do
  if judge "$sc" "$RUN/$sc"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
T_TOTAL=$(( $(date +%s) - T_START ))
echo
say "results ($RUN/results): npm ${T_NPM}s, image ${T_IMAGE}s, total ${T_TOTAL}s, passthru steps $([ $PASSTHRU_READY = 1 ] && echo ON || echo OFF)"
sed 's/^/  /' "$RUN/results"
echo "lab: $passed passed, $failed failed, $skipped skipped"
[ $failed = 0 ]
}
main "$@"; exit $?
