/**
 * What else on the local host decides device bindings (SPEC 10, for `passthru doctor`), read from files under the
 * root: each finding says which file and line, so the operator can go and look.
 *
 * - `options vfio-pci ids=…` (or `vfio_pci`) in `/etc/modprobe.d/*.conf` (the kernel command line is in
 *   IommuFacts.cmdline already).
 * - NetworkManager SR-IOV settings: a `[sriov]` section (`total-vfs=`, `vfs=`) in
 *   `/etc/NetworkManager/system-connections/*.nmconnection`, `sriov-num-vfs=` in `/etc/NetworkManager/conf.d/*.conf`
 *   (and the main `NetworkManager.conf`).
 * - Drivers put into the initramfs by name: `/etc/initramfs-tools/modules` (Debian/Ubuntu: one module a line), and
 *   `add_drivers` / `force_drivers` in `/etc/dracut.conf` and `/etc/dracut.conf.d/*.conf` (RHEL/Fedora). A driver in
 *   the initramfs binds its devices before the real root's udev rules (driverctl's among them) run. Listing the
 *   initramfs image itself (`lsinitramfs`, a compressed cpio of tens of MB) is too heavy for a preflight and is not
 *   done, so drivers an initramfs includes on its own (initramfs-tools' `MODULES=most`, dracut's host-only
 *   detection) are not seen.
 *
 * Bounded: at most {@link MAX_FILES} files per directory, each at most {@link MAX_FILE_BYTES}; a file that cannot be
 * read (NetworkManager's connections are root-only) is named in `unreadable` and skipped, never fatal.
 */
import { describeError } from '../io/error-code.js';
import type { HostFs } from '../io/host-fs.js';

/** A configuration line that manages bindings. */
export interface ConfigFinding {
  /** Host path of the file. */
  file: string;
  /** 1-based line number. */
  line: number;
  /** The line as written (trimmed). */
  text: string;
}

/** An initramfs configuration line that includes a driver. */
export interface InitramfsDriver extends ConfigFinding {
  driver: string;
}

/** Everything doctor's competing-manager checks read from the tree. */
export interface CompetingManagerFacts {
  modprobeVfioIds: ConfigFinding[];
  networkManagerSriov: ConfigFinding[];
  initramfsDrivers: InitramfsDriver[];
  /** Files that exist but could not be read, each with why. */
  unreadable: string[];
}

const MAX_FILES = 256;
const MAX_FILE_BYTES = 1024 * 1024;

/** The lines of each file named by `filter` in `dir` (sorted, bounded), with the unreadable ones reported. */
function readConfigs(fs: HostFs, dir: string, filter: (name: string) => boolean, unreadable: string[]): { file: string; lines: string[] }[] {
  let names: string[];
  try {
    names = fs.list(dir).filter(filter);
  } catch (err) {
    unreadable.push(`${dir}: ${describeError(err)}`);
    return [];
  }
  if (names.length > MAX_FILES) unreadable.push(`${dir}: only the first ${MAX_FILES} of ${names.length} files were read`);
  return names.slice(0, MAX_FILES).flatMap((name) => readConfig(fs, `${dir}/${name}`, unreadable));
}

function readConfig(fs: HostFs, file: string, unreadable: string[]): { file: string; lines: string[] }[] {
  try {
    const text = fs.readOptional(file, { maxBytes: MAX_FILE_BYTES });
    return text === null ? [] : [{ file, lines: text.split('\n') }];
  } catch (err) {
    unreadable.push(`${file}: ${describeError(err)}`);
    return [];
  }
}

/** Every line of `files` that `match` accepts, as findings. */
function findLines(files: { file: string; lines: string[] }[], match: (line: string) => boolean): ConfigFinding[] {
  return files.flatMap(({ file, lines }) => lines.flatMap((l, i) => (match(l.trim()) ? [{ file, line: i + 1, text: l.trim() }] : [])));
}

/** `options vfio-pci ids=10de:2330,…` (the module name may be spelled with `_`). */
const MODPROBE_VFIO_IDS = /^options\s+vfio[-_]pci\s+(.*\s)?ids=/;

/** Lines of an ini file inside `[section]` that `match` accepts, and the section header itself when `header`. */
function iniFindings(files: { file: string; lines: string[] }[], section: string, match: (line: string) => boolean, header: boolean): ConfigFinding[] {
  const out: ConfigFinding[] = [];
  for (const { file, lines } of files) {
    let inside = false;
    lines.forEach((raw, i) => {
      const l = raw.trim();
      if (l.startsWith('[')) {
        inside = l === `[${section}]`;
        if (inside && header) out.push({ file, line: i + 1, text: l });
      } else if (inside && match(l)) out.push({ file, line: i + 1, text: l });
    });
  }
  return out;
}

/** dracut's `add_drivers+=" a b "` / `force_drivers=…`: each driver it names. */
function dracutDrivers(files: { file: string; lines: string[] }[]): InitramfsDriver[] {
  return files.flatMap(({ file, lines }) =>
    lines.flatMap((raw, i) => {
      const m = /^\s*(?:add_drivers|force_drivers)\s*\+?=\s*["']?([^"'#]*)/.exec(raw);
      return m ? (m[1] ?? '').trim().split(/\s+/).filter(Boolean).map((driver) => ({ file, line: i + 1, text: raw.trim(), driver })) : [];
    }),
  );
}

/** initramfs-tools' `modules`: one module a line, with its options after it; `#` starts a comment. */
function initramfsToolsDrivers(files: { file: string; lines: string[] }[]): InitramfsDriver[] {
  return files.flatMap(({ file, lines }) =>
    lines.flatMap((raw, i) => {
      const driver = raw.trim().split(/\s+/)[0] ?? '';
      return driver === '' || driver.startsWith('#') ? [] : [{ file, line: i + 1, text: raw.trim(), driver }];
    }),
  );
}

/** Reads the competing managers' configuration under the root. Never throws. */
export function readCompetingManagers(fs: HostFs): CompetingManagerFacts {
  const unreadable: string[] = [];
  const conf = (n: string) => n.endsWith('.conf');
  const modprobe = readConfigs(fs, '/etc/modprobe.d', conf, unreadable);
  const connections = readConfigs(fs, '/etc/NetworkManager/system-connections', (n) => n.endsWith('.nmconnection'), unreadable);
  const nmConf = [...readConfig(fs, '/etc/NetworkManager/NetworkManager.conf', unreadable), ...readConfigs(fs, '/etc/NetworkManager/conf.d', conf, unreadable)];
  const dracut = [...readConfig(fs, '/etc/dracut.conf', unreadable), ...readConfigs(fs, '/etc/dracut.conf.d', conf, unreadable)];
  return {
    modprobeVfioIds: findLines(modprobe, (l) => MODPROBE_VFIO_IDS.test(l)),
    networkManagerSriov: [
      ...iniFindings(connections, 'sriov', (l) => /^(total-vfs|vfs)\s*=/.test(l), true),
      ...findLines(nmConf, (l) => /^sriov-num-vfs\s*=/.test(l)),
    ],
    initramfsDrivers: [...initramfsToolsDrivers(readConfig(fs, '/etc/initramfs-tools/modules', unreadable)), ...dracutDrivers(dracut)],
    unreadable,
  };
}
