import { createHash } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileSource } from './file-source.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'passthru-file-source-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const sha = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;

describe('fileSource', () => {
  it('the revision is the sha256 of the content: same text, same revision', async () => {
    const file = path.join(dir, 'passthrough.yaml');
    await writeFile(file, 'version: 1\n');
    const s = fileSource(file);
    expect(await s.fetch()).toEqual({ kind: 'content', revision: sha('version: 1\n'), text: 'version: 1\n', file });
    await writeFile(file, 'version: 1\n');
    expect(await s.fetch()).toMatchObject({ revision: sha('version: 1\n') });
    await writeFile(file, 'version: 1\nvms: {}\n');
    expect(await s.fetch()).toMatchObject({ revision: sha('version: 1\nvms: {}\n') });
  });

  it('a missing file is an invalid source without a revision', async () => {
    const file = path.join(dir, 'nope.yaml');
    expect(await fileSource(file).fetch()).toEqual({
      kind: 'invalid',
      revision: null,
      problems: [
        {
          severity: 'block',
          code: 'source-missing',
          message: `cannot read the desired state ${file}: ENOENT`,
          hint: 'create the file (passthru import writes one from the host), or pass --source',
        },
      ],
    });
  });

  it('notices a file replaced by rename (how editors save), and stops noticing when unsubscribed', async () => {
    const file = path.join(dir, 'passthrough.yaml');
    await writeFile(file, 'version: 1\n');
    let changes = 0;
    const stop = fileSource(file).watch?.(() => changes++);
    await writeFile(path.join(dir, '.passthrough.yaml.swp'), 'x');
    await writeFile(path.join(dir, 'tmp'), 'version: 1\nvms: {}\n');
    await rename(path.join(dir, 'tmp'), file);
    for (let i = 0; i < 100 && changes === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(changes).toBeGreaterThan(0);
    stop?.();
    const seen = changes;
    await writeFile(file, 'version: 1\n# later\n');
    await new Promise((r) => setTimeout(r, 200));
    expect(changes).toBe(seen);
  });

  it('watching a directory that does not exist is a no-op, not a crash', () => {
    const stop = fileSource(path.join(dir, 'missing', 'x.yaml')).watch?.(() => undefined);
    expect(typeof stop).toBe('function');
    stop?.();
  });
});
