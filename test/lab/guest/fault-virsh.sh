#!/bin/bash
# A `virsh` that injects a real fault into an apply (passthru --virsh PATH / PASSTHRU_VIRSH), inside L1 only.
# Everything runs the real /usr/bin/virsh, except single commands whose verb is $FAULT_ON (default attach-device),
# which are sabotaged according to /run/lab-fault (shell assignments):
#   FAULT_MODE=undefine FAULT_DOMAIN=NAME   undefine that domain first, then run the real command: libvirt itself
#                                           fails it ("domain not found") — the attach to a domain that no longer exists
#   FAULT_MODE=kill                         the virsh process is killed (SIGKILL) before it does anything
#   FAULT_MODE=delay FAULT_DELAY=S          the real command runs after S seconds (default 8): a step held in
#                                           flight, so that a test can signal passthru while it runs
# Every matching call is sabotaged (or delayed) (a retry fails too); each one is logged in /run/lab-fault.log and marked by
# /run/lab-fault.fired. Batches (one argument holding `cmd; cmd; ...`) and all other verbs (the rollback's
# nodedev-reattach among them) run untouched: observation and recovery stay real.
REAL=/usr/bin/virsh
CONF=/run/lab-fault
FAULT_ON=attach-device
if [ -f "$CONF" ]; then
  # shellcheck source=/dev/null
  . "$CONF"
  for a in "$@"; do
    if [ "$a" = "$FAULT_ON" ]; then
      touch "$CONF.fired"
      echo "$(date +%T.%N) fault-virsh: $FAULT_MODE on: virsh $*" >> /run/lab-fault.log
      case "${FAULT_MODE:-}" in
        undefine) "$REAL" -c qemu:///system undefine "$FAULT_DOMAIN" >> /run/lab-fault.log 2>&1 ;;
        kill) kill -KILL $$ ;;
        delay) sleep "${FAULT_DELAY:-8}" ;;
      esac
      break
    fi
  done
fi
exec "$REAL" "$@"
