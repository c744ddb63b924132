import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeFakeHost, sriovHost } from '../../test/helpers/fake-host.js';
import { startFakeKernel } from '../../test/helpers/fake-kernel.js';
import { HostError } from '../errors.js';
import { sriovSysfs } from './sriov-sysfs.js';

const PF = '0000:01:00.0';
const roots: string[] = [];
const build = async () => {
  const root = await sriovHost().build();
  roots.push(root);
  return root;
};
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});
const fast = { timeoutMs: 2_000, pollMs: 10 };

describe('sriovSysfs on a fake tree (never this machine\'s /sys)', () => {
  it('writes sriov_numvfs, 0 first between two non-zero counts, and waits for the virtfn links', async () => {
    const root = await build();
    const kernel = startFakeKernel(root, [PF]);
    try {
      const sysfs = sriovSysfs(root, fast);
      await sysfs.setNumVfs(PF, 2);
      expect(await sysfs.read(PF)).toEqual({ numVfs: 2, links: 2 });
      await sysfs.setNumVfs(PF, 3);
      expect(await sysfs.read(PF)).toEqual({ numVfs: 3, links: 3 });
      await sysfs.setNumVfs(PF, 0);
      expect(kernel.writes.get(PF)).toEqual([2, 0, 3, 0]);
    } finally {
      kernel.stop();
    }
  });

  it('fails with the count it saw when the VFs do not appear in time', async () => {
    const root = await build();
    const error = await sriovSysfs(root, { timeoutMs: 100, pollMs: 10 }).setNumVfs(PF, 2).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostError);
    expect((error as Error).message).toBe(`${PF}: 0 of 2 VFs appeared within 0.1 s after writing sriov_numvfs (it reads 2)`);
  });

  it('persists a count as a udev rule line, replaces it, and removes the file with the last line', async () => {
    const root = await build();
    const sysfs = sriovSysfs(root, fast);
    const file = path.join(root, 'etc/udev/rules.d/70-passthru-sriov.rules');
    await sysfs.persist(PF, 2);
    await sysfs.persist('0000:02:00.0', 4);
    await sysfs.persist(PF, 7);
    expect((await readFile(file, 'utf8')).split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      `ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="${PF}", ATTR{sriov_numvfs}="7"`,
      'ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:02:00.0", ATTR{sriov_numvfs}="4"',
      '',
    ]);
    expect(await sysfs.persisted(PF)).toBe(7);
    await sysfs.persist(PF, 0);
    await sysfs.persist('0000:02:00.0', 0);
    expect(existsSync(file)).toBe(false);
    expect(await sysfs.persisted(PF)).toBe(0);
  });
});
