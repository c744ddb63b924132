import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deviceFiles, scanDeviceHolders } from './device-holders.js';
import { HostFs } from '../io/host-fs.js';

const GPU = '0000:07:00.0';
const NVME = '0000:08:00.0';
const NVIDIA = '0000:09:00.0';
const REAL = (a: string) => `/sys/devices/pci0000:00/0000:00:02.0/${a}`;

/** A fake host tree: three devices with their files, and /proc/<pid>/fd links to some of them. */
function tree(procs: Record<number, { comm?: string; fds?: string[] }>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'passthru-holders-'));
  const put = (p: string, text = '') => {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), text);
  };
  const dir = (p: string) => mkdirSync(path.join(root, p), { recursive: true });
  for (const a of [GPU, NVME, NVIDIA]) {
    put(`${REAL(a)}/resource0`);
    put(`${REAL(a)}/resource`, '0x0 0x0 0x0\n');
    dir('/sys/bus/pci/devices');
    symlinkSync(`../../../devices/pci0000:00/0000:00:02.0/${a}`, path.join(root, `/sys/bus/pci/devices/${a}`));
  }
  put(`${REAL(GPU)}/resource2_wc`);
  dir(`${REAL(GPU)}/drm/card1`);
  dir(`${REAL(GPU)}/drm/renderD128`);
  dir(`${REAL(GPU)}/drm/controlD64x`);
  dir(`${REAL(NVME)}/nvme/nvme0/nvme0n1/nvme0n1p1`);
  put(`/proc/driver/nvidia/gpus/${NVIDIA}/information`, 'Model: \t\t NVIDIA L4\nDevice Minor: \t 1\n');
  for (const [pid, p] of Object.entries(procs)) {
    if (p.comm !== undefined) put(`/proc/${pid}/comm`, `${p.comm}\n`);
    if (p.fds === undefined) continue;
    dir(`/proc/${pid}/fd`);
    p.fds.forEach((t, fd) => symlinkSync(t, path.join(root, `/proc/${pid}/fd/${fd}`)));
  }
  return root;
}

const roots: string[] = [];
const make = (procs: Parameters<typeof tree>[0]) => {
  const r = tree(procs);
  roots.push(r);
  return r;
};
afterEach(() => roots.splice(0).forEach((r) => rmSync(r, { recursive: true, force: true })));

describe('deviceFiles', () => {
  it('lists DRM nodes, resource files under both sysfs paths, NVMe namespaces and partitions, the nvidia minor', () => {
    const fs = new HostFs(make({}));
    expect(deviceFiles(fs, GPU)).toEqual([
      '/dev/dri/card1',
      '/dev/dri/renderD128',
      `/sys/bus/pci/devices/${GPU}/resource0`,
      `${REAL(GPU)}/resource0`,
      `/sys/bus/pci/devices/${GPU}/resource2_wc`,
      `${REAL(GPU)}/resource2_wc`,
    ]);
    expect(deviceFiles(fs, NVME)).toEqual(expect.arrayContaining(['/dev/nvme0', '/dev/nvme0n1', '/dev/nvme0n1p1']));
    expect(deviceFiles(fs, NVIDIA)).toContain('/dev/nvidia1');
  });
});

describe('scanDeviceHolders', () => {
  it('names each holder by PID and comm, once per file, and skips processes that vanished', () => {
    const root = make({
      100: { comm: 'Xorg', fds: ['/dev/dri/card1', '/dev/dri/card1', '/dev/null'] },
      200: { comm: 'lab-holder', fds: [`${REAL(GPU)}/resource0`] },
      300: { comm: 'mkfs', fds: ['/dev/nvme0n1p1'] },
      400: { comm: 'nvidia-smi', fds: ['/dev/nvidia1', 'socket:[1234]'] },
      // Gone between the listing and the reading: no fd directory, no comm.
      500: {},
      600: { comm: 'bash', fds: ['/dev/pts/0'] },
    });
    const scan = scanDeviceHolders(root, [GPU, NVME, NVIDIA]);
    expect(scan).toEqual({
      known: true,
      holders: new Map([
        [
          GPU,
          [
            { pid: 100, comm: 'Xorg', path: '/dev/dri/card1' },
            { pid: 200, comm: 'lab-holder', path: `${REAL(GPU)}/resource0` },
          ],
        ],
        [NVME, [{ pid: 300, comm: 'mkfs', path: '/dev/nvme0n1p1' }]],
        [NVIDIA, [{ pid: 400, comm: 'nvidia-smi', path: '/dev/nvidia1' }]],
      ]),
    });
  });

  it('is unknown, never "not held", past its bounds or with no processes to look at', () => {
    const root = make({ 100: { comm: 'a', fds: ['/dev/null', '/dev/null'] }, 200: { comm: 'b', fds: ['/dev/null'] } });
    expect(scanDeviceHolders(root, [GPU], { maxProcesses: 1, maxFds: 100 })).toEqual({ known: false, reason: 'more than 1 processes to scan' });
    expect(scanDeviceHolders(root, [GPU], { maxProcesses: 10, maxFds: 2 })).toEqual({ known: false, reason: 'more than 2 open files to scan' });
    expect(scanDeviceHolders(make({}), [GPU])).toMatchObject({ known: false, reason: expect.stringMatching(/proc holds no processes$/) });
  });
});

describe('scanDeviceHolders on a broken tree', () => {
  it('skips a device whose sysfs entry is a loop instead of failing the whole observation', () => {
    const root = make({ 100: { comm: 'Xorg', fds: ['/dev/dri/card1'] } });
    symlinkSync('loop', path.join(root, '/sys/bus/pci/devices/loop'));
    const scan = scanDeviceHolders(root, ['loop', GPU]);
    expect(scan).toMatchObject({ known: true });
    expect(scan.known && scan.holders.get(GPU)).toEqual([{ pid: 100, comm: 'Xorg', path: '/dev/dri/card1' }]);
  });
});
