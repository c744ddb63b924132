/**
 * `--help` texts. Each answers what an operator asks first: what does it read, what does it change, what do the
 * exit codes mean, and what does a typical call look like.
 */
import type { CommandName } from './args.js';

const COMMON = `Common flags:
  -f, --file FILE     desired state (default ./passthrough.yaml)
  -c, --connect URI   run against one host at URI instead of the file's (e.g. qemu:///system);
                      a file of several hosts needs --host NAME to say which one
      --host NAME     only this host of the file (repeatable; default: every host);
                      e.g. --host hv1 --host hv2, or --host hv2 -c qemu+ssh://root@10.0.0.2/system
      --root DIR      read the local host's /sys, /proc and /etc under DIR (default /; env PASSTHRU_ROOT)
      --virsh PATH    virsh binary (default: virsh on PATH; env PASSTHRU_VIRSH)
                      (a qemu+ssh:// host's routes, mounts and swaps are read by one ssh per host,
                      BatchMode; env PASSTHRU_SSH: the ssh binary)
      --no-color      no colour (also when NO_COLOR is set or output is not a terminal)
  -q, --quiet         print only what scripts need
      --debug         full error messages and stack traces, every virsh call on stderr`;

/** The flag of every command that works on hosts (all but validate). */
const PARALLELISM = `  --parallelism N  work on at most N hosts at once (default 10)`;

const TOP = `passthru — declarative PCI passthrough for libvirt/KVM hosts

passthrough.yaml says which VM gets which PCI device. passthru observes the host
(driver bindings and IOMMU groups from /sys, each VM's <hostdev>s from libvirt),
shows a plan, and applies it: nodedev-detach, attach-device, detach-device,
nodedev-reattach — verifying every step and rolling back on failure. It also
owns SR-IOV VF counts (sriov:, VFs by PF + index with MAC/VLAN) and, for
managed: false devices, vfio-pci bindings that survive a reboot (driverctl).

Usage: passthru COMMAND [flags]

Commands:
  validate   check passthrough.yaml offline (schema + semantics)         changes nothing
  doctor     preflight of the host: VT-d/AMD-Vi, IOMMU groups, vfio       changes nothing
  observe    print the observed host state as a JSON snapshot             changes nothing
  plan       show what apply would do, and what blocks it                 changes nothing
  apply      converge the host to passthrough.yaml                        CHANGES THE HOST
  check      CI drift check: exit 0 in sync, 2 drifted, 1 error          changes nothing
  import     print a passthrough.yaml describing the current assignments changes nothing
  agent      keep hosts converged from a file or git, unattended         CHANGES THE HOST (--mode apply)
  status     show what the agent last found on each host                 changes nothing
  verify     check that each running VM's guest sees its devices          changes nothing

Exit codes: 0 ok/in sync, 1 error or blocked plan, 2 changes present
(plan --detailed-exitcode, check), 3 apply failed AND rollback could not restore.
Hosts are observed and reported independently: one that cannot be reached is
reported with its error and never hides the others; the exit code is the worst.
Machine-readable output is always --format json.

Start with:  passthru doctor && passthru plan
Run 'passthru COMMAND --help' for a command's flags.

${COMMON}
`;

const COMMANDS: Record<CommandName, string> = {
  validate: `Usage: passthru validate [-f FILE] [--host NAME]... [--format text|json]

Checks passthrough.yaml without touching any host: YAML syntax, the schema
(schemas/passthrough.schema.json), and semantics (a device claimed by two VMs,
a VM on an undeclared host, an address both claimed and released, ...).
Every error is reported as FILE:LINE:COL with what to do.

The whole file is checked; --host must name hosts it declares.

Exit codes: 0 valid, 1 invalid.
Example: passthru validate -f hosts/hv1/passthrough.yaml
Example: passthru validate --host hv1 --format json
`,
  doctor: `Usage: passthru doctor [-c URI | --host NAME]... [--root DIR] [--format text|json]
                      [--parallelism N]

Preflight of the local host, the runbook's manual checks in one go: CPU
virtualisation, the ACPI DMAR/IVRS table (VT-d / AMD-Vi enabled in firmware),
intel_iommu=on on the kernel command line, IOMMU groups, the vfio-pci module,
interrupt remapping, /dev/vfio, SELinux virt_use_sysfs. Then it asks libvirt
(\`virsh -c URI version\`) at the URI that plan would use: -c, else each host of
passthrough.yaml (limited by --host) when there is one, else qemu:///system,
and says why it does not answer (daemon not running, socket permissions,
group libvirt, ssh). Each check says pass, warn or fail, with the remedy.
Reads files only (/sys, /proc, /dev, /lib/modules); changes nothing.

${PARALLELISM}

Exit codes: 0 all checks pass (warnings allowed), 1 a check failed.
Example: passthru doctor
Example: passthru doctor --host hv1 --format json
`,
  observe: `Usage: passthru observe [-f FILE] [--host NAME]... [-c URI] [-o FILE] [--format json]
                       [--parallelism N]

Prints what passthru sees on each host as a versioned JSON snapshot
(schemas/snapshot.schema.json): PCI devices with driver, IOMMU group, SR-IOV
links and host use (default route, addresses, mounts, swap, boot VGA); every
libvirt domain with its persistent and live hostdevs and interfaces.
A snapshot can be planned against offline: passthru plan --snapshot FILE.
Local hosts are read from /sys (under --root); remote ones through
virsh nodedev-*. Uses a constant number of virsh processes per host.
A host that cannot be observed is named on stderr with its error; the
snapshots of the others are still written.

${PARALLELISM}

Exit codes: 0 ok, 1 a host could not be observed.
Example: passthru observe -c qemu:///system -o hv1.json
Example: passthru observe --host hv2 -o hv2.json
`,
  plan: `Usage: passthru plan [-f FILE] [--host NAME]... [--snapshot FILE]
                    [--format text|json|diff|sh] [--detailed-exitcode] [-o PLANFILE]
                    [--parallelism N]

Observes each host (or reads --snapshot) and shows the ordered actions that
would make it match the file, with the reason for each, plus every problem
that blocks the plan (IOMMU off, a group that is not viable, a host-critical
device, ...). A host that cannot be observed is shown with its error (in
json: hosts[].error), and the plan is then not applyable. Changes nothing.

  --format text   Terraform-like summary (default)
  --format json   the versioned plan contract (format_version "1") for scripts
  --format diff   unified diff of each VM's persistent XML
  --format sh     the equivalent virsh commands, to review or run by hand
  -o PLANFILE     also save the plan with a fingerprint of what was observed;
                  'passthru apply PLANFILE' refuses it if the host has changed
                  (a blocked plan is saved too, and says it cannot be applied)
  --detailed-exitcode  exit 2 when there are changes
${PARALLELISM}

Exit codes: 0 no changes (or changes without --detailed-exitcode),
1 error or blocked plan, 2 changes present (with --detailed-exitcode).
Example: passthru plan --format sh > steps.sh
Example: passthru plan --host hv2 --format json
`,
  apply: `Usage: passthru apply [-f FILE | PLANFILE] [--yes] [--lock-timeout DUR]
                     [--journal FILE] [--format text|json] [--parallelism N]
                     [--batches LIST] [--max-failures K] [--verify [--qmp] [--guest-timeout DUR]]
                     [--host NAME]...  (with -f: only these hosts of the file)

Converges each host: unplug from VMs, reattach released devices, detach newly
assigned ones to vfio-pci, attach hostdevs, remove replaced interfaces. Every
step is verified by observing its target again (a detach that did not land on
vfio-pci is retried once). On a failed step, completed steps are undone in
reverse order and the report says exactly where the host stands.
Ctrl-C, SIGTERM or SIGHUP start no new step: the step in flight finishes (or
times out) and everything done is rolled back; further signals are ignored
until the rollback is complete.
--format json (or --json) prints the versioned report on stdout.

Without --yes the plan is shown and confirmation asked on a terminal; a
non-interactive run without --yes refuses. A blocked host is never applied:
a host that is blocked or cannot be observed is refused and reported, and
the other hosts are applied (exit 1).
A saved PLANFILE (from plan -o) is refused when the host changed since.
One apply per host at a time (a lock in $PASSTHRU_STATE_DIR or /run/passthru);
--lock-timeout 30s waits that long for another apply to finish.
Each step is appended to a JSONL journal (--journal, $PASSTHRU_JOURNAL,
default /var/log/passthru/journal.jsonl).
  --parallelism N  observe and change at most N hosts at once (default 10)
  --batches LIST   roll out in waves, like Ansible's serial: each entry is
                   the size of its wave, a count or a percentage of the hosts
                   with changes (rounded down, at least 1); the last entry
                   repeats. 1,10%,100%: one host, then 10%, then the rest
  --max-failures K a wave starts only while at most K hosts have failed so
                   far (default 0); hosts of the waves not started are
                   reported as not attempted
  --verify         after a successful apply, run \`passthru verify\` on the
                   VMs whose running domain was changed (hot-plug/unplug);
                   with --qmp it may ask QEMU, --guest-timeout as verify's
                   (see verify --help)

Exit codes: 0 applied (or nothing to do), 1 error/refused/failed but rolled
back (on any host), 3 failed AND rollback could not restore the previous
state (on any host). With --verify and an apply that succeeded: verify's
exit code (2 a device missing in a guest, 1 one unknown).
Example: passthru plan -o plan.json && passthru apply plan.json --yes
Example: passthru apply --host hv1 --yes
Example: passthru apply --batches 1,10%,100% --yes
`,
  verify: `Usage: passthru verify [-f FILE] [--host NAME]... [--format text|json] [--qmp]
                      [--guest-timeout DUR] [--parallelism N]

For each running VM of the file, checks that every device it claims is in the
running domain (live XML) and is seen by the guest: through the QEMU guest
agent where it answers (a sysfs PCI listing run with guest-exec; Windows:
guest-get-devices), else, only with --qmp, through QEMU's query-pci, which
makes libvirt mark the domain tainted (custom-monitor). A host device is
matched to the guest's by its vendor:device ids (QEMU's qdev_id = the
hostdev's <alias>, or the live XML's guest address, picks among equals).
Each device is seen, missing (with where), or unknown (with why: no agent,
agent not answering, --qmp not given). VMs that are not running are listed
and skipped. Changes nothing (but --qmp taints the domain).

${PARALLELISM}
  --qmp            ask QEMU's monitor when the guest agent does not answer
  --guest-timeout DUR
                   how long a guest has to run the PCI listing before its
                   devices are unknown (default 30s; a busy or booting guest
                   may need more). An agent libvirt holds "not available for
                   now" is asked again, up to 6 times 5 s apart.

Exit codes: 0 every device seen, 2 a device missing, 1 a host not observed or
a device unknown (missing wins over unknown).
Example: passthru verify --host hv1 --format json
Example: passthru verify --qmp
`,
  check: `Usage: passthru check [-f FILE] [--host NAME]... [--snapshot FILE]
                     [--format text|json|junit] [--parallelism N]

The CI drift check: computes the plan read-only and reports whether each host
matches git. Every host is reported: junit has one testsuite per host, and a
host that cannot be observed is a testsuite with an <error>. Changes nothing.

${PARALLELISM}

Exit codes: 0 in sync, 2 drifted, 1 error (a blocked plan, a host not
observed): the worst host's.
Example (CI): passthru check --format junit > passthru-junit.xml
Example: passthru check --host hv1 --host hv2 --format json
`,
  import: `Usage: passthru import [-c URI] [--host NAME]... [--snapshot FILE] [-o FILE [--force]]
                      [--parallelism N]

Prints a passthrough.yaml that describes the current assignments: every VM
with PCI hostdevs and those devices (with managed and an expect guard from the
hardware), and a protect entry for each device the host itself uses (default
route, addresses, mounts, swap, boot VGA), so an existing host can be brought
under passthru. With several hosts, every one must answer (or pick those that
do with --host). Changes nothing. -o FILE refuses to replace an existing file
unless --force is given.

${PARALLELISM}

Exit codes: 0 ok, 1 a host could not be observed or FILE exists.
Example: passthru import -c qemu:///system -o passthrough.yaml
Example: passthru import --host hv2 > hv2.yaml
`,
  agent: `Usage: passthru agent [--source SRC | -f FILE] [--mode check|apply]
                     [--interval DUR] [--state-dir DIR] [--once]
                     [--verify-signatures] [--log-format text|json]
                     [--lock-timeout DUR] [--journal FILE]

Keeps the hosts where the desired state says, unattended. Each reconcile reads
the source, observes every host and plans; in sync or blocked/invalid is
recorded (nothing changed); changes are recorded as drift (--mode check, the
default) or applied exactly like 'passthru apply --yes' (--mode apply: same
lock, journal, verification and rollback).

  --source SRC    a file (default ./passthrough.yaml) or git+URL#REF:PATH,
                  e.g. git+file:///srv/infra.git#main:hv1/passthrough.yaml;
                  git fetches shallow into DIR/source; revision = commit id
                  (a file's revision is sha256:<hex> of its content)
  --verify-signatures  only commits 'git verify-commit' accepts
  --interval DUR  reconcile every DUR (default 60s); also soon after the file
                  changes or a libvirt domain event (debounced 2s)
  --state-dir DIR status.json and passthru.prom (node_exporter textfile
                  format) after every reconcile (default /var/lib/passthru)
  --once          one reconcile, then exit like check
  --lock-timeout  wait this long for another apply's lock (default 5m)
  --log-format    one line per event on stderr: text (default) or json

Failed applies and unreachable hosts or sources are retried with backoff
(10s doubling to 15min, reset by a success or a new revision); a blocked or
invalid revision is not retried until the source or the host changes.
Signals: SIGTERM/SIGINT finish the step in flight (or its rollback), then
exit 0; SIGHUP reconciles now.

Exit codes: 0 stopped by a signal, or --once in sync/applied; 2 --once
drifted; 1 error, or --once blocked/invalid/failed/unreachable.
Example: passthru agent --mode apply --source git+ssh://git@git/infra.git#main:hv1.yaml
`,
  status: `Usage: passthru status [--state-dir DIR] [--format text|json]

Prints what the agent last recorded in DIR/status.json (default
/var/lib/passthru): each host's state (in-sync, applied, drifted, blocked,
invalid, failed, unreachable), since when, its problems, and the next attempt.
--format json prints status.json itself. Changes nothing.

Exit codes: 0 every host in-sync or applied, 2 any drifted, 1 any other state
or no status.
Example: passthru status --format json | jq '.hosts[] | {name, state}'
`,
};

export function helpText(topic?: CommandName): string {
  return topic ? `${COMMANDS[topic]}\n${COMMON}\n` : TOP;
}
