/**
 * `passthru doctor`: competing managers of device bindings (SPEC 10) — whatever else decides which driver a device
 * gets, and so fights passthru over it, at boot or later. Each finding is a `warn` (a preflight does not fail on
 * it) that says what, where (`file:line`) and the fix. Pure: it judges plain data.
 *
 * What the file claims is read from the desired state without a plan (doctor has no domains): an address claim
 * names its functions, a selector (`match`) every device of its identity. An override is the file's when it is on
 * a device claimed with `managed: false`, or is a `vfio-pci` override on a device listed under `release` (the
 * planner removes those, plan/bindings.ts); any other is foreign.
 */
import { canonicalOverlaps } from '../model/pci-address.js';
import type { DesiredState, DesiredVm, DeviceClaim } from '../model/desired.js';
import type { PciDevice } from '../model/snapshot.js';
import type { BindingsObservation } from '../observe/driverctl.js';
import { overrideFile } from '../observe/driverctl.js';
import type { CompetingManagerFacts } from '../observe/competing-managers.js';
import type { COMPETING_CHECK_IDS, DoctorCheck } from './checks.js';

/** One of {@link COMPETING_CHECK_IDS}. */
type CompetingCheckId = (typeof COMPETING_CHECK_IDS)[number];

/** What the competing-manager checks judge. */
export interface CompetingInput {
  bindings: BindingsObservation;
  /** driverctl's udev rule (`89-driverctl.rules`) is installed: without it no override is applied at boot. */
  driverctlUdevRule: boolean;
  managers: CompetingManagerFacts;
  /** The kernel command line, null when unreadable. */
  cmdline: string | null;
  devices: readonly PciDevice[];
  /** The desired state (the default one when there is no file): its local hosts' claims and releases count. */
  desired: DesiredState;
}

const REBUILD_INITRAMFS = 'then rebuild the initramfs: `update-initramfs -u` (Debian/Ubuntu) or `dracut -f` (RHEL/Fedora)';

/** Module names compare with `-` and `_` alike, as modprobe does. */
const moduleName = (m: string) => m.replace(/-/g, '_');

/** The devices each claim of a local VM names, with the claim's `managed`. */
function claimedDevices(input: CompetingInput): { device: PciDevice; managed: boolean; vm: DesiredVm }[] {
  const local = new Set(input.desired.hosts.filter((h) => h.local).map((h) => h.name));
  return input.desired.vms
    .filter((vm) => local.has(vm.host))
    .flatMap((vm) =>
      vm.devices.flatMap((claim) =>
        input.devices
          .filter((d) => claimNames(claim, d, input.devices))
          .map((device) => ({ device, managed: claim.managed, vm })),
      ),
    );
}

/** Whether `claim` may name `d`: a selector names every device it could pick, a VF selector every VF of its PF. */
function claimNames(claim: DeviceClaim, d: PciDevice, devices: readonly PciDevice[]): boolean {
  switch (claim.kind) {
    case 'address':
      return canonicalOverlaps(claim.address, d.address);
    case 'match':
      return d.vendor === claim.match.vendor && d.product === claim.match.product;
    case 'vf':
      return devices.find((pf) => pf.address === claim.pf)?.virtualFunctions[claim.index] === d.address;
    case 'vf-match':
      return d.physFunction === claim.pf;
  }
}

function warn(id: CompetingCheckId, title: string, detail: string, remedy: string): DoctorCheck {
  return { id, title, status: 'warn', detail, remedy };
}

function pass(id: CompetingCheckId, title: string, detail: string): DoctorCheck {
  return { id, title, status: 'pass', detail };
}

function driverctlOverrides(input: CompetingInput): DoctorCheck[] {
  const title = 'driverctl overrides';
  if ('bindingsUnknown' in input.bindings) return [{ id: 'driverctl-overrides', title, status: 'skip', detail: input.bindings.bindingsUnknown }];
  const claimed = claimedDevices(input);
  const pinned = new Set(claimed.filter((c) => !c.managed).map((c) => c.device.address));
  const released = input.desired.release.filter((r) => input.desired.hosts.some((h) => h.local && h.name === r.host)).map((r) => r.address);
  const owned = (address: string, driver: string | null) => pinned.has(address) || (driver === 'vfio-pci' && released.some((r) => canonicalOverlaps(r, address)));
  const { driverctl, overrides } = input.bindings.bindings;
  const out: DoctorCheck[] = [];
  if (driverctl !== null && !input.driverctlUdevRule) {
    out.push(
      warn(
        'driverctl-overrides',
        title,
        `${driverctl} is installed but its udev rule 89-driverctl.rules is in neither /usr/lib/udev/rules.d nor /lib/udev/rules.d: no override is applied at boot`,
        'reinstall driverctl (`apt-get install --reinstall driverctl` or `dnf reinstall driverctl`)',
      ),
    );
  }
  for (const o of overrides.filter((x) => !owned(x.address, x.driver))) {
    out.push(
      warn(
        'driverctl-overrides',
        title,
        `${overrideFile(o.address)}:1 binds ${o.address} to ${o.driver ?? `(unreadable: ${o.unreadable ?? ''})`} at every boot, and ${input.desired.file} does not own it`,
        `remove it with \`driverctl unset-override ${o.address}\`, or claim the device in ${input.desired.file} with managed: false so that passthru owns it`,
      ),
    );
  }
  return out.length > 0 ? out : [pass('driverctl-overrides', title, `no driverctl override that ${input.desired.file} does not own`)];
}

function vfioPciIds(input: CompetingInput): DoctorCheck[] {
  const title = 'vfio-pci.ids (binding by vendor:device)';
  const why = 'binds every device of those IDs to vfio-pci at boot, whatever passthrough.yaml says';
  const out: DoctorCheck[] = [];
  const param = input.cmdline?.split(/\s+/).find((w) => /^vfio[-_]pci\.ids=/.test(w));
  if (param) {
    out.push(
      warn('vfio-pci-ids', title, `/proc/cmdline:1 has ${param}: it ${why}`, `remove ${param.split('=')[0]}= from GRUB_CMDLINE_LINUX in /etc/default/grub, run \`update-grub\` (or \`grubby --update-kernel=ALL --remove-args=${param.split('=')[0]}\`) and reboot; claim the devices with managed: false instead`),
    );
  }
  for (const f of input.managers.modprobeVfioIds) {
    out.push(warn('vfio-pci-ids', title, `${f.file}:${f.line} has \`${f.text}\`: it ${why}`, `delete that line, ${REBUILD_INITRAMFS}; claim the devices with managed: false instead`));
  }
  return out.length > 0 ? out : [pass('vfio-pci-ids', title, 'neither the kernel command line nor /etc/modprobe.d sets vfio-pci ids')];
}

function networkManagerSriov(input: CompetingInput): DoctorCheck[] {
  const title = 'NetworkManager SR-IOV settings';
  const found = input.managers.networkManagerSriov;
  if (found.length === 0) return [pass('networkmanager-sriov', title, 'no NetworkManager connection or configuration sets SR-IOV VFs')];
  return found.map((f) =>
    warn(
      'networkmanager-sriov',
      title,
      `${f.file}:${f.line} has \`${f.text}\`: NetworkManager sets the VF count of that device when it activates it, and destroys the VFs passthru assigned when it differs`,
      'remove the setting (`nmcli connection modify <connection> sriov.total-vfs 0`, or delete the [sriov] section / sriov-num-vfs line) so that one manager owns the VF count',
    ),
  );
}

function initramfsDrivers(input: CompetingInput): DoctorCheck[] {
  const title = 'host drivers in the initramfs';
  const early = new Map(input.managers.initramfsDrivers.map((d) => [moduleName(d.driver), d]));
  const out: DoctorCheck[] = [];
  for (const { device, vm } of claimedDevices(input)) {
    const driver = device.driver;
    if (driver === null || driver === 'vfio-pci') continue;
    const f = early.get(moduleName(driver));
    if (!f) continue;
    out.push(
      warn(
        'initramfs-drivers',
        title,
        `${device.address} (claimed for ${vm.name}) is driven by ${driver}, which ${f.file}:${f.line} puts into the initramfs: it binds the device at boot before driverctl's udev rule runs`,
        `remove ${driver} from ${f.file}:${f.line}, ${REBUILD_INITRAMFS}`,
      ),
    );
  }
  const read = input.managers.unreadable.length > 0 ? ` (not read: ${input.managers.unreadable.join('; ')})` : '';
  return out.length > 0 ? out : [pass('initramfs-drivers', title, `no claimed device's driver is named in /etc/initramfs-tools/modules or dracut's add_drivers${read}`)];
}

/** The competing-manager checks, in {@link COMPETING_CHECK_IDS} order. */
export function competingManagerChecks(input: CompetingInput): DoctorCheck[] {
  return [...driverctlOverrides(input), ...vfioPciIds(input), ...networkManagerSriov(input), ...initramfsDrivers(input)];
}
