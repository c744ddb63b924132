import { execFileSync } from 'node:child_process';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fakeHost, removeFakeHost } from '../../test/helpers/fake-host.js';
import { HostFs } from './host-fs.js';

const roots: string[] = [];
async function emptyTree(): Promise<string> {
  const root = await fakeHost().build();
  roots.push(root);
  return root;
}
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

describe('HostFs resolves links inside the root', () => {
  it('clamps .. at the root and re-roots absolute targets', async () => {
    const root = await emptyTree();
    await mkdir(path.join(root, 'a/b'), { recursive: true });
    await symlink('../../../../../a', path.join(root, 'a/b/up'));
    await symlink('/a/b', path.join(root, 'abs'));
    const fs = new HostFs(root);
    expect(fs.realpath('/a/b/up/b')).toBe('/a/b');
    expect(fs.realpath('/abs/up')).toBe('/a');
    expect(fs.realpath('/../../a')).toBe('/a');
    expect(fs.realpath('/')).toBe('/');
  });

  it('reads a file through an absolute link in the tree, never the file of that path on this machine', async () => {
    const root = await emptyTree();
    await mkdir(path.join(root, 'etc'), { recursive: true });
    await writeFile(path.join(root, 'etc/hostname'), 'fake\n');
    await symlink('/etc/hostname', path.join(root, 'name'));
    expect(new HostFs(root).readText('/name')).toBe('fake\n');
  });

  it('reports a symlink loop as ELOOP and a missing path as ENOENT', async () => {
    const root = await emptyTree();
    await symlink('loop2', path.join(root, 'loop1'));
    await symlink('loop1', path.join(root, 'loop2'));
    const fs = new HostFs(root);
    expect(() => fs.realpath('/loop1')).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    expect(() => fs.readText('/loop1')).toThrow(expect.objectContaining({ code: 'ELOOP' }));
    expect(() => fs.realpath('/nope/x')).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(fs.exists('/loop1')).toBe(false);
    expect(fs.readOptional('/nope')).toBeNull();
    expect(fs.list('/nope')).toEqual([]);
    expect(fs.readlink('/nope')).toBeNull();
    expect(fs.readlink('/loop1')).toBe('loop2');
  });

  it('readlink of something that is no link is EINVAL, not "absent"', async () => {
    const root = await emptyTree();
    await writeFile(path.join(root, 'file'), '');
    expect(() => new HostFs(root).readlink('/file')).toThrow(expect.objectContaining({ code: 'EINVAL' }));
  });
});

describe('HostFs reads only regular files, and only so much', () => {
  it('refuses a FIFO at once instead of blocking on it (a reader without a writer would wait forever)', async () => {
    const root = await emptyTree();
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    expect(() => new HostFs(root).readText('/fifo')).toThrow(
      expect.objectContaining({ code: 'ENOTREG', message: '/fifo is a FIFO, not a regular file' }),
    );
  }, 10_000);

  it('refuses a character device (/dev/zero would never end) and a directory', async () => {
    const root = await emptyTree();
    await symlink('/dev/null', path.join(root, 'null'));
    const fs = new HostFs(root);
    // The link is re-rooted: the tree has no /dev/null, so this is absent, not this machine's device.
    expect(fs.readOptional('/null')).toBeNull();
    expect(() => new HostFs('/').readText('/dev/zero')).toThrow(expect.objectContaining({ code: 'ENOTREG', message: '/dev/zero is a character device, not a regular file' }));
    expect(() => fs.readText('/sys')).toThrow(expect.objectContaining({ code: 'EISDIR' }));
  });

  it('reads a file larger than one chunk whole, and refuses one over the cap', async () => {
    const root = await emptyTree();
    const big = 'x'.repeat(200_000);
    await writeFile(path.join(root, 'big'), big);
    const fs = new HostFs(root);
    expect(fs.readText('/big')).toBe(big);
    expect(() => fs.readText('/big', { maxBytes: 100_000 })).toThrow(expect.objectContaining({ code: 'EFBIG', message: '/big holds more than 100000 bytes' }));
  });

  it('reads procfs, whose files say size 0', () => {
    expect(new HostFs('/').readText('/proc/self/stat')).toMatch(/^\d+ \(/);
  });
});
