import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-file.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'passthru-atomic-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('replaces the file and leaves no temporary file behind', async () => {
    const file = path.join(dir, 'status.json');
    await writeFile(file, 'old');
    await writeFileAtomic(file, 'new\n');
    expect(await readFile(file, 'utf8')).toBe('new\n');
    expect(await readdir(dir)).toEqual(['status.json']);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
  });

  it('a reader never sees a half-written file while it is rewritten', async () => {
    const file = path.join(dir, 'passthru.prom');
    const a = 'a'.repeat(256 * 1024);
    const b = 'b'.repeat(300 * 1024);
    await writeFileAtomic(file, a);
    let writing = true;
    const writer = (async () => {
      for (let i = 0; i < 60; i++) await writeFileAtomic(file, i % 2 ? a : b);
      writing = false;
    })();
    let reads = 0;
    while (writing) {
      const text = await readFile(file, 'utf8');
      expect(text === a || text === b).toBe(true);
      reads++;
    }
    await writer;
    expect(reads).toBeGreaterThan(0);
  });

  it('rejects when the directory does not exist, and creates nothing', async () => {
    await expect(writeFileAtomic(path.join(dir, 'missing', 'status.json'), 'x')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });
});
