/**
 * The Ansible module (contrib/ansible/library/passthru.py) as an operator runs it: Debian's ansible-core runs the
 * shipped playbook contrib/ansible/site.yml (waves `serial: [1, "10%", "100%"]`, `max_fail_percentage: 0`) on an
 * inventory of loopback hosts (`ansible_connection: local`). Each host is a fake sysfs tree driven by the scripted
 * virsh, its domain on the private libvirtd of the apply tests, and passthru is the bundled CLI built from src/.
 * Assertions about changes are made on the world (driver links, `virsh dumpxml --inactive`, the fake virsh's log),
 * and about the task on what Ansible recorded (the tree callback) and printed (the diff).
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeHost } from './helpers/fake-host.js';
import { iommuOffHost, removeFakeHost, seedHost } from './helpers/fake-host.js';
import { createFakeVirsh, type FakeVirsh } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd, type PrivateLibvirtd } from './helpers/libvirtd.js';
import { runCli } from './helpers/run-cli.js';

const ANSIBLE_PLAYBOOK = '/usr/bin/ansible-playbook';
/** The managed hosts' Python: Debian's, which ansible-core's own modules run with. */
const SYSTEM_PYTHON = '/usr/bin/python3';
const SITE = path.resolve('contrib/ansible/site.yml');

const unavailable =
  libvirtdUnavailable() ??
  (existsSync(ANSIBLE_PLAYBOOK) && existsSync(SYSTEM_PYTHON) ? null : 'SKIPPED: the Ansible tests need ansible-core (apt-get install --no-install-recommends ansible-core)');
if (unavailable) console.warn(`ansible: ${unavailable}`);

/** One loopback "hypervisor": its fake tree, scripted virsh, domain, journal and lock directory. */
interface Hypervisor {
  name: string;
  vm: string;
  device: string;
  root: string;
  fake: FakeVirsh;
  journal: string;
  /** The inventory's host variables. */
  vars: Record<string, unknown>;
}

/** The fleet file: each host's VM gets one NIC port in place of its bridge NIC; the URIs are overridden by -c. */
const FLEET = `version: 1
hosts:
  hv1: { uri: "qemu+ssh://root@hv1.example/system" }
  hv2: { uri: "qemu+ssh://root@hv2.example/system" }
  hv3: { uri: "qemu+ssh://root@hv3.example/system" }
  hv4: { uri: "qemu+ssh://root@hv4.example/system" }
vms:
  guest-hv1:
    host: hv1
    devices: [{ address: "07:00.0", expect: { vendor: "8086", product: "1521" } }]
    removeInterfaces: [{ type: bridge, source: br0 }]
  guest-hv2:
    host: hv2
    devices: [{ address: "07:00.1" }]
    removeInterfaces: [{ type: bridge, source: br0 }]
  guest-hv3:
    host: hv3
    devices: [{ address: "08:00.0" }]
  guest-hv4:
    host: hv4
    devices: [{ address: "09:00.0" }]
protect:
  - { host: hv1, address: "0000:00:1f.6" }
  - { host: hv2, address: "0000:00:1f.6" }
  - { host: hv3, address: "0000:00:1f.6" }
  - { host: hv4, address: "0000:00:1f.6" }
`;

/** What the tree callback recorded of a host's last task. */
interface TaskResult {
  changed?: boolean;
  msg?: string;
  rc?: number;
  cmd?: string[];
  warnings?: string[];
  plan?: { applyable: boolean; changes: boolean; hosts: { name: string; actions: { kind: string }[] }[] };
  apply?: { ok: boolean; hosts: { host: string; steps: unknown[] }[] };
  problems?: { host: string; severity: string; code: string; message: string; hint?: string }[];
  host_errors?: unknown[];
}

describe.skipIf(unavailable !== null)('the Ansible module through ansible-playbook (loopback hosts, private libvirtd)', () => {
  let libvirtd: PrivateLibvirtd;
  let dir: string;
  let binary: string;
  let fleet: string;
  const hv: Record<string, Hypervisor> = {};

  async function hypervisor(name: string, device: string, tree: FakeHost): Promise<Hypervisor> {
    const vm = `guest-${name}`;
    const root = await tree.build();
    const fake = await createFakeVirsh(path.join(dir, `${name}-virsh`), root);
    await defineDomain(libvirtd, { name: vm, bridges: [{ mac: `52:54:00:aa:00:0${name.slice(-1)}`, source: 'br0' }] });
    const journal = path.join(dir, `${name}-journal.jsonl`);
    const vars = {
      ansible_connection: 'local',
      ansible_python_interpreter: SYSTEM_PYTHON,
      passthru_binary: binary,
      passthru_connect: libvirtd.uri,
      passthru_become: false,
      passthru_environment: {
        PASSTHRU_ROOT: root,
        PASSTHRU_VIRSH: fake.binary,
        PASSTHRU_JOURNAL: journal,
        PASSTHRU_STATE_DIR: path.join(dir, `${name}-state`),
      },
    };
    return { name, vm, device, root, fake, journal, vars };
  }

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-ansible-'));
    binary = path.join(dir, 'bin', 'passthru');
    // The CLI bundled from src/ by the build's own script (as test/bundle.test.ts does): the code under test.
    [libvirtd] = await Promise.all([
      startPrivateLibvirtd(),
      execa(process.execPath, ['scripts/bundle-cli.js', 'src/cli/run.ts', binary]),
    ]);
    fleet = path.join(dir, 'passthrough.yaml');
    await writeFile(fleet, FLEET);
    hv.hv1 = await hypervisor('hv1', '0000:07:00.0', seedHost());
    hv.hv2 = await hypervisor('hv2', '0000:07:00.1', seedHost());
    // The domains share one libvirtd, where guest-hv1 and guest-hv2 come to hold both I350 ports: hv3's VM claims a
    // device of its own, so that its only block is the IOMMU.
    const nic = { vendor: '8086', device: '1521', class: '020000', driver: 'igb', parentBridge: '0000:00:1c.0' };
    hv.hv3 = await hypervisor('hv3', '0000:08:00.0', iommuOffHost().device({ address: '0000:08:00.0', ...nic }));
    hv.hv4 = await hypervisor('hv4', '0000:09:00.0', seedHost().device({ address: '0000:09:00.0', ...nic, group: 19 }));
  }, 120_000);
  afterAll(async () => {
    await libvirtd?.stop();
    await Promise.all([...Object.values(hv).map((h) => removeFakeHost(h.root)), rm(dir, { recursive: true, force: true })]);
  });

  let run = 0;
  /** Runs site.yml on these hosts, in this inventory order; returns its output and each host's task result. */
  async function playbook(hosts: string[], flags: string[] = []) {
    run += 1;
    const work = path.join(dir, `run-${run}`);
    const tree = path.join(work, 'tree');
    await mkdir(work);
    const inventory = path.join(work, 'inventory.yml');
    // JSON is YAML: the inventory is written as data, so paths and URIs need no quoting rules.
    await writeFile(inventory, JSON.stringify({ hypervisors: { hosts: Object.fromEntries(hosts.map((h) => [h, hv[h]?.vars])) } }));
    const started = Date.now();
    const r = await execa(ANSIBLE_PLAYBOOK, ['-i', inventory, SITE, '-e', JSON.stringify({ passthru_source: fleet }), ...flags], {
      reject: false,
      extendEnv: false,
      env: {
        PATH: process.env.PATH,
        HOME: work,
        LC_ALL: 'C.UTF-8',
        ANSIBLE_LOCAL_TEMP: path.join(work, 'local-tmp'),
        ANSIBLE_REMOTE_TEMP: path.join(work, 'remote-tmp'),
        ANSIBLE_CALLBACKS_ENABLED: 'tree',
        ANSIBLE_CALLBACK_TREE_DIR: tree,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_RETRY_FILES_ENABLED: '0',
        PYTHONDONTWRITEBYTECODE: '1',
      },
    });
    const results: Record<string, TaskResult> = {};
    for (const h of hosts) {
      const text = await readFile(path.join(tree, h), 'utf8').catch(() => null);
      if (text !== null) results[h] = JSON.parse(text) as TaskResult;
    }
    // The hosts each "PLAY [...]" batch ran the task on, in order: the rollout's waves.
    const waves = r.stdout
      .split(/^PLAY \[/m)
      .slice(1)
      .map((batch) => [...batch.matchAll(/^(?:ok|changed|failed|fatal): \[(\w+)\]/gm)].map((m) => m[1]))
      .filter((w) => w.length > 0);
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr, results, waves, ms: Date.now() - started };
  }

  const driver = async (h: Hypervisor) => path.basename(await readlink(path.join(h.root, 'sys/bus/pci/devices', h.device, 'driver')));
  const dumpxml = (h: Hypervisor) => libvirtd.virsh(['dumpxml', '--inactive', '--domain', h.vm]);
  const mutations = async (h: Hypervisor) => (await h.fake.calls()).filter((c) => c.call !== null);

  it('the module documents itself as ansible-doc reads it, and its pure parts pass their unit tests', async () => {
    const doc = await execa('ansible-doc', ['-M', 'contrib/ansible/library', '--json', 'passthru'], { env: { LC_ALL: 'C.UTF-8' } });
    const parsed = JSON.parse(doc.stdout) as { passthru: { doc: { options: Record<string, unknown>; attributes: Record<string, { support: string }> } } };
    expect(Object.keys(parsed.passthru.doc.options).sort()).toEqual(['binary', 'connect', 'content', 'file', 'host', 'lock_timeout', 'parallelism', 'state']);
    expect(parsed.passthru.doc.attributes.check_mode?.support).toBe('full');
    expect(parsed.passthru.doc.attributes.diff_mode?.support).toBe('full');
    const unit = await execa(SYSTEM_PYTHON, ['-m', 'unittest', 'discover', '-s', 'contrib/ansible/tests'], { env: { PYTHONDONTWRITEBYTECODE: '1' }, reject: false });
    expect(unit.stderr).toMatch(/^OK$/m);
    expect(unit.exitCode).toBe(0);
  });

  it('the shipped example fleet file is valid', async () => {
    const r = await runCli(['validate', '-f', 'contrib/ansible/passthrough.yaml']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('check mode: changed with each VM\'s XML and the driver bindings in the diff; nothing changed', async () => {
    const before = { hv1: await dumpxml(hv.hv1!), hv2: await dumpxml(hv.hv2!) };
    const r = await playbook(['hv1', 'hv2'], ['--check', '--diff']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const name of ['hv1', 'hv2'] as const) {
      const h = hv[name]!;
      expect(r.results[name]).toMatchObject({ changed: true, plan: { applyable: true, changes: true } });
      expect(r.results[name]?.plan?.hosts.map((x) => x.name)).toEqual([name]);
      expect(r.results[name]?.cmd).toContain('plan');
      // The diff Ansible prints: the VM's persistent XML, then the binding.
      expect(r.stdout).toContain(`--- before: ${name}/${h.vm}.xml\n+++ after: ${name}/${h.vm}.xml\n`);
      expect(r.stdout).toContain(`--- before: ${name}: PCI driver bindings\n+++ after: ${name}: PCI driver bindings\n`);
      expect(r.stdout).toContain(`-${h.device} igb\n+${h.device} vfio-pci\n`);
      // Nothing changed: the world is as it was.
      expect(await driver(h)).toBe('igb');
      expect(await dumpxml(h)).toBe(before[name]);
      expect(await mutations(h)).toEqual([]);
      expect(existsSync(h.journal)).toBe(false);
    }
    expect(r.stdout).toMatch(/^-\s+<interface type='bridge'>$/m);
    expect(r.stdout).toMatch(/^\+\s+<hostdev mode="subsystem" type="pci" managed="yes">$/m);
    expect(r.stdout).toMatch(/^\+\s+<address domain="0x0000" bus="0x07" slot="0x00" function="0x1"\/>$/m);
    console.log(`ansible: check mode over 2 hosts took ${r.ms} ms`);
  }, 120_000);

  it('applies in waves (1 canary, then the rest); then check mode reports no change', async () => {
    const r = await playbook(['hv1', 'hv2'], ['--diff']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.waves).toEqual([['hv1'], ['hv2']]);
    for (const name of ['hv1', 'hv2'] as const) {
      const h = hv[name]!;
      expect(r.results[name]).toMatchObject({ changed: true, apply: { ok: true } });
      expect(r.results[name]?.apply?.hosts.map((x) => [x.host, x.steps.length])).toEqual([[name, 3]]);
      expect(r.results[name]?.cmd?.slice(1, 2)).toEqual(['apply']);
      // The world, not the module's word.
      expect(await driver(h)).toBe('vfio-pci');
      const xml = await dumpxml(h);
      expect(xml).toContain(`<address domain='0x0000' bus='0x07' slot='0x00' function='0x${h.device.slice(-1)}'/>`);
      expect(xml).not.toContain("<interface type='bridge'>");
      expect((await mutations(h)).map((c) => c.sub)).toEqual(['nodedev-detach', 'attach-device', 'detach-device']);
    }
    console.log(`ansible: apply over 2 hosts took ${r.ms} ms`);

    const again = await playbook(['hv1', 'hv2'], ['--check', '--diff']);
    expect(again.code, again.stdout + again.stderr).toBe(0);
    for (const name of ['hv1', 'hv2']) expect(again.results[name]).toMatchObject({ changed: false, plan: { changes: false } });
    expect(again.stdout).not.toContain('--- before:');
    expect(again.stdout).toMatch(/hv1\s+: ok=1\s+changed=0\s+unreachable=0\s+failed=0/);
  }, 180_000);

  it('a blocked canary fails its task with every problem, and the rollout stops before the next wave', async () => {
    const hv3 = hv.hv3!;
    const calls = (await hv.hv1!.fake.calls()).length;
    const r = await playbook(['hv3', 'hv1']);
    expect(r.code).not.toBe(0);
    expect(r.waves).toEqual([['hv3']]);
    const failed = r.results.hv3;
    // (Ansible keeps `failed` out of what callbacks record: the task's failure shows as `fatal` below.)
    expect(failed).toMatchObject({ changed: false, rc: 1, plan: { applyable: false } });
    expect(failed?.msg).toMatch(/^passthru: the plan cannot be applied: hv3: iommu-disabled: /);
    expect(failed?.problems?.filter((p) => p.severity === 'block').map((p) => [p.host, p.code])).toEqual([['hv3', 'iommu-disabled']]);
    expect(failed?.problems?.[0]?.hint).toContain('intel_iommu=on');
    expect(failed?.host_errors).toEqual([]);
    expect(r.stdout).toContain('fatal: [hv3]: FAILED!');
    // Nothing changed on the blocked host; the next wave's host was never attempted.
    expect(await mutations(hv3)).toEqual([]);
    expect(await driver(hv3)).toBe('igb');
    expect(r.results.hv1).toBeUndefined();
    expect((await hv.hv1!.fake.calls()).length).toBe(calls);
  }, 120_000);

  it('a failed apply fails the task with where the host stands (rolled back), and changes nothing', async () => {
    const hv4 = hv.hv4!;
    const before = await dumpxml(hv4);
    await hv4.fake.setFaults([{ command: 'attach-device', mode: 'fail' }]);
    const r = await playbook(['hv4']);
    expect(r.code).not.toBe(0);
    const failed = r.results.hv4;
    expect(failed?.msg).toMatch(/^passthru apply failed: hv4: apply failed at step 2: injected fault.*; rolled back, the host is as it was$/);
    expect(failed).toMatchObject({ changed: false, rc: 1, apply: { ok: false, hosts: [{ host: 'hv4', restored: true }] } });
    expect(await driver(hv4)).toBe('igb');
    expect(await dumpxml(hv4)).toBe(before);
    expect((await mutations(hv4)).map((c) => c.sub)).toEqual(['nodedev-detach', 'attach-device', 'nodedev-reattach']);
  }, 120_000);
});
