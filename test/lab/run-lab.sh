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
# Environment:
#   LAB_SCENARIOS   scenarios to run (default "main iommu-off"): main = intel_iommu=on, iommu-off = intel_iommu=off
#   LAB_PASSTHRU    1 (default): run the passthru steps; fail when the CLI does not build or dist/bundle/passthru.js is missing
#                   auto: run them only if the CLI builds; 0: the raw virsh equivalents only, no build
#   LAB_BUILD       0: do not run `npm run build` (dist/ is used as it is); default 1
#   LAB_SMP         L1 vCPUs (default 1: see README.md for the measurement)
#   LAB_MEM         L1 memory in MiB (default 3072)
#   LAB_TIMEOUT_main / LAB_TIMEOUT_iommu_off   hard limit of one L1 boot in seconds (default 1800 / 600: at least
#                   2x the slowest quiet run, 662 s / 93 s: a busy machine ran `main` out of a 720 s budget, and took 1249 s with 8 other jobs beside it)
#   LAB_PARALLEL    1 (default): boot the scenarios side by side, one vCPU each; 0: one after the other
#   LAB_L2_ACCEL    tcg (default): L2 under TCG inside L1; kvm: L2 under nested KVM inside L1 (faster, but TCG's
#                   nested SVM hung L1 about once in 30 L2 starts: see README.md)
#   LAB_RETRY_PANIC 1 (default): a scenario whose L1 kernel panicked (soft lockup, RCU stall...) before finishing is
#                   booted once more; the panic is still reported. 0: no retry
#   LAB_INTERACTIVE 1: boot one L1 (first scenario) with the console on this terminal, no test, no poweroff
#   LAB_KEEP        number of old run dirs to keep under test/lab/work/ (default 20)
# The body is one function, parsed whole before it runs, so that editing this file during a long run (loop.sh) does
# not feed bash a half-rewritten script.
main() {
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB_SCENARIOS=${LAB_SCENARIOS:-main iommu-off}
LAB_PASSTHRU=${LAB_PASSTHRU:-1}
LAB_SMP=${LAB_SMP:-1}
LAB_MEM=${LAB_MEM:-3072}
LAB_PARALLEL=${LAB_PARALLEL:-1}
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

# boot_l1 SCENARIO DIR: boots L1 with DIR as /lab; the guest runs /lab/test.sh -> /lab/guest/SCENARIO.sh
boot_l1() {
  local sc=$1 dir=$2 kiommu tmo serial
  case "$sc" in
    iommu-off) kiommu="intel_iommu=off"; tmo=${LAB_TIMEOUT_iommu_off:-600} ;;
    *)         kiommu="intel_iommu=on iommu=pt"; tmo=${LAB_TIMEOUT_main:-1800} ;;
  esac
  mkdir -p "$dir/out"
  cp -r "$HERE/guest" "$dir/guest"
  printf '#!/bin/bash\nexec /lab/guest/%s.sh\n' "$sc" > "$dir/test.sh"
  chmod +x "$dir/test.sh" "$dir"/guest/*.sh
  # the guest's own hard limit stays below the outer one, so a stuck test still writes its log and powers off
  printf 'PASSTHRU_READY=%s\nGUEST_TIMEOUT=%s\nSCENARIO=%s\nL2_ACCEL=%s\n' "$PASSTHRU_READY" $((tmo - 90)) "$sc" \
    "${LAB_L2_ACCEL:-tcg}" > "$dir/lab.env"
  if [ "$LAB_INTERACTIVE" = 1 ]; then rm -f "$dir/test.sh"; touch "$dir/no-poweroff"; serial=(-serial mon:stdio)
  else serial=(-serial "file:$dir/console.log" -monitor none); fi
  local cmd=(qemu-system-x86_64
    -name "passthru-lab-$sc" -accel tcg -cpu max -smp "$LAB_SMP" -m "$LAB_MEM"
    -machine q35,kernel-irqchip=split
    -device intel-iommu,intremap=on,caching-mode=on
    -nographic -vga none -no-reboot -snapshot
    -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img"
    -append "root=/dev/vda rw console=ttyS0 $kiommu net.ifnames=0 systemd.show_status=0 softlockup_panic=1 panic=-1"
    -drive "file=$IMG/l1.qcow2,if=virtio,format=qcow2,cache=unsafe"
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
  echo "${cmd[*]} ${serial[*]}" > "$dir/qemu.cmd"
  local t0 rc=0; t0=$(date +%s)
  if [ "$LAB_INTERACTIVE" = 1 ]; then "${cmd[@]}" "${serial[@]}"; return; fi
  timeout -k 10 "$tmo" "${cmd[@]}" "${serial[@]}" < /dev/null > "$dir/qemu.out" 2>&1 &
  echo $! > "$dir/qemu.pid"
  wait $! || rc=$?
  echo "$rc $(( $(date +%s) - t0 ))" > "$dir/qemu.rc"
}

# l1_panicked DIR: the guest never finished and L1's kernel panicked (an infrastructure failure, not a verdict on
# passthru: TCG's nested SVM has hung L1 at L2's start about once in 10-30 runs, see README)
l1_panicked() {
  ! grep -q '^lab-runner: done' "$1/out/test.log" 2>/dev/null &&
    grep -a -q -E 'Kernel panic|soft lockup|rcu.*stall' "$1/console.log" 2>/dev/null
}

# waiting_for LOG: what the guest was doing when it stopped writing its log (its last section and step headers), so
# that a timeout says what it waited for
waiting_for() {
  local sec step
  sec=$(grep -a '^===================' "$1" 2>/dev/null | tail -1 | sed 's/^=* *//')
  step=$(grep -a '^### ' "$1" 2>/dev/null | tail -1 | sed 's/^### //')
  echo "${sec:-(none)}; last step: ${step:-(none)}"
}

# judge SCENARIO DIR: PASS only with the runner's completion marker, FAILS=0 and no CHECK FAILED line
judge() {
  local sc=$1 dir=$2 log=$2/out/test.log rc secs
  read -r rc secs < "$dir/qemu.rc"
  local verdict=FAIL why=""
  if ! grep -q '^lab-runner: done' "$log" 2>/dev/null; then
    why="no completion marker (qemu rc=$rc$([ "$rc" = 124 ] && echo ", TIMEOUT after ${secs}s"); guest hung, panicked or never ran the test)"
    why+="; last section: $(waiting_for "$log")"
  elif ! grep -q '^TEST SUMMARY: FAILS=0 ' "$log"; then why="$(grep -h '^TEST SUMMARY' "$log" || echo 'no TEST SUMMARY line')"
  elif grep -q '^CHECK FAILED' "$log"; then why="CHECK FAILED lines"
  elif [ "$PASSTHRU_READY" = 1 ] && ! grep -q '^TEST SUMMARY: .* SKIPPED=0$' "$log"; then
    why="passthru steps are ON but checks were skipped: $(grep -h '^CHECK SKIPPED' "$log" | head -3 | tr '\n' ';')"
  else verdict=PASS; fi
  local summ; summ=$(grep -h '^TEST SUMMARY' "$log" 2>/dev/null | tail -1)
  local note=""; [ -d "$dir.panicked" ] && note=" (2nd boot: the 1st L1 panicked, see $dir.panicked/console.log)"
  echo "$sc $verdict ${secs}s ${summ#TEST SUMMARY: }$note" >> "$RUN/results"
  if [ $verdict = PASS ]; then say "scenario $sc: PASS in ${secs}s (${summ#TEST SUMMARY: })"; return 0; fi
  say "scenario $sc: FAIL in ${secs}s: $why"
  echo "----- $sc: failed checks"; grep -h '^CHECK FAILED\|TIMEOUT' "$log" 2>/dev/null
  echo "----- $sc: L1 console tail ($dir/console.log)"; tail -n 60 "$dir/console.log" 2>/dev/null | tr -d '\r'
  echo "----- $sc: panics/lockups on the console"; grep -a -E 'Kernel panic|soft lockup|hard LOCKUP|rcu.*stall|BUG:|Oops' "$dir/console.log" | head -10
  echo "----- $sc: test log ($log)"; cat "$log" 2>/dev/null || echo "(none)"
  echo "----- $sc: qemu output"; cat "$dir/qemu.out" 2>/dev/null
  return 1
}

if [ "$LAB_INTERACTIVE" = 1 ]; then
  sc=${LAB_SCENARIOS%% *}; say "interactive L1 ($sc boot); quit with Ctrl-a x"; boot_l1 "$sc" "$RUN/$sc"; exit
fi

say "run dir $RUN; scenarios: $LAB_SCENARIOS; L1: -smp $LAB_SMP -m $LAB_MEM, TCG"
: > "$RUN/results"
# interrupted: stop the L1s this run started (timeout passes the signal on to its QEMU)
trap 'for f in "$RUN"/*/qemu.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done; die "interrupted"' INT TERM
if [ "$LAB_PARALLEL" = 1 ]; then
  say "booting one L1 per scenario, side by side ..."
  for sc in $LAB_SCENARIOS; do boot_l1 "$sc" "$RUN/$sc" & done; wait
else
  for sc in $LAB_SCENARIOS; do say "booting L1 for scenario $sc ..."; boot_l1 "$sc" "$RUN/$sc"; done
fi
for sc in $LAB_SCENARIOS; do
  if [ "${LAB_RETRY_PANIC:-1}" = 1 ] && l1_panicked "$RUN/$sc"; then
    say "scenario $sc: L1's kernel panicked before the test finished (infrastructure, not a verdict); booting it once more:"
    grep -a -E 'Kernel panic|soft lockup|rcu.*stall|RIP:' "$RUN/$sc/console.log" | head -6 | tr -d '\r' | sed 's/^/    /'
    mv "$RUN/$sc" "$RUN/$sc.panicked"
    boot_l1 "$sc" "$RUN/$sc"
  fi
done
passed=0; failed=0
for sc in $LAB_SCENARIOS; do
  if judge "$sc" "$RUN/$sc"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
T_TOTAL=$(( $(date +%s) - T_START ))
echo
say "results ($RUN/results): npm ${T_NPM}s, image ${T_IMAGE}s, total ${T_TOTAL}s, passthru steps $([ $PASSTHRU_READY = 1 ] && echo ON || echo OFF)"
sed 's/^/  /' "$RUN/results"
echo "lab: $passed passed, $failed failed"
[ $failed = 0 ]
}
main "$@"; exit $?
