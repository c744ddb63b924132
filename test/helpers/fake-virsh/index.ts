/**
 * Test-side handle on the scripted virsh (`virsh.mjs` beside this file): writes a per-test wrapper executable that
 * carries the fake's environment, so tests running in parallel never share a control directory or a process env.
 */
import { chmod, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./virsh.mjs', import.meta.url));

/** A fault to inject: at the N-th state-changing call and/or on every call of a subcommand. */
export interface Fault {
  /** 1-based count of state-changing commands (nodedev-*, attach-device, detach-device) since the last reset. */
  call?: number;
  command?: string;
  /**
   * fail: print an error, exit 1, change nothing; hang: sleep past any timeout; leave-driver: claim success only;
   * apply-then-fail / apply-then-hang: the command takes effect, then virsh fails / hangs (a half-done step);
   * drop-element: `element` is cut from the device XML before libvirt sees it; unbind: a node-device command claims
   * success and leaves the device on no driver (one that did not come back); hold: the command waits, changing
   * nothing, until `release()` is called, then runs unfaulted or fails (a step held in flight while the test acts).
   */
  mode: 'fail' | 'hang' | 'leave-driver' | 'apply-then-fail' | 'apply-then-hang' | 'drop-element' | 'unbind' | 'hold';
  /** apply-then-hang: how long, then exit 0 (default: an hour, past any timeout). */
  hangMs?: number;
  /** drop-element: the child element to cut (`vlan`). */
  element?: string;
}

/** A reply of the scripted guest: what virsh prints (JSON text), or its failure. */
export type GuestReply = string | { stderr: string; exit?: number };

/** The scripted guest: replies by `execute` name; an absent `agent` is a guest without one. */
export interface FakeGuest {
  agent?: Record<string, GuestReply>;
  monitor?: Record<string, GuestReply>;
}

/** One recorded invocation. */
export interface FakeCall {
  /** Its number among state-changing calls, or null for a read. */
  call: number | null;
  sub: string;
  argv: string[];
}

/** A scripted virsh bound to one fake sysfs tree. */
export interface FakeVirsh {
  /** The executable to hand to `createVirsh({ binary })`. */
  binary: string;
  /** Replaces the injected faults and restarts the call count. */
  setFaults(faults: Fault[]): Promise<void>;
  /** What a reattach binds for devices the fake never saw leave their host driver (the kernel's reprobe). */
  setHostDrivers(drivers: Record<string, string>): Promise<void>;
  /** What `qemu-agent-command` and `qemu-monitor-command` answer (every domain alike). */
  setGuest(guest: FakeGuest): Promise<void>;
  /** Ends every `hold`, waiting or still to come: the call runs (`run`) or fails like a `fail` fault (`fail`). */
  release(outcome?: 'run' | 'fail'): Promise<void>;
  /** Every invocation so far, in order. */
  calls(): Promise<FakeCall[]>;
  /** Resolves once an invocation of `sub` has been logged (a held one is then waiting for `release()`). */
  waitForCall(sub: string, timeoutMs?: number): Promise<FakeCall>;
  /** PIDs of processes of this fake still alive (it, and the real virsh it started): none may outlive an apply. */
  running(): Promise<number[]>;
}

/**
 * Creates the fake in `dir` (a fresh directory of the test) acting on the tree at `sysfsRoot`; `realVirsh` is what
 * domain commands are passed to.
 */
export async function createFakeVirsh(dir: string, sysfsRoot: string, realVirsh = '/usr/bin/virsh'): Promise<FakeVirsh> {
  await mkdir(dir, { recursive: true });
  const binary = path.join(dir, 'virsh');
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  await writeFile(
    binary,
    [
      '#!/bin/sh',
      `FAKE_VIRSH_DIR=${q(dir)} FAKE_VIRSH_SYSFS=${q(sysfsRoot)} FAKE_VIRSH_REAL=${q(realVirsh)}`,
      'export FAKE_VIRSH_DIR FAKE_VIRSH_SYSFS FAKE_VIRSH_REAL',
      `exec ${q(process.execPath)} ${q(SCRIPT)} "$@"`,
      '',
    ].join('\n'),
  );
  await chmod(binary, 0o755);
  const controlFile = path.join(dir, 'control.json');
  const control = { faults: [] as Fault[], hostDrivers: {} as Record<string, string>, guest: {} as FakeGuest };
  const save = () => writeFile(controlFile, JSON.stringify(control));
  async function calls(): Promise<FakeCall[]> {
    const text = await readFile(path.join(dir, 'calls.jsonl'), 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as FakeCall);
  }
  await save();
  return {
    binary,
    async setFaults(faults) {
      control.faults = faults;
      await writeFile(path.join(dir, 'counter'), '0');
      await rm(path.join(dir, 'release'), { force: true });
      await save();
    },
    async setGuest(guest) {
      control.guest = guest;
      await save();
    },
    async setHostDrivers(drivers) {
      control.hostDrivers = drivers;
      await save();
    },
    async running() {
      // Each of them carries the fake's control directory in its environment (the real virsh inherits it).
      const mark = `FAKE_VIRSH_DIR=${dir}\0`;
      const pids = (await readdir('/proc')).filter((p) => /^\d+$/.test(p));
      const environs = await Promise.all(pids.map((p) => readFile(`/proc/${p}/environ`, 'utf8').catch(() => '')));
      return pids.filter((_, i) => environs[i]?.includes(mark)).map(Number);
    },
    async release(outcome = 'run') {
      // Renamed into place: the held call must never see the file before its content.
      await writeFile(path.join(dir, 'release.tmp'), outcome);
      await rename(path.join(dir, 'release.tmp'), path.join(dir, 'release'));
    },
    async waitForCall(sub, timeoutMs = 60_000) {
      for (const until = Date.now() + timeoutMs; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
        const found = (await calls()).find((c) => c.sub === sub);
        if (found) return found;
      }
      throw new Error(`fake virsh: no ${sub} call within ${timeoutMs} ms`);
    },
    calls,
  };
}
