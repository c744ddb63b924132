#!/bin/bash
# Repeats the whole lab to measure its reliability:  test/lab/loop.sh N [LABEL]
# Every run is `run-lab.sh` with the environment passed through (LAB_SMP, LAB_SCENARIOS, LAB_PASSTHRU, ...).
# Per-run output: test/lab/work/loops/LABEL/run-I.log; one line per run in test/lab/work/loops/LABEL/summary.txt.
# Stops early after the first failure when LOOP_STOP_ON_FAIL=1. Exits 0 only if every run passed.
main() {
set -u
N=${1:?usage: loop.sh N [LABEL]}
LABEL=${2:-smp${LAB_SMP:-1}}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/work/loops/$LABEL
mkdir -p "$OUT"
pass=0; fail=0; t0=$(date +%s)
echo "loop $LABEL: $N runs, LAB_SMP=${LAB_SMP:-1} LAB_PASSTHRU=${LAB_PASSTHRU:-1} LAB_L2_ACCEL=${LAB_L2_ACCEL:-tcg} LAB_RETRY_PANIC=${LAB_RETRY_PANIC:-1} LAB_SCENARIOS='${LAB_SCENARIOS:-main iommu-off}' started $(date -Is)" | tee -a "$OUT/summary.txt"
for i in $(seq 1 "$N"); do
  s=$(date +%s)
  bash "$HERE/run-lab.sh" < /dev/null > "$OUT/run-$i.log" 2>&1; rc=$?
  if [ $rc = 0 ]; then pass=$((pass + 1)); v=PASS; else fail=$((fail + 1)); v=FAIL; fi
  scen=$(grep -E '^  [a-z-]+ (PASS|FAIL) ' "$OUT/run-$i.log" | awk '{printf "%s=%s/%s ", $1, $2, $3}')
  # a retried L1 panic is not hidden by a PASS
  panics=$(grep -c "kernel panicked before the test finished" "$OUT/run-$i.log"); p=""
  [ "$panics" != 0 ] && p="L1-panics=$panics "
  echo "$LABEL run $i: $v rc=$rc wall=$(( $(date +%s) - s ))s $scen$p$(grep -o 'run dir [^;]*' "$OUT/run-$i.log" | head -1)" \
    | tee -a "$OUT/summary.txt"
  [ $rc != 0 ] && [ "${LOOP_STOP_ON_FAIL:-0}" = 1 ] && break
done
echo "loop $LABEL: $pass passed, $fail failed in $(( $(date +%s) - t0 ))s" | tee -a "$OUT/summary.txt"
[ $fail = 0 ]
}
main "$@"; exit $?
