import { execFileSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { FakeHost } from '../../test/helpers/fake-host.js';
import { fakeHost, nvmeMultipath, removeFakeHost, seedHost } from '../../test/helpers/fake-host.js';
import { hostDumpScript, parseHostDump } from './host-dump.js';
import { observeHostUse } from './host-use.js';
import { applyRemoteDump } from './remote-host-use.js';
import type { PciDevice } from '../model/snapshot.js';
import { readPciDevices } from './sysfs.js';

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

const NONCE = '0123456789abcdef0123456789abcdef';

/** Runs the dump script with this machine's sh against `root`, as sshd would run it for the remote user. */
function dumpOf(root: string): string {
  return execFileSync('sh', ['-s'], { input: hostDumpScript(NONCE), env: { PATH: process.env.PATH, PASSTHRU_REMOTE_ROOT: root }, encoding: 'utf8' });
}

/** Host use read from the tree directly and through the dump: they must be the same, warnings included. */
async function bothWays(host: FakeHost, edit?: (root: string) => Promise<void>) {
  const root = await host.build();
  roots.push(root);
  if (edit) await edit(root);
  const devices = await readPciDevices(root);
  const read = (tree: Parameters<typeof observeHostUse>[0]) => {
    const warnings: string[] = [];
    const { uses, unknown } = observeHostUse(tree, devices, { warn: (m) => warnings.push(m) });
    return { uses: Object.fromEntries(uses), unknown, warnings };
  };
  return { local: read(root), dumped: read(parseHostDump(dumpOf(root), NONCE)), root, devices };
}

describe('host use through the dump script equals host use read from the tree', () => {
  const trees: [string, () => FakeHost, ((root: string) => Promise<void>)?][] = [
    ['the seed host (default route, / on NVMe)', seedHost],
    ['a bond under a bridge, a VLAN, IPv6', () => seedHost().bond('bond0', ['eth1', 'eth2']).bridge('br0', ['bond0']).address('br0', '192.168.1.10/24').address6('br0', '2001:db8::10/64').vlan('eth1.100', 'eth1').address('eth1.100', '172.16.0.2/24')],
    [
      'LVM on device-mapper, swap on an LV',
      () =>
        seedHost()
          .update('0000:01:00.0', { disks: [{ name: 'nvme0n1', partitions: ['nvme0n1p1', 'nvme0n1p2', 'nvme0n1p3'] }] })
          .deviceMapper('dm-0', 'rhel-root', ['nvme0n1p3'])
          .deviceMapper('dm-1', 'my--vg-swap', ['nvme0n1p3']),
      async (root) => {
        await writeFile(path.join(root, 'proc/mounts'), '/dev/mapper/rhel-root / xfs rw 0 0\n/dev/nvme0n1p2 /boot xfs rw 0 0\n');
        await writeFile(path.join(root, 'proc/swaps'), 'Filename Type Size Used Priority\n/dev/my-vg/swap partition 8 0 -2\n');
      },
    ],
    ['native NVMe multipath', seedHost, nvmeMultipath],
    [
      '/dev/root through mountinfo',
      seedHost,
      async (root) => {
        const devno = (await readFile(path.join(root, 'sys/class/block/nvme0n1p2/dev'), 'utf8')).trim();
        await writeFile(path.join(root, 'proc/mounts'), '/dev/root / ext4 rw 0 0\n');
        await writeFile(path.join(root, 'proc/self/mountinfo'), `22 1 ${devno} / / rw shared:1 - ext4 /dev/root rw\n`);
      },
    ],
    ['what cannot be traced (unknown parts)', () => fakeHost().device({ address: '0000:00:1f.6', vendor: '8086', device: '15bb', class: '020000', driver: 'e1000e', group: 12, net: ['eth0'] }).address('eth0', '10.0.0.5/24').mount('/dev/disk/by-uuid/1234', '/srv').swap('/swapfile', 'file')],
    ['an empty tree', fakeHost],
  ];

  it.each(trees)('%s', async (name, host, edit) => {
    const { local, dumped } = await bothWays(host(), edit);
    expect(dumped).toEqual(local);
    // Not equal by being empty: each tree but the empty one has uses or unknown parts to compare.
    if (name !== 'an empty tree') expect(Object.keys(local.uses).length + Object.keys(local.unknown).length).toBeGreaterThan(0);
  });

  it('adds boot_vga from the dump, as readPciDevices does locally', async () => {
    const root = await seedHost().build();
    roots.push(root);
    const devices = await readPciDevices(root);
    const remote: PciDevice[] = devices.map((d) => ({ ...d, hostUse: [] }));
    const result = applyRemoteDump({ files: parseHostDump(dumpOf(root), NONCE) }, remote, () => {});
    expect(result).toEqual({ hostUseKnown: true });
    const local = observeHostUse(root, devices);
    expect(remote.map((d) => [d.address, d.hostUse])).toEqual(devices.map((d) => [d.address, [...(local.uses.get(d.address) ?? []), ...d.hostUse]]));
    expect(remote.find((d) => d.address === '0000:00:02.0')?.hostUse.map((u) => u.kind)).toEqual(['boot-vga']);
  });
});

describe('parseHostDump: unknown stays unknown', () => {
  it('refuses a dump cut short, text before the first record, and a bad header', () => {
    expect(() => parseHostDump(`@@${NONCE} F ok /proc/swaps\nFilename\n`, NONCE)).toThrow(/incomplete \(no END record\)/);
    expect(() => parseHostDump(`Welcome!\n@@${NONCE} END\n`, NONCE)).toThrow(/garbled at line 1/);
    expect(() => parseHostDump(`@@${NONCE} Q ok /x\n@@${NONCE} END\n`, NONCE)).toThrow(/garbled at line 1: "Q ok \/x" is not a record header/);
  });

  it('a file is read back byte for byte; a question the dump did not answer throws instead of reading as absent', () => {
    const files = parseHostDump(`@@${NONCE} F ok /a\nx\n\n\n@@${NONCE} F ok /b\ny\n@@${NONCE} F absent /c\n@@${NONCE} F error /d\nnot a regular file\n@@${NONCE} D ok /dir\nb\na\n@@${NONCE} END\n`, NONCE);
    expect([files.readOptional('/a'), files.readOptional('/b'), files.readOptional('/c')]).toEqual(['x\n\n', 'y', null]);
    expect(() => files.readOptional('/d')).toThrow('/d: not a regular file (on the host, over ssh)');
    expect(files.list('/dir')).toEqual(['a', 'b']);
    expect([files.exists('/dir/a'), files.exists('/dir/z')]).toEqual([true, false]);
    expect(() => files.realpath('/sys/class/net/eth0')).toThrow('/sys/class/net/eth0 is not in what the host printed over ssh');
    expect(() => files.exists('/elsewhere/x')).toThrow(/not in what the host printed/);
  });

  it('a failed ssh leaves both parts unknown, naming ssh\'s error', () => {
    const warnings: string[] = [];
    const result = applyRemoteDump({ unknown: 'host use could not be read over ssh: ssh to hv2 failed (exited with 255): Connection refused' }, [], (m) => warnings.push(m));
    expect(result).toEqual({
      hostUseKnown: false,
      hostUseUnknown: {
        network: 'host use could not be read over ssh: ssh to hv2 failed (exited with 255): Connection refused',
        storage: 'host use could not be read over ssh: ssh to hv2 failed (exited with 255): Connection refused',
      },
    });
    expect(warnings).toEqual(['host use could not be read over ssh: ssh to hv2 failed (exited with 255): Connection refused; host use is unknown']);
  });
});
