/**
 * A fake kernel for SR-IOV tests: watches the `sriov_numvfs` files of a fake tree's PFs and, some time after a
 * write, creates or removes the VFs as drivers/pci/iov.c would (fakeKernelSetNumVfs). The real kernel acts on its
 * own after the write; a test that wants that runs this beside the code under test. Only ever touches a fake tree.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fakeKernelSetNumVfs } from './fake-host.js';

/** A running fake kernel: the values it saw written, per PF, and how to stop it. */
export interface FakeKernel {
  writes: Map<string, number[]>;
  stop(): void;
}

/** Watches `pfs` under `root`; each new value written is acted on after `delayMs`. */
export function startFakeKernel(root: string, pfs: string[], delayMs = 30): FakeKernel {
  const writes = new Map(pfs.map((pf) => [pf, [] as number[]]));
  const numVfsFile = (pf: string) => path.join(root, 'sys/bus/pci/devices', pf, 'sriov_numvfs');
  // What the tree holds now is what the kernel last acted on: only later writes are acted on.
  const applied = new Map(pfs.map((pf) => [pf, Number(readFileSync(numVfsFile(pf), 'utf8').trim())]));
  let busy = false;
  const tick = async () => {
    if (busy) return;
    busy = true;
    try {
      for (const pf of pfs) {
        const text = (await readFile(numVfsFile(pf), 'utf8')).trim();
        const value = Number(text);
        // An empty read is a write in progress (the test's writeFile truncates first): looked at again next tick.
        if (text === '' || value === applied.get(pf)) continue;
        writes.get(pf)?.push(value);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        await fakeKernelSetNumVfs(root, pf, value);
        applied.set(pf, value);
      }
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), 5);
  return { writes, stop: () => clearInterval(timer) };
}
