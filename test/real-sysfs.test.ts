/**
 * The one test that reads THIS machine (read-only): `readPciDevices('/')` must agree with `lspci -Dnvk`, the tool
 * operators trust, on addresses, vendor:device, class and the driver in use (and the IOMMU group where lspci prints
 * one). Fake trees can only show that passthru reads the layout the fakes were written to; this shows the layout is
 * the kernel's. CI installs pciutils; without lspci the test is skipped and says why.
 */
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { readPciDevices } from '../src/observe/sysfs.js';

const run = promisify(execFile);

interface LspciDevice {
  address: string;
  classCode: string;
  vendor: string;
  product: string;
  driver: string | null;
  iommuGroup: number | null;
}

/** Parses `lspci -Dnvk`: a header line per function, then indented fields. */
function parseLspci(text: string): LspciDevice[] {
  const out: LspciDevice[] = [];
  for (const block of text.split(/\n(?=\S)/)) {
    const head = /^([0-9a-f]{4,}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) ([0-9a-f]{4}): ([0-9a-f]{4}):([0-9a-f]{4})/.exec(block);
    if (!head) continue;
    out.push({
      address: head[1] as string,
      classCode: head[2] as string,
      vendor: head[3] as string,
      product: head[4] as string,
      driver: /^\s+Kernel driver in use: (\S+)/m.exec(block)?.[1] ?? null,
      iommuGroup: /^\s+IOMMU group: (\d+)/m.exec(block) ? Number(/^\s+IOMMU group: (\d+)/m.exec(block)?.[1]) : null,
    });
  }
  return out;
}

async function lspci(): Promise<string | null> {
  try {
    const { stdout } = await run('lspci', ['-Dnvk'], { env: { ...process.env, LC_ALL: 'C' }, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENOENT') return null;
    throw err;
  }
}

const lspciOutput = await lspci();
const hasPciSysfs = await readdir('/sys/bus/pci/devices').then(
  (e) => e.length > 0,
  () => false,
);

describe('readPciDevices on this machine agrees with lspci', () => {
  it.skipIf(lspciOutput === null)('addresses, ids, class and driver in use (skipped: lspci not installed; apt-get install pciutils)', async () => {
    const expected = parseLspci(lspciOutput as string);
    const warnings: string[] = [];
    const devices = await readPciDevices('/', { warn: (m) => warnings.push(m) });
    if (!hasPciSysfs) {
      expect(devices).toEqual([]);
      return;
    }
    expect(warnings).toEqual([]);
    // lspci sorts by address too; compare as sets anyway so an ordering quirk does not hide a real difference.
    expect(devices.map((d) => d.address).sort()).toEqual(expected.map((d) => d.address).sort());
    const ours = new Map(devices.map((d) => [d.address, d]));
    for (const l of expected) {
      const d = ours.get(l.address);
      expect({ address: l.address, id: `${d?.vendor}:${d?.product}`, class: d?.class.slice(0, 4), driver: d?.driver }).toEqual({
        address: l.address,
        id: `${l.vendor}:${l.product}`,
        class: l.classCode,
        driver: l.driver,
      });
      if (l.iommuGroup !== null) expect(d?.iommuGroup, `${l.address} IOMMU group`).toBe(l.iommuGroup);
    }
    const groups = await readdir('/sys/kernel/iommu_groups').catch(() => []);
    if (groups.length === 0) expect(devices.every((d) => d.iommuGroup === null)).toBe(true);
    // Bridges as lspci classes them (0604 PCI bridge, 0607 CardBus, 0609 semi-transparent) are ours too.
    for (const l of expected.filter((x) => ['0604', '0607', '0609'].includes(x.classCode))) {
      expect(ours.get(l.address)?.isBridge, `${l.address} is a bridge`).toBe(true);
    }
  });
});
