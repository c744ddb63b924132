import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createDriverctl, DRIVERCTL_OUTPUT_BYTES } from './driverctl.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'passthru-driverctl-io-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in executable (never the real driverctl) whose body is `script`. */
async function stub(script: string): Promise<string> {
  const file = path.join(dir, 'driverctl');
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

describe('createDriverctl', () => {
  it('runs an argv with LC_ALL=C and returns exit code and output', async () => {
    const binary = await stub('echo "$LC_ALL $*"; echo "driverctl: oops" >&2; exit 3');
    const r = await createDriverctl({ binary }).run(['set-override', '0000:01:00.0', 'vfio-pci']);
    expect(r).toMatchObject({ exitCode: 3, stdout: 'C set-override 0000:01:00.0 vfio-pci\n', stderr: 'driverctl: oops\n', timedOut: false });
  });

  it('kills a driverctl that hangs at the timeout', async () => {
    const binary = await stub('sleep 30');
    const started = Date.now();
    const r = await createDriverctl({ binary }).run(['unset-override', '0000:01:00.0'], { timeoutMs: 300 });
    expect(r.timedOut).toBe(true);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('refuses output past its bound instead of reading it all', async () => {
    const binary = await stub(`head -c ${DRIVERCTL_OUTPUT_BYTES * 4} /dev/zero`);
    await expect(createDriverctl({ binary }).run(['set-override', '0000:01:00.0', 'vfio-pci'])).rejects.toThrow(/printed more than 65536 bytes/);
  });

  it('says how to install driverctl when it is missing', async () => {
    await expect(createDriverctl({ binary: path.join(dir, 'absent') }).run(['unset-override', '0000:01:00.0'])).rejects.toMatchObject({
      message: expect.stringContaining('was not found'),
      hint: expect.stringContaining('apt-get install driverctl'),
    });
  });
});
