/**
 * Boot-time bindings (SPEC 10) through the real CLI: a fake host tree under `--root`, libvirt's test driver through
 * real virsh, `managed: false` claims. The plan persists the binding (text, json, sh), `check` reports a missing or
 * foreign override as drift (exit 2), and a host without driverctl is blocked with the install command.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Plan } from '../src/model/plan.js';
import { bind, removeFakeHost, seedHost, setDriverOverride } from './helpers/fake-host.js';
import { runCli } from './helpers/run-cli.js';
import { findRealVirsh } from './helpers/virsh-shim.js';

const virsh = findRealVirsh();
const testUri = `test://${path.resolve('examples/seed/libvirt-node.xml')}`;
const NIC = '0000:07:00.0';
let tmp: string;
let file: string;
beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'passthru-bindings-cli-'));
  file = path.join(tmp, 'passthrough.yaml');
  await writeFile(file, `version: 1\nvms:\n  rhel7.3:\n    devices:\n      - address: "${NIC}"\n        managed: false\n`);
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The seed host with the NIC already on vfio-pci, driverctl installed or not, and the override given. */
async function host(o: { driverctl: boolean; override?: string }): Promise<string> {
  const root = await seedHost().build();
  await bind(root, NIC, 'vfio-pci');
  await setDriverOverride(root, NIC, 'vfio-pci');
  if (o.driverctl) {
    await mkdir(path.join(root, 'usr/sbin'), { recursive: true });
    await writeFile(path.join(root, 'usr/sbin/driverctl'), '#!/bin/sh\nexit 1\n');
  }
  if (o.override !== undefined) {
    await mkdir(path.join(root, 'etc/driverctl.d'), { recursive: true });
    await writeFile(path.join(root, 'etc/driverctl.d', `pci-${NIC}`), `${o.override}\n`);
  }
  return root;
}

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});
async function withHost(o: { driverctl: boolean; override?: string }): Promise<string[]> {
  const root = await host(o);
  roots.push(root);
  return ['-f', file, '-c', testUri, '--root', root];
}

describe.skipIf(!virsh)('passthru plan/check with managed: false (SPEC 10)', () => {
  it('plans persist-binding before the attach (text, json, sh); check exits 2', async () => {
    const args = await withHost({ driverctl: true });
    const text = await runCli(['plan', ...args]);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`1. + ${NIC} boot-time binding (driverctl): none → vfio-pci`);
    expect(text.stdout).toContain('it must be on vfio-pci from boot, and no driverctl override is persisted');
    const json = JSON.parse((await runCli(['plan', ...args, '--format', 'json'])).stdout) as Plan;
    expect(json.applyable).toBe(true);
    expect(json.hosts[0]?.actions.map((a) => [a.kind, 'address' in a ? a.address : null])).toEqual([
      ['persist-binding', NIC],
      ['attach-hostdev', NIC],
    ]);
    expect(json.hosts[0]?.actions[0]).toMatchObject({ kind: 'persist-binding', address: NIC, fromDriver: null });
    const sh = await runCli(['plan', ...args, '--format', 'sh']);
    expect(sh.stdout.split('\n')).toContain(`driverctl set-override ${NIC} vfio-pci`);
    expect(sh.stdout.split('\n')).toContain(`# driverctl unset-override ${NIC}`);
    const check = await runCli(['check', ...args, '--format', 'json']);
    expect(check.code).toBe(2);
  });

  it('reports a foreign override as drift, and none once vfio-pci is persisted', async () => {
    const foreign = JSON.parse((await runCli(['plan', ...(await withHost({ driverctl: true, override: 'igb' })), '--format', 'json'])).stdout) as Plan;
    expect(foreign.hosts[0]?.actions[0]).toMatchObject({ kind: 'persist-binding', fromDriver: 'igb', reason: expect.stringContaining('(drift)') });
    const persisted = JSON.parse((await runCli(['plan', ...(await withHost({ driverctl: true, override: 'vfio-pci' })), '--format', 'json'])).stdout) as Plan;
    expect(persisted.hosts[0]?.actions.map((a) => a.kind)).toEqual(['attach-hostdev']);
  });

  it('blocks with driverctl-missing and the install command when driverctl is not installed', async () => {
    const args = await withHost({ driverctl: false });
    const r = await runCli(['plan', ...args]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('[driverctl-missing]');
    expect(r.stdout).toContain('apt-get install driverctl');
    const json = JSON.parse((await runCli(['plan', ...args, '--format', 'json'])).stdout) as Plan;
    expect(json.applyable).toBe(false);
    expect(json.hosts[0]?.problems.map((p) => [p.severity, p.code])).toEqual([['block', 'driverctl-missing']]);
  });

  it('observes the persisted overrides into the snapshot', async () => {
    const r = await runCli(['observe', ...(await withHost({ driverctl: true, override: 'vfio-pci' }))]);
    expect(JSON.parse(r.stdout)).toMatchObject({ bindings: { driverctl: '/usr/sbin/driverctl', overrides: [{ address: NIC, driver: 'vfio-pci' }] } });
  });
});
