/**
 * Glue for `passthru doctor`: read the facts of a host tree, judge them, and say what the exit code and the text
 * report are. Kept apart from `checks.ts` so that the judging stays pure.
 */
import { ExitCode } from '../errors.js';
import type { DoctorFacts } from '../observe/platform.js';
import { readDoctorFacts } from '../observe/platform.js';
import type { DoctorCheck, DoctorStatus } from './checks.js';
import { doctorChecks } from './checks.js';
import { competingManagerChecks } from './competing.js';
import { sriovPfChecks } from './sriov.js';
import type { DesiredState } from '../model/desired.js';
import { HostFs } from '../io/host-fs.js';
import { hasDriverctlUdevRule, readPersistedBindings } from '../observe/driverctl.js';
import { readCompetingManagers } from '../observe/competing-managers.js';
import { readIommuFacts } from '../observe/platform.js';
import { readPciDevices } from '../observe/sysfs.js';
import { plainStyle, type Style } from '../render/style.js';
import { printable } from '../render/printable.js';
import { block } from '../render/problems.js';

/** What doctor found on one host. */
export interface DoctorReport {
  facts: DoctorFacts;
  checks: DoctorCheck[];
}

/** Reads the local host under `root` (read-only) and judges it. */
export async function runDoctor(root: string): Promise<DoctorReport> {
  const facts = await readDoctorFacts(root);
  return { facts, checks: doctorChecks(facts) };
}

/**
 * The checks of the local host under `root` that `desired` decides: the competing managers of device bindings
 * (SPEC 10, against what the file claims and releases), then the drivers of its `sriov:` PFs (SPEC 11). Read-only.
 */
export async function desiredStateChecks(root: string, desired: DesiredState): Promise<DoctorCheck[]> {
  const fs = new HostFs(root);
  const devices = await readPciDevices(fs);
  const competing = competingManagerChecks({
    bindings: readPersistedBindings(fs),
    driverctlUdevRule: hasDriverctlUdevRule(fs),
    managers: readCompetingManagers(fs),
    cmdline: readIommuFacts(fs).cmdline,
    devices,
    desired,
  });
  return [...competing, ...sriovPfChecks(desired, devices)];
}

/**
 * Facts for a host whose files cannot be read (a remote `qemu+ssh://` host: libvirt does not expose them). Every
 * check then says `skip`; callers may fill in what they learn another way.
 */
export function unobservableDoctorFacts(): DoctorFacts {
  return {
    iommu: { groupsPresent: false, dmarTable: null, ivrsTable: null, cmdline: null },
    iommuGroupCount: null,
    selinux: null,
    cpuVendor: null,
    cpuVirtualization: null,
    kernelRelease: null,
    vfioPci: { state: null, source: 'not observable on a remote host' },
    interruptRemapping: { state: null, source: 'not observable on a remote host' },
    allowUnsafeInterrupts: false,
    devVfio: null,
    devKvm: null,
  };
}

/** 1 when any check failed, else 0: warnings and skips do not fail a preflight. */
export function doctorExitCode(checks: readonly DoctorCheck[]): ExitCode {
  return checks.some((c) => c.status === 'fail') ? ExitCode.error : ExitCode.ok;
}

/** Text report: one line per check, its remedy indented below, then a one-line summary. */
export function formatDoctorText(checks: readonly DoctorCheck[], style: Style = plainStyle): string {
  const label: Record<DoctorStatus, string> = {
    pass: style.green('PASS'),
    fail: style.red('FAIL'),
    warn: style.yellow('WARN'),
    skip: style.dim('SKIP'),
  };
  const lines: string[] = [];
  // Details quote the host's files and virsh's stderr: escaped, like every text from outside.
  for (const c of checks) {
    lines.push(`${label[c.status]}  ${printable(c.title)}: ${block(c.detail)}`);
    if (c.remedy !== undefined) lines.push(`      fix: ${block(c.remedy)}`);
  }
  const count = (s: DoctorStatus) => checks.filter((c) => c.status === s).length;
  lines.push('', `${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
