/**
 * Test-side handle on the scripted driverctl (`driverctl.mjs` beside this file): a per-test wrapper executable named
 * `driverctl` that carries the fake's environment, so it can be put first on PATH (or given as PASSTHRU_DRIVERCTL)
 * and tests running in parallel never share a control directory. The real driverctl is never run.
 */
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./driverctl.mjs', import.meta.url));

/** What the fake does on one call, matched by its argv without options (`set-override 0000:01:00.0 vfio-pci`). */
export interface DriverctlControl {
  /** That call fails (exit 1, `driverctl: …` on stderr) and changes nothing. */
  fail?: string;
  /** That call exits 0 and changes nothing. */
  noop?: string;
}

/** A scripted driverctl bound to one fake host tree. */
export interface FakeDriverctl {
  /** The wrapper executable; its directory can go first on PATH. */
  binary: string;
  setControl(control: DriverctlControl): Promise<void>;
  /** The argv of every call so far, in order. */
  calls(): Promise<string[][]>;
}

/** Creates the fake in `dir` (a fresh directory of the test), acting on the fake host tree at `root`. */
export async function createFakeDriverctl(dir: string, root: string): Promise<FakeDriverctl> {
  await mkdir(dir, { recursive: true });
  const binary = path.join(dir, 'driverctl');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(
    binary,
    ['#!/bin/sh', `FAKE_DRIVERCTL_DIR=${q(dir)} FAKE_DRIVERCTL_ROOT=${q(root)}`, 'export FAKE_DRIVERCTL_DIR FAKE_DRIVERCTL_ROOT', `exec ${q(process.execPath)} ${q(SCRIPT)} "$@"`, ''].join('\n'),
  );
  await chmod(binary, 0o755);
  return {
    binary,
    setControl: (control) => writeFile(path.join(dir, 'control.json'), JSON.stringify(control)),
    async calls() {
      const text = await readFile(path.join(dir, 'calls.jsonl'), 'utf8').catch(() => '');
      return text
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => (JSON.parse(l) as { argv: string[] }).argv);
    },
  };
}
