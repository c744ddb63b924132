/**
 * `passthru apply` of a `managed: false` device end to end (SPEC 10): the real CLI against a private libvirtd for
 * the domain, the scripted virsh for node devices on a fake sysfs tree, and the scripted driverctl (as
 * PASSTHRU_DRIVERCTL, never the real one) writing the override into that tree. Assertions are on the world: the override
 * file, the driver link, the domain XML from the real virsh, the fakes' call logs.
 */
import { mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { createFakeDriverctl } from './helpers/fake-driverctl/index.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { createFakeVirsh } from './helpers/fake-virsh/index.js';
import { defineDomain, libvirtdUnavailable, startPrivateLibvirtd, type PrivateLibvirtd } from './helpers/libvirtd.js';
import { runCli } from './helpers/run-cli.js';

const unavailable = libvirtdUnavailable();
const NIC = '0000:07:00.0';

describe.skipIf(unavailable !== null)('passthru apply with managed: false persists the binding through driverctl', () => {
  let libvirtd: PrivateLibvirtd;
  beforeAll(async () => {
    libvirtd = await startPrivateLibvirtd();
  });
  afterAll(() => libvirtd?.stop());

  async function newCase(vm: string, o: { driverctlEnv?: boolean } = {}) {
    const dir = await mkdtemp(path.join(tmpdir(), 'passthru-apply-bindings-'));
    const root = await seedHost().driverctl().build();
    const virsh = await createFakeVirsh(path.join(dir, 'virsh'), root);
    const driverctl = await createFakeDriverctl(path.join(dir, 'driverctl'), root);
    await defineDomain(libvirtd, { name: vm, bridges: [] });
    onTestFinished(async () => {
      await libvirtd.virsh(['undefine', '--domain', vm]).catch(() => undefined);
      await Promise.all([rm(dir, { recursive: true, force: true }), removeFakeHost(root)]);
    });
    const yaml = path.join(dir, 'passthrough.yaml');
    await writeFile(yaml, `version: 1\nvms:\n  ${JSON.stringify(vm)}:\n    devices:\n      - address: "${NIC}"\n        managed: false\n`);
    const env = {
      PASSTHRU_JOURNAL: path.join(dir, 'journal.jsonl'),
      PASSTHRU_STATE_DIR: path.join(dir, 'state'),
      ...(o.driverctlEnv === false ? { PATH: `${path.dirname(driverctl.binary)}:${process.env.PATH ?? ''}` } : { PASSTHRU_DRIVERCTL: driverctl.binary }),
    };
    const cli = (args: string[]) => runCli([...args, '-f', yaml, '-c', libvirtd.uri, '--root', root, '--virsh', virsh.binary], { env });
    const override = () => readFile(path.join(root, 'etc/driverctl.d', `pci-${NIC}`), 'utf8').catch(() => null);
    const driver = async () => path.basename(await readlink(path.join(root, 'sys/bus/pci/devices', NIC, 'driver')));
    return { cli, virsh, driverctl, override, driver, dumpxml: () => libvirtd.virsh(['dumpxml', '--inactive', '--domain', vm]) };
  }

  it('detaches, persists, attaches; afterwards plan is empty', async () => {
    const c = await newCase('bind-ok');
    const r = await c.cli(['apply', '--yes']);
    expect(r.stderr).not.toContain('Error');
    expect(r.code).toBe(0);
    expect(await c.override()).toBe('vfio-pci\n');
    expect(await c.driver()).toBe('vfio-pci');
    expect(await c.dumpxml()).toMatch(/<hostdev mode='subsystem' type='pci' managed='no'>/);
    expect(await c.driverctl.calls()).toEqual([['set-override', NIC, 'vfio-pci']]);
    expect((await c.cli(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('rolls the override back when the attach fails: no file, the device back on igb', async () => {
    const c = await newCase('bind-rollback');
    await c.virsh.setFaults([{ command: 'attach-device', mode: 'fail' }]);
    const r = await c.cli(['apply', '--yes']);
    expect(r.code).toBe(1);
    expect(await c.override()).toBeNull();
    expect(await c.driver()).toBe('igb');
    expect(await c.dumpxml()).not.toContain('<hostdev');
    expect(await c.driverctl.calls()).toEqual([
      ['set-override', NIC, 'vfio-pci'],
      ['unset-override', NIC],
    ]);
  });

  it('with a --root tree, runs no driverctl from PATH (it would act on this machine): the step fails, all rolled back', async () => {
    const c = await newCase('bind-guard', { driverctlEnv: false });
    const r = await c.cli(['apply', '--yes']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('refusing to run driverctl for the tree at');
    expect(await c.driverctl.calls()).toEqual([]);
    expect(await c.override()).toBeNull();
    expect(await c.driver()).toBe('igb');
  });
});
