import { access, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { SEED_PCI_IDS } from '../../test/helpers/fake-host.js';
import type { PciDevice } from '../model/snapshot.js';
import { loadPciIds, nameDevices, parsePciIds } from './pci-ids.js';

const dirs: string[] = [];
async function rootWith(file: string, content: string | Buffer): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'passthru-pciids-'));
  dirs.push(root);
  await mkdir(path.dirname(path.join(root, file)), { recursive: true });
  await writeFile(path.join(root, file), content);
  return root;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('parsePciIds', () => {
  const ids = parsePciIds(SEED_PCI_IDS);

  it('looks up vendors and products, any case', () => {
    expect(ids.vendorName('8086')).toBe('Intel Corporation');
    expect(ids.productName('8086', '1521')).toBe('I350 Gigabit Network Connection');
    expect(ids.productName('144D', 'A808')).toBe('NVMe SSD Controller SM981/PM981/PM983');
  });

  it('unknown ids and subsystem lines give nothing', () => {
    expect(ids.vendorName('1234')).toBeUndefined();
    expect(ids.productName('8086', '0001')).toBeUndefined();
    expect(ids.productName('1234', '0001')).toBeUndefined();
  });

  it('the class list is not read as products of the last vendor', () => {
    expect(ids.productName('ffff', '0000')).toBeUndefined();
    expect(parsePciIds('ffff  Illegal\nC 02  Network controller\n\t0200  not a product\n').productName('ffff', '0200')).toBeUndefined();
  });
});

describe('loadPciIds', () => {
  it('absent file → null (no names)', async () => {
    expect(await loadPciIds(path.join(tmpdir(), 'passthru-no-such-root'))).toBeNull();
  });

  it('reads hwdata and gzip locations', async () => {
    const hw = await loadPciIds(await rootWith('usr/share/hwdata/pci.ids', SEED_PCI_IDS));
    expect(hw?.vendorName('144d')).toBe('Samsung Electronics Co Ltd');
    const gz = await loadPciIds(await rootWith('usr/share/misc/pci.ids.gz', gzipSync(SEED_PCI_IDS)));
    expect(gz?.productName('8086', '15bb')).toBe('Ethernet Connection (7) I219-LM');
  });

  it('this machine\'s pci.ids, when installed, names the I350 and is indexed fast', async (ctx) => {
    try {
      await access('/usr/share/misc/pci.ids');
    } catch {
      ctx.skip();
    }
    const start = performance.now();
    const ids = await loadPciIds('/');
    expect(ids?.productName('8086', '1521')).toMatch(/^I350 Gigabit Network Connection/);
    expect(ids?.vendorName('10de')).toMatch(/NVIDIA/);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('nameDevices', () => {
  it('sets names it knows and leaves the others alone', () => {
    const dev = (vendor: string, product: string) => ({ address: '0000:00:00.0', vendor, product }) as PciDevice;
    const [known, unknown] = nameDevices([dev('8086', '1521'), dev('abcd', '0001')], parsePciIds(SEED_PCI_IDS));
    expect(known).toMatchObject({ vendorName: 'Intel Corporation', productName: 'I350 Gigabit Network Connection' });
    expect(unknown).not.toHaveProperty('vendorName');
    expect(nameDevices([dev('8086', '1521')], null)[0]).not.toHaveProperty('vendorName');
  });
});
