import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeDirs } from './make-dirs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'passthru-make-dirs-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('makeDirs', () => {
  it('creates missing levels and accepts existing ones', async () => {
    await makeDirs(path.join(dir, 'a', 'b', 'c'));
    expect((await stat(path.join(dir, 'a', 'b', 'c'))).isDirectory()).toBe(true);
    await makeDirs(path.join(dir, 'a', 'b', 'c'));
  });

  it('rejects a file in the way', async () => {
    await writeFile(path.join(dir, 'f'), '');
    await expect(makeDirs(path.join(dir, 'f', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
