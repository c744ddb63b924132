import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostFs } from '../io/host-fs.js';
import { readPersistedBindings } from './driverctl.js';

let root: string;
const put = async (rel: string, content: string) => {
  await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
  await writeFile(path.join(root, rel), content);
};
const observe = () => readPersistedBindings(new HostFs(root));

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'passthru-driverctl-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('readPersistedBindings', () => {
  it('reads pci-* overrides as driverctl 0.111 writes them, ignoring other buses, and finds /usr/sbin/driverctl', async () => {
    await put('usr/sbin/driverctl', '#!/bin/sh\n');
    await put('etc/driverctl.d/pci-0000:02:00.0', 'nouveau\n');
    await put('etc/driverctl.d/pci-0000:01:00.0', 'vfio-pci\n');
    await put('etc/driverctl.d/usb-1-1', 'usbhid\n');
    await put('etc/driverctl.d/README', 'not an override\n');
    expect(observe()).toEqual({
      bindings: {
        driverctl: '/usr/sbin/driverctl',
        overrides: [
          { address: '0000:01:00.0', driver: 'vfio-pci' },
          { address: '0000:02:00.0', driver: 'nouveau' },
        ],
      },
    });
  });

  it('says driverctl is not installed when no executable is under the root, and finds none without the directory', async () => {
    expect(observe()).toEqual({ bindings: { driverctl: null, overrides: [] } });
  });

  it('reads the root given, never this machine: an absolute symlink to /etc stays inside the tree', async () => {
    await mkdir(path.join(root, 'real'), { recursive: true });
    await put('real/pci-0000:03:00.0', 'vfio-pci\n');
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await symlink('/real', path.join(root, 'etc/driverctl.d'));
    expect(observe()).toMatchObject({ bindings: { overrides: [{ address: '0000:03:00.0', driver: 'vfio-pci' }] } });
  });

  it('refuses, bounded and clearly, an override that is a FIFO, huge, empty or no driver name', async () => {
    await mkdir(path.join(root, 'etc/driverctl.d'), { recursive: true });
    execFileSync('mkfifo', [path.join(root, 'etc/driverctl.d/pci-0000:01:00.0')]);
    await put('etc/driverctl.d/pci-0000:02:00.0', 'v'.repeat(10 * 1024 * 1024));
    await put('etc/driverctl.d/pci-0000:03:00.0', '\n');
    await put('etc/driverctl.d/pci-0000:04:00.0', 'vfio-pci; rm -rf /\n');
    const started = Date.now();
    const seen = observe();
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(seen).toEqual({
      bindings: {
        driverctl: null,
        overrides: [
          { address: '0000:01:00.0', driver: null, unreadable: '/etc/driverctl.d/pci-0000:01:00.0 cannot be read: /etc/driverctl.d/pci-0000:01:00.0 is a FIFO, not a regular file' },
          { address: '0000:02:00.0', driver: null, unreadable: '/etc/driverctl.d/pci-0000:02:00.0 cannot be read: /etc/driverctl.d/pci-0000:02:00.0 holds more than 256 bytes' },
          { address: '0000:03:00.0', driver: null, unreadable: '/etc/driverctl.d/pci-0000:03:00.0 holds no driver name (it is empty)' },
          { address: '0000:04:00.0', driver: null, unreadable: '/etc/driverctl.d/pci-0000:04:00.0 holds no driver name (not a module name)' },
        ],
      },
    });
  });

  it('is unknown, with why, when the directory cannot be listed (a symlink loop)', async () => {
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await symlink('driverctl.d', path.join(root, 'etc/driverctl.d'));
    expect(observe()).toEqual({ bindingsUnknown: expect.stringContaining('/etc/driverctl.d cannot be listed') });
  });
});
