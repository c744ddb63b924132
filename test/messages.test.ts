/**
 * What the CLI says, as a user reads it: text from a host (VM names, pci.ids names, virsh's stderr) never reaches
 * the terminal as control characters (defect 12), and messages say what is true (defect 13): a blocked plan is not
 * "No changes", a saved blocked plan is not "apply it with", and every diagnostic of a bad file is an `Error:`.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../src/model/plan.js';
import type { HostSnapshot } from '../src/model/snapshot.js';
import { hostdevXml } from '../src/libvirt/hostdev-xml.js';
import { runCli } from './helpers/run-cli.js';
import { UNSAFE, withoutOwnColours } from './helpers/terminal-text.js';

/** A VM name that sets the terminal's title, clears the screen and reverses the rest of the line. */
const HOSTILE = 'rhel\u001b]0;pwned\u0007\u001b[2J\u202egnp.exe';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'passthru-messages-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

describe('untrusted text is escaped on the terminal (defect 12)', () => {
  let yaml: string;
  let snap: string;
  beforeAll(async () => {
    const seed = JSON.parse(await readFile('examples/seed/snapshot.json', 'utf8')) as HostSnapshot;
    // A VM the file does not list (a file may not name one with control characters: see the hostile corpus), whose
    // name the plan prints because it holds a device the file claims.
    const rhel = seed.domains.find((d) => d.name === 'rhel7.3') as HostSnapshot['domains'][number];
    const hostdev = { address: '0000:07:00.1', managed: true, driver: null, source: 'hostdev' as const, xml: hostdevXml('0000:07:00.1', true) };
    const uuid = '0badc0de-0000-4000-8000-000000000001';
    seed.domains.push({ ...rhel, name: HOSTILE, uuid, persistent: { ...rhel.persistent, name: HOSTILE, uuid, hostdevs: [hostdev], interfaces: [] } });
    seed.devices = seed.devices.map((d) => (d.address === '0000:07:00.0' ? { ...d, vendorName: 'Intel\u001b[31m\u009b2J Corporation' } : d));
    snap = path.join(dir, 'hostile.json');
    yaml = path.join(dir, 'hostile.yaml');
    await writeFile(snap, JSON.stringify(seed));
    await writeFile(yaml, 'version: 1\nvms:\n  rhel7.3:\n    devices: [{ address: "07:00.0" }, { address: "07:00.1" }]\n    removeInterfaces: [{ type: bridge, source: br0 }]\n');
  });

  it('plan (text): the VM name and the pci.ids name are printed escaped', async () => {
    const r = await runCli(['plan', '-f', yaml, '--snapshot', snap]);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(UNSAFE);
    expect(r.stdout).toContain('"rhel\\u001b]0;pwned\\u0007\\u001b[2J\\u202egnp.exe"');
    expect(r.stdout).toContain('~ 0000:07:00.0 Intel\\u001b[31m\\u009b2J Corporation I350');
  });

  it('plan --format json: the same name, exactly (JSON escapes), and still the plan', async () => {
    const r = await runCli(['plan', '-f', yaml, '--snapshot', snap, '--format', 'json']);
    expect(r.stdout).not.toMatch(UNSAFE);
    const plan = JSON.parse(r.stdout) as Plan;
    expect(plan.hosts[0]?.problems.some((p) => p.code === 'device-in-use' && p.message.includes(HOSTILE))).toBe(true);
  });

  it('check --format junit: well-formed XML 1.0 (which cannot hold these characters at all)', async () => {
    const r = await runCli(['check', '-f', yaml, '--snapshot', snap, '--format', 'junit']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toMatch(UNSAFE);
    expect(r.stdout).toContain('rhel\\u001b]0;pwned\\u0007\\u001b[2J\\u202egnp.exe');
  });

  it('an error message naming a hostile path', async () => {
    const r = await runCli(['plan', '-f', path.join(dir, 'no\u001b]0;pwned\u0007.yaml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(UNSAFE);
    expect(r.stderr).toContain('no\\u001b]0;pwned\\u0007.yaml:1:1: cannot read the desired state: ENOENT');
  });

  it('virsh\'s stderr, in a host that could not be observed', async () => {
    const fake = path.join(dir, 'virsh');
    await writeFile(fake, '#!/bin/sh\nprintf "error: failed to connect to the hypervisor\\nerror: \\033]0;pwned\\007\\033[2Jgone\\n" >&2\nexit 1\n');
    await chmod(fake, 0o755);
    const r = await runCli(['plan', '-c', 'qemu+ssh://root@hv2/system', '--virsh', fake, '-f', yaml]);
    expect(r.code).toBe(1);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(UNSAFE);
    expect(r.stdout).toContain('Error: host hv2 could not be observed: cannot connect to qemu+ssh://root@hv2/system: \\u001b]0;pwned\\u0007\\u001b[2Jgone');
  });

  it('colour stays when the terminal has it', async () => {
    const r = await runCli(['plan', '-f', yaml, '--snapshot', snap], { tty: true });
    expect(r.stdout).toContain('\u001b[1mHost local (qemu:///system)\u001b[22m');
    expect(withoutOwnColours(r.stdout)).not.toMatch(UNSAFE);
  });
});

describe('messages that say what is true (defect 13)', () => {
  let blocked: string;
  beforeAll(async () => {
    blocked = path.join(dir, 'blocked.yaml');
    await writeFile(blocked, 'version: 1\nvms:\n  ghost:\n    devices: [{ address: "07:00.0" }]\n');
  });

  it('a blocked plan with nothing to do is not "No changes: the host matches"', async () => {
    const r = await runCli(['plan', '-f', blocked, '--snapshot', 'examples/seed/snapshot.json']);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('No changes: the host matches');
    expect(r.stdout).toContain('Host local (qemu:///system)\n  No changes planned: blocked by the problems below.\n\nError: VM "ghost"');
    expect(r.stdout).toContain('Blocked: 1 problem(s) must be fixed before this plan can be applied.');
  });

  it('plan -o of a blocked plan says it cannot be applied (and still replaces an older plan in that file)', async () => {
    const out = path.join(dir, 'blocked-plan.json');
    await writeFile(out, '{"an": "older, applyable plan"}');
    const r = await runCli(['plan', '-f', blocked, '--snapshot', 'examples/seed/snapshot.json', '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain('apply it with');
    expect(r.stderr).toBe(`Saved the plan to ${out}, but it cannot be applied: 1 blocking problem(s). Fix them, then plan again.\n`);
    expect((JSON.parse(await readFile(out, 'utf8')) as { plan: Plan }).plan.applyable).toBe(false);
    const ok = await runCli(['plan', '--snapshot', 'examples/seed/snapshot.json', '-o', out]);
    expect(ok.stderr).toBe(`Saved the plan to ${out}; apply it with: passthru apply ${out}\n`);
  });

  it('every diagnostic of a bad file gets its own Error:, its fix indented under it', async () => {
    const bad = path.join(dir, 'two-errors.yaml');
    await writeFile(bad, 'version: 1\nvms:\n  a:\n    devices:\n      - adress: "0000:07:00.0"\n  b:\n    devices:\n      - address: "0000:07:00.0"\n        count: 0\n');
    const r = await runCli(['validate', '-f', bad]);
    expect(r.code).toBe(1);
    const errors = r.stderr.split('\n').filter((l) => l.startsWith('Error: '));
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const line of errors) expect(line).toMatch(new RegExp(`^Error: ${bad.replace(/[.]/g, '\\.')}:\\d+:\\d+: `));
    expect(r.stderr.split('\n').filter((l) => l !== '' && !l.startsWith('Error: ')).every((l) => l.startsWith('  fix: '))).toBe(true);
  });
});
