import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readTextAtMost } from './bounded-read.js';

const dir = await mkdtemp(path.join(tmpdir(), 'passthru-bounded-read-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('readTextAtMost', () => {
  it('reads a file up to the limit, UTF-8 included', async () => {
    const file = path.join(dir, 'ok.yaml');
    await writeFile(file, 'version: 1 # é\n');
    expect(await readTextAtMost(file, 16)).toEqual({ text: 'version: 1 # é\n' });
  });

  it('refuses a larger file', async () => {
    const file = path.join(dir, 'big.yaml');
    await writeFile(file, 'x'.repeat(17));
    expect(await readTextAtMost(file, 16)).toEqual({ overLimit: true, size: 17 });
  });

  it('stops reading an endless device after the limit', async () => {
    expect(await readTextAtMost('/dev/zero', 3 * 2 ** 20)).toEqual({ overLimit: true, size: null });
  });

  it('fails like readFile on a missing file', async () => {
    await expect(readTextAtMost(path.join(dir, 'missing'), 16)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
