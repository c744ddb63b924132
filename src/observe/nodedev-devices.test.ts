import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { Virsh } from '../io/virsh.js';
import type { VirshBatchResult } from '../libvirt/virsh-batch.js';
import { observeNodedevDevices } from './nodedev-devices.js';

const dir = new URL('../../test/fixtures/virsh/', import.meta.url);

/** Recorded `nodedev-dumpxml` output by node device name (the name is the file name's tail). */
const dumps = new Map(
  readdirSync(dir)
    .filter((f) => /nodedev-.*(pci|net)_.*\.xml$/.test(f))
    .map((f) => [/((?:pci|net)_[^.]+)\.xml$/.exec(f)?.[1] as string, readFileSync(new URL(f, dir), 'utf8')]),
);

/** A Virsh serving the recorded node devices, plus `extra` answers (`error: ...` for a failure). */
function fakeVirsh(extra: Record<string, string> = {}): Virsh & { batches: number } {
  const names = [...dumps.keys()];
  const answers: Record<string, string> = {
    'nodedev-list --cap pci': `${names.filter((n) => n.startsWith('pci_')).join('\n')}\n\n`,
    'nodedev-list --cap net': `${names.filter((n) => n.startsWith('net_')).join('\n')}\n\n`,
    ...Object.fromEntries([...dumps].map(([name, xml]) => [`nodedev-dumpxml --device ${name}`, xml])),
    ...extra,
  };
  const fake = {
    batches: 0,
    async batch(_uri: string, commands: string[][]): Promise<VirshBatchResult[]> {
      fake.batches++;
      return commands.map((c) => {
        const answer = answers[c.join(' ')] ?? `error: no answer recorded for ${c.join(' ')}`;
        return answer.startsWith('error: ')
          ? { ok: false, output: '', error: answer.slice(7) }
          : { ok: true, output: answer, error: null };
      });
    },
    async run(): Promise<never> {
      throw new Error('observeNodedevDevices must batch');
    },
  };
  return fake;
}

describe('observeNodedevDevices', () => {
  it('reads every PCI function in two batches, sorted, with its network interfaces', async () => {
    const virsh = fakeVirsh();
    const devices = await observeNodedevDevices(virsh, 'qemu+ssh://root@hv2/system');
    expect(virsh.batches).toBe(2);
    expect(devices.map((d) => d.address)).toEqual([
      '0000:00:00.0',
      '0000:00:01.0',
      '0000:00:02.0',
      '0000:00:03.0',
      '0000:00:04.0',
      '0000:00:05.0',
      '0000:00:1c.0',
      '0000:01:00.0',
      '0000:01:00.1',
      '0000:07:00.0',
      '0000:07:00.1',
      '0000:08:10.1',
      '0000:08:10.5',
    ]);
    const byAddress = new Map(devices.map((d) => [d.address, d]));
    expect(byAddress.get('0000:00:03.0')?.netInterfaces).toEqual(['eth0']);
    expect(byAddress.get('0000:07:00.1')).toEqual({
      address: '0000:07:00.1',
      vendor: '8086',
      product: '1521',
      class: '020000',
      vendorName: 'Intel Corporation',
      productName: 'I350 Gigabit Network Connection',
      driver: 'igb',
      driverOverride: null,
      iommuGroup: 18,
      isBridge: false,
      physFunction: null,
      virtualFunctions: ['0000:08:10.1', '0000:08:10.5'],
      sriov: { numVfs: 2, totalVfs: 7, offset: null, stride: null, vfDevice: null },
      netInterfaces: ['enp7s0f1'],
      hostUse: [],
    });
    // libvirt before 1.2.x prints no <class>: reported as all ones, like unreadable config space.
    expect(byAddress.get('0000:07:00.0')?.class).toBe('ffffff');
    expect(byAddress.get('0000:00:1c.0')?.isBridge).toBe(true);
  });

  it('leaves out a device that vanished between listing and dumping', async () => {
    const names = [...dumps.keys()].filter((n) => n.startsWith('pci_'));
    const virsh = fakeVirsh({
      'nodedev-list --cap pci': `${[...names, 'pci_0000_09_00_0'].join('\n')}\n`,
      'nodedev-dumpxml --device pci_0000_09_00_0':
        "error: Could not find matching device 'pci_0000_09_00_0'\nNode device not found: no node device with matching name 'pci_0000_09_00_0'",
    });
    expect(await observeNodedevDevices(virsh, 'x')).toHaveLength(names.length);
  });

  it('fails when the host cannot list or read node devices', async () => {
    await expect(
      observeNodedevDevices(fakeVirsh({ 'nodedev-list --cap pci': 'error: Failed to list node devices' }), 'x'),
    ).rejects.toThrow(/cannot list the node devices of x: Failed to list node devices/);
    await expect(
      observeNodedevDevices(fakeVirsh({ 'nodedev-dumpxml --device pci_0000_00_03_0': '<device>' }), 'x'),
    ).rejects.toThrow(/cannot read node device pci_0000_00_03_0 on x: malformed device XML/);
  });

  const seedDevice = dumps.get('pci_0000_07_00_0') as string;

  it("goes on past a device whose address it cannot read (libvirt's own <bus>4294967295</bus>), with a warning (defect 15)", async () => {
    const names = [...dumps.keys()].filter((n) => n.startsWith('pci_'));
    const odd = seedDevice.replace('<name>pci_0000_07_00_0</name>', '<name>pci_0000_ff_00_0</name>').replace('<bus>7</bus>', '<bus>4294967295</bus>').replace('<iommuGroup number=\'17\'>\n      <address domain=\'0x0000\' bus=\'0x07\' slot=\'0x00\' function=\'0x0\'/>\n    </iommuGroup>', '');
    const warnings: string[] = [];
    const devices = await observeNodedevDevices(
      fakeVirsh({ 'nodedev-list --cap pci': `${[...names, 'pci_0000_ff_00_0'].join('\n')}\n`, 'nodedev-dumpxml --device pci_0000_ff_00_0': odd }),
      'x',
      { warn: (m) => warnings.push(m) },
    );
    expect(devices).toHaveLength(names.length);
    // (The recorded fixtures come from several machines: the GPU's group lists a root port recorded without IOMMU.)
    expect(warnings.filter((w) => w.includes('pci_0000_ff'))).toEqual([
      'node device pci_0000_ff_00_0: its PCI address is out of range: bus 0xffffffff is above 0xff; left out',
    ]);
  });

  it('keeps a group member that has no node device of its own, as unreadable, so that its group is not viable', async () => {
    const shared = seedDevice.replace(
      "<address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>\n    </iommuGroup>",
      "<address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>\n      <address domain='0x0000' bus='0x07' slot='0x00' function='0x2'/>\n    </iommuGroup>",
    );
    const devices = await observeNodedevDevices(fakeVirsh({ 'nodedev-dumpxml --device pci_0000_07_00_0': shared }), 'x');
    expect(devices.find((d) => d.address === '0000:07:00.2')).toMatchObject({
      vendor: 'ffff',
      driver: null,
      iommuGroup: 17,
      unreadable: 'listed in IOMMU group 17 by node device pci_0000_07_00_0 but has no node device passthru could read',
    });
  });

  it('refuses a node device XML with a DOCTYPE, naming the device (defect 12)', async () => {
    const hostile = `<!DOCTYPE device [<!ENTITY drv "vfio-pci">]>\n${seedDevice.replace('<name>igb</name>', '<name>&drv;</name>')}`;
    await expect(observeNodedevDevices(fakeVirsh({ 'nodedev-dumpxml --device pci_0000_07_00_0': hostile }), 'x')).rejects.toThrow(
      'cannot read node device pci_0000_07_00_0 on x: device XML has a <!DOCTYPE>, which libvirt never prints: refused rather than expanding its entities',
    );
  });
});
