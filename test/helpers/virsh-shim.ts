/**
 * A `virsh` wrapper for tests: a tiny executable put first on PATH that appends one line per invocation to a log
 * and then execs the real virsh. Counting the lines counts virsh processes — the honest measure of "a constant
 * number of processes per host" (SPEC 5), whatever the code under test believes it does.
 */
import { accessSync, constants } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A shim directory holding `virsh` and its invocation log. */
export interface VirshShim {
  /** Directory to put first on PATH. */
  dir: string;
  /** Absolute path of the shim executable. */
  binary: string;
  /** Number of virsh processes started through the shim so far. */
  count(): Promise<number>;
  /** Forgets the processes counted so far. */
  reset(): Promise<void>;
  /** Removes the directory. */
  cleanup(): Promise<void>;
}

/** The real virsh on PATH, or null when libvirt-clients is not installed. */
export function findRealVirsh(): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, 'virsh');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this PATH entry
    }
  }
  return null;
}

/** Writes a shim that logs each invocation and execs `real`. */
export async function createVirshShim(real: string): Promise<VirshShim> {
  return createCountingShim('virsh', real);
}

/** Writes a shim named `name` that logs each invocation and execs `real` (`ssh` too: one ssh per host). */
export async function createCountingShim(name: string, real: string): Promise<VirshShim> {
  const dir = await mkdtemp(path.join(tmpdir(), `passthru-${name}-shim-`));
  const binary = path.join(dir, name);
  const log = path.join(dir, 'invocations.log');
  await writeFile(log, '');
  // mkdtemp names hold no quote, so single-quoting the paths is enough.
  await writeFile(binary, `#!/bin/sh\necho "$$" >> '${log}'\nexec '${real}' "$@"\n`);
  await chmod(binary, 0o755);
  return {
    dir,
    binary,
    count: async () => (await readFile(log, 'utf8')).split('\n').filter((l) => l !== '').length,
    reset: () => writeFile(log, ''),
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}
