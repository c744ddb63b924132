/**
 * Ctrl-C and SIGTERM during `passthru apply` (a real child process): no new step starts, the step in flight
 * finishes, everything done is rolled back, the lock is released, no virsh is left running, the journal shows the
 * interruption and the rollback, and the exit code is 1. A second Ctrl-C during the rollback is ignored, said so.
 * Against a private libvirtd for the domain and a fake sysfs tree driven by the scripted virsh.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { readJournal } from '../src/apply/journal.js';
import { bundleCli, type CliBundle } from './helpers/cli-process.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { createFakeVirsh } from './helpers/fake-virsh/index.js';
import type { Fault } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd } from './helpers/libvirtd.js';
import type { PrivateLibvirtd } from './helpers/libvirtd.js';

const unavailable = libvirtdUnavailable();
if (unavailable) console.warn(`apply-interrupt: ${unavailable}`);

const NIC = '0000:07:00.0';

describe.skipIf(unavailable !== null)('apply interrupted by a signal', () => {
  let libvirtd: PrivateLibvirtd;
  let cli: CliBundle;

  beforeAll(async () => {
    [libvirtd, cli] = await Promise.all([startPrivateLibvirtd(), bundleCli()]);
  });
  afterAll(async () => {
    await Promise.all([libvirtd?.stop(), cli?.remove()]);
  });

  /**
   * Starts `passthru apply` of the seed runbook (detach 07:00.0, attach it, remove the br0 NIC) as a child in its
   * own process group, as a shell runs a foreground job, with `faults` in the fake virsh.
   */
  async function startApply(vm: string, faults: Fault[]) {
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-interrupt-'));
    const root = await seedHost().build();
    const fake = await createFakeVirsh(path.join(dir, 'virsh'), root);
    await defineDomain(libvirtd, { name: vm, bridges: [{ mac: '52:54:00:cc:dd:01', source: 'br0' }] });
    onTestFinished(async () => {
      await libvirtd.virsh(['undefine', '--domain', vm]).catch(() => undefined);
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    });
    const yaml = path.join(dir, 'passthrough.yaml');
    await writeFile(yaml, `version: 1\nvms:\n  ${vm}:\n    devices: [{ address: "07:00.0" }]\n    removeInterfaces: [{ type: bridge, source: br0 }]\n`);
    await fake.setFaults(faults);
    const journal = path.join(dir, 'journal.jsonl');
    const stateDir = path.join(dir, 'state');
    const xmlBefore = await libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm]);
    const child = spawn(process.execPath, [cli.script, 'apply', '-f', yaml, '--yes', '-c', libvirtd.uri, '--root', root, '--virsh', fake.binary], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      env: { PATH: process.env.PATH, PASSTHRU_JOURNAL: journal, PASSTHRU_STATE_DIR: stateDir },
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    /** Resolves once the fake virsh has received `n` state-changing commands. */
    const untilCall = async (n: number) => {
      while ((await fake.calls()).filter((c) => c.call !== null).length < n) await sleep(50);
    };
    const untilStderr = async (text: string) => {
      while (!stderr.includes(text)) await sleep(50);
    };
    return {
      child,
      exited,
      untilCall,
      untilStderr,
      stderr: () => stderr,
      fake,
      journal,
      stateDir,
      async driver() {
        return path.basename(await readlink(path.join(root, 'sys/bus/pci/devices', NIC, 'driver')));
      },
      xmlBefore,
      dumpxml: () => libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm]),
    };
  }

  it('Ctrl-C: the attach in flight finishes, both steps are rolled back, a second Ctrl-C is ignored, exit 1', async () => {
    // Step 2 (attach) takes effect, then its virsh takes 4 s; the undo of it (call 3) takes 2 s.
    const run = await startApply('int-sigint', [
      { call: 2, mode: 'apply-then-hang', hangMs: 4000 },
      { call: 3, mode: 'apply-then-hang', hangMs: 2000 },
    ]);
    await run.untilCall(2);
    // What a terminal does on Ctrl-C: SIGINT to the foreground process group (virsh runs in its own).
    process.kill(-(run.child.pid as number), 'SIGINT');
    await run.untilStderr('[undo 1/2]');
    process.kill(-(run.child.pid as number), 'SIGINT');
    expect(await run.exited).toBe(1);

    const stderr = run.stderr();
    expect(stderr).toContain('passthru: SIGINT: starting no new step');
    expect(stderr).toContain('passthru: SIGINT again: ignored, the rollback runs to its end');
    expect(stderr).toMatch(/\[2\/3\] attach-hostdev 0000:07:00\.0 \(int-sigint\) ok/);
    expect(stderr).not.toContain('[3/3]');
    expect(stderr).toContain('Host local: apply interrupted by SIGINT after 2 step(s)');
    expect(stderr).toContain('Rolled back 2 step(s); the host was observed back in its state before the apply.');
    // The world: fully rolled back, the lock gone, no virsh left running.
    expect(await run.driver()).toBe('igb');
    expect(await run.dumpxml()).toBe(run.xmlBefore);
    expect(await readdir(run.stateDir)).toEqual([]);
    expect(await run.fake.running()).toEqual([]);
    const entries = (await readJournal(run.journal)).entries;
    expect(entries.map((e) => `${e.phase} ${e.step} ${e.kind} ${e.result}`)).toEqual([
      'apply 1 nodedev-detach started',
      'apply 1 nodedev-detach ok',
      'apply 2 attach-hostdev started',
      'apply 2 attach-hostdev ok',
      'apply 2 interrupted failed',
      'rollback 2 detach-hostdev started',
      'rollback 2 detach-hostdev ok',
      'rollback 1 nodedev-reattach started',
      'rollback 1 nodedev-reattach ok',
    ]);
    expect(entries.find((e) => e.kind === 'interrupted')?.error).toBe('interrupted by SIGINT');
  });

  it('SIGTERM: the same, and the step in flight is the last one that runs', async () => {
    const run = await startApply('int-sigterm', [{ call: 1, mode: 'apply-then-hang', hangMs: 3000 }]);
    await run.untilCall(1);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(1);
    expect(run.stderr()).toContain('Host local: apply interrupted by SIGTERM after 1 step(s)');
    expect(run.stderr()).toContain('Rolled back 1 step(s)');
    expect(await run.driver()).toBe('igb');
    expect(await run.dumpxml()).toBe(run.xmlBefore);
    expect(await readdir(run.stateDir)).toEqual([]);
    expect(await run.fake.running()).toEqual([]);
    expect((await run.fake.calls()).filter((c) => c.call !== null).map((c) => c.sub)).toEqual(['nodedev-detach', 'nodedev-reattach']);
    expect(await readFile(run.journal, 'utf8')).toContain('"error":"interrupted by SIGTERM"');
  });
});
