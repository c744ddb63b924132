/**
 * The local host's SR-IOV controls under a root directory (`--root`, `/` in production): a PF's `sriov_numvfs`
 * and passthru's udev rule file (model/sriov-udev-rules.ts). The only place passthru writes sysfs itself; tests
 * point it at fake trees (test/helpers/fake-host.ts), never at this machine's /sys.
 *
 * Setting a count follows the kernel's rules (drivers/pci/iov.c): a non-zero count cannot be changed to another
 * non-zero one (EBUSY), so 0 is written first; VFs are created asynchronously (2.6 s for the lab's igb), so the
 * write is followed by polling the PF's `virtfnN` links until there are as many as asked, or a timeout.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { HostError } from '../errors.js';
import { parseSriovRules, renderSriovRules, SRIOV_RULES_FILE, withSriovCount, persistedCount } from '../model/sriov-udev-rules.js';
import { writeFileAtomic } from './atomic-file.js';
import { describeError, isMissing } from './error-code.js';
import { makeDirs } from './make-dirs.js';

/** What a PF's VFs look like now: `sriov_numvfs` and how many `virtfnN` links it has. */
export interface VfState {
  numVfs: number;
  links: number;
}

/** The SR-IOV controls of one local host. */
export interface SriovSysfs {
  read(pf: string): Promise<VfState>;
  /** Sets the count (0 first when both are non-zero) and waits for the links; throws a HostError on failure or timeout. */
  setNumVfs(pf: string, to: number): Promise<void>;
  /** The count the rule file persists for `pf` (0: no line). */
  persisted(pf: string): Promise<number>;
  /** Rewrites the rule file with `pf` at `to` (0 removes its line; the file goes when no line remains). */
  persist(pf: string, to: number): Promise<void>;
}

/** How long VFs may take to appear, and how often to look. */
export interface SriovWait {
  timeoutMs: number;
  pollMs: number;
}

/** VF creation took 2.6 s in the lab; a slow NIC firmware gets ten times that. */
export const DEFAULT_SRIOV_WAIT: SriovWait = { timeoutMs: 30_000, pollMs: 100 };

/** The controls under `root`. */
export function sriovSysfs(root: string, wait: SriovWait = DEFAULT_SRIOV_WAIT): SriovSysfs {
  const pfDir = (pf: string) => path.join(root, 'sys/bus/pci/devices', pf);
  const rulesFile = path.join(root, SRIOV_RULES_FILE);
  const read = async (pf: string): Promise<VfState> => {
    const text = (await readFile(path.join(pfDir(pf), 'sriov_numvfs'), 'utf8')).trim();
    if (!/^\d+$/.test(text)) throw new HostError(`${pf}: sriov_numvfs reads ${JSON.stringify(text)}, not a number`);
    const links = (await readdir(pfDir(pf))).filter((e) => /^virtfn\d+$/.test(e)).length;
    return { numVfs: Number(text), links };
  };
  const write = async (pf: string, n: number) => {
    const file = path.join(pfDir(pf), 'sriov_numvfs');
    try {
      await writeFile(file, `${n}\n`);
    } catch (err) {
      throw new HostError(`writing ${n} to ${file} failed: ${describeError(err)}`, {
        hint: 'the PF\'s driver must support SR-IOV and be bound (`ls -l /sys/bus/pci/devices/PF/driver`); `dmesg` says why the kernel refused',
        cause: err,
      });
    }
    const started = Date.now();
    for (;;) {
      const now = await read(pf);
      if (now.numVfs === n && now.links === n) return;
      if (Date.now() - started >= wait.timeoutMs) {
        throw new HostError(`${pf}: ${now.links} of ${n} VFs appeared within ${wait.timeoutMs / 1000} s after writing sriov_numvfs (it reads ${now.numVfs})`, {
          hint: 'look at `dmesg` for the PF driver\'s messages; VFs need firmware support and free bus numbers',
        });
      }
      await sleep(wait.pollMs);
    }
  };
  const readRules = async () => {
    try {
      return parseSriovRules(await readFile(rulesFile, 'utf8')).counts;
    } catch (err) {
      if (isMissing(err)) return [];
      throw new HostError(`cannot read ${rulesFile}: ${describeError(err)}`, { cause: err });
    }
  };
  return {
    read,
    async setNumVfs(pf, to) {
      const { numVfs } = await read(pf);
      if (numVfs === to) return;
      // The kernel refuses a change between two non-zero counts.
      if (numVfs !== 0 && to !== 0) await write(pf, 0);
      await write(pf, to);
    },
    persisted: async (pf) => persistedCount(await readRules(), pf),
    async persist(pf, to) {
      const text = renderSriovRules(withSriovCount(await readRules(), pf, to));
      if (text === null) {
        await rm(rulesFile, { force: true });
        return;
      }
      await makeDirs(path.dirname(rulesFile));
      await writeFileAtomic(rulesFile, text, 0o644);
    },
  };
}
