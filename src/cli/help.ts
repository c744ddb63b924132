/**
 * `--help` texts. Each answers what an operator asks first: what does it read, what does it change, what do the
 * exit codes mean, and what does a typical call look like.
 */
import type { CommandName } from './args.js';

const COMMON = `Common flags:
  -f, --file FILE     desired state (default ./passthrough.yaml)
  -c, --connect URI   plan/apply one host at URI instead of the file's hosts (e.g. qemu:///system)
      --root DIR      read the local host's /sys, /proc and /etc under DIR (default /; env PASSTHRU_ROOT)
      --virsh PATH    virsh binary (default: virsh on PATH; env PASSTHRU_VIRSH)
      --no-color      no colour (also when NO_COLOR is set or output is not a terminal)
  -q, --quiet         print only what scripts need
      --debug         full error messages and stack traces, every virsh call on stderr`;

const TOP = `passthru — declarative PCI passthrough for libvirt/KVM hosts

passthrough.yaml says which VM gets which PCI device. passthru observes the host
(driver bindings and IOMMU groups from /sys, each VM's <hostdev>s from libvirt),
shows a plan, and applies it: nodedev-detach, attach-device, detach-device,
nodedev-reattach — verifying every step and rolling back on failure.

Usage: passthru COMMAND [flags]

Commands:
  validate   check passthrough.yaml offline (schema + semantics)         changes nothing
  doctor     preflight of the host: VT-d/AMD-Vi, IOMMU groups, vfio       changes nothing
  observe    print the observed host state as a JSON snapshot             changes nothing
  plan       show what apply would do, and what blocks it                 changes nothing
  apply      converge the host to passthrough.yaml                        CHANGES THE HOST
  check      CI drift check: exit 0 in sync, 2 drifted, 1 error          changes nothing
  import     print a passthrough.yaml describing the current assignments changes nothing

Exit codes: 0 ok/in sync, 1 error or blocked plan, 2 changes present
(plan --detailed-exitcode, check), 3 apply failed AND rollback could not restore.

Start with:  passthru doctor && passthru plan
Run 'passthru COMMAND --help' for a command's flags.

${COMMON}
`;

const COMMANDS: Record<CommandName, string> = {
  validate: `Usage: passthru validate [-f FILE] [--format text|json]

Checks passthrough.yaml without touching any host: YAML syntax, the schema
(schemas/passthrough.schema.json), and semantics (a device claimed by two VMs,
a VM on an undeclared host, an address both claimed and released, ...).
Every error is reported as FILE:LINE:COL with what to do.

Exit codes: 0 valid, 1 invalid.
Example: passthru validate -f hosts/hv1/passthrough.yaml
`,
  doctor: `Usage: passthru doctor [-c URI] [--root DIR] [--format text|json]

Preflight of the local host, the runbook's manual checks in one go: CPU
virtualisation, the ACPI DMAR/IVRS table (VT-d / AMD-Vi enabled in firmware),
intel_iommu=on on the kernel command line, IOMMU groups, the vfio-pci module,
interrupt remapping, /dev/vfio, SELinux virt_use_sysfs. Each check says pass,
warn or fail, with the remedy. Reads files only (/sys, /proc, /dev,
/lib/modules); changes nothing.

Exit codes: 0 all checks pass (warnings allowed), 1 a check failed.
Example: passthru doctor
`,
  observe: `Usage: passthru observe [-f FILE | -c URI] [-o FILE]

Prints what passthru sees on each host as a versioned JSON snapshot
(schemas/snapshot.schema.json): PCI devices with driver, IOMMU group, SR-IOV
links and host use (default route, addresses, mounts, swap, boot VGA); every
libvirt domain with its persistent and live hostdevs and interfaces.
A snapshot can be planned against offline: passthru plan --snapshot FILE.
Local hosts are read from /sys (under --root); remote ones through
virsh nodedev-*. Uses a constant number of virsh processes per host.

Exit codes: 0 ok, 1 the host could not be observed.
Example: passthru observe -c qemu:///system -o hv1.json
`,
  plan: `Usage: passthru plan [-f FILE] [--snapshot FILE] [--format text|json|diff|sh]
                    [--detailed-exitcode] [-o PLANFILE]

Observes each host (or reads --snapshot) and shows the ordered actions that
would make it match the file, with the reason for each, plus every problem
that blocks the plan (IOMMU off, a group that is not viable, a host-critical
device, ...). Changes nothing.

  --format text   Terraform-like summary (default)
  --format json   the versioned plan contract (format_version "1") for scripts
  --format diff   unified diff of each VM's persistent XML
  --format sh     the equivalent virsh commands, to review or run by hand
  -o PLANFILE     also save the plan with a fingerprint of what was observed;
                  'passthru apply PLANFILE' refuses it if the host has changed
  --detailed-exitcode  exit 2 when there are changes

Exit codes: 0 no changes (or changes without --detailed-exitcode),
1 error or blocked plan, 2 changes present (with --detailed-exitcode).
Example: passthru plan --format sh > steps.sh
`,
  apply: `Usage: passthru apply [-f FILE | PLANFILE] [--yes] [--lock-timeout DUR]
                     [--journal FILE] [--json]

Converges each host: unplug from VMs, reattach released devices, detach newly
assigned ones to vfio-pci, attach hostdevs, remove replaced interfaces. Every
step is verified by observing its target again (a detach that did not land on
vfio-pci is retried once). On a failed step, completed steps are undone in
reverse order and the report says exactly where the host stands.

Without --yes the plan is shown and confirmation asked on a terminal; a
non-interactive run without --yes refuses. A blocked plan is never applied.
A saved PLANFILE (from plan -o) is refused when the host changed since.
One apply per host at a time (a lock in $PASSTHRU_STATE_DIR or /run/passthru);
--lock-timeout 30s waits that long for another apply to finish.
Each step is appended to a JSONL journal (--journal, $PASSTHRU_JOURNAL,
default /var/log/passthru/journal.jsonl).

Exit codes: 0 applied (or nothing to do), 1 error/refused/failed but rolled
back, 3 failed AND rollback could not restore the previous state.
Example: passthru plan -o plan.json && passthru apply plan.json --yes
`,
  check: `Usage: passthru check [-f FILE] [--snapshot FILE] [--format text|json|junit]

The CI drift check: computes the plan read-only and reports whether each host
matches git. Changes nothing.

Exit codes: 0 in sync, 2 drifted, 1 error (including a blocked plan).
Example (CI): passthru check --format junit > passthru-junit.xml
`,
  import: `Usage: passthru import [-c URI] [--snapshot FILE] [-o FILE [--force]]

Prints a passthrough.yaml that describes the current assignments: every VM
with PCI hostdevs and those devices (with managed and an expect guard from the
hardware), and a protect entry for each device the host itself uses (default
route, addresses, mounts, swap, boot VGA), so an existing host can be brought
under passthru. Changes nothing. -o FILE refuses to replace an existing file
unless --force is given.

Exit codes: 0 ok, 1 the host could not be observed or FILE exists.
Example: passthru import -c qemu:///system -o passthrough.yaml
`,
};

export function helpText(topic?: CommandName): string {
  return topic ? `${COMMANDS[topic]}\n${COMMON}\n` : TOP;
}
