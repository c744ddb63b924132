import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVirshShim, findRealVirsh, type VirshShim } from '../../test/helpers/virsh-shim.js';
import { HostError } from '../errors.js';
import { createVirsh } from './execa-virsh.js';

const real = findRealVirsh();
const URI = 'test:///default';
/** The one domain of libvirt's built-in test driver. */
const TEST_UUID = '6695eb01-f6a4-8304-79aa-97f2502e193f';

describe('createVirsh without a virsh binary', () => {
  it('rejects batch and run with a HostError that says what to install', async () => {
    const virsh = createVirsh({ binary: '/nonexistent/virsh' });
    const batch = virsh.batch(URI, [['list']]);
    await expect(batch).rejects.toBeInstanceOf(HostError);
    await expect(batch).rejects.toMatchObject({ message: expect.stringMatching(/not found/), hint: expect.stringMatching(/libvirt-clients/) });
    await expect(virsh.run(URI, ['list'])).rejects.toMatchObject({ hint: expect.stringMatching(/--virsh/) });
  });

  it('starts no process for an empty batch', async () => {
    await expect(createVirsh({ binary: '/nonexistent/virsh' }).batch(URI, [])).resolves.toEqual([]);
  });
});

describe.skipIf(real === null)('createVirsh against real virsh (test driver)', () => {
  let shim: VirshShim;
  let scratch: string;
  beforeAll(async () => {
    shim = await createVirshShim(real as string);
    scratch = await mkdtemp(path.join(tmpdir(), 'passthru-virsh-test-'));
  });
  afterAll(async () => {
    await shim.cleanup();
    await rm(scratch, { recursive: true, force: true });
  });

  it('runs a batch in one process and returns one result per command, errors included', async () => {
    await shim.reset();
    const debug: string[] = [];
    const virsh = createVirsh({ binary: shim.binary, debug: (l) => debug.push(l) });
    const results = await virsh.batch(URI, [
      ['domstate', '--domain', TEST_UUID],
      ['domname', '--domain', 'no such domain'],
      ['domname', '--domain', TEST_UUID],
      ['dumpxml', '--domain', TEST_UUID],
    ]);
    expect(await shim.count()).toBe(1);
    expect(results.map((r) => [r.ok, r.error])).toEqual([
      [true, null],
      [false, "failed to get domain 'no such domain'"],
      [true, null],
      [true, null],
    ]);
    expect(results[0]?.output).toBe('running\n');
    expect(results[1]?.output).toBe('');
    expect(results[2]?.output).toBe('test\n');
    expect(results[3]?.output).toMatch(/^<domain type='test' id='1'>\n[\s\S]*<\/domain>\n$/);
    expect(debug).toContain(`  [1] domname --domain 'no such domain'`);
  });

  it('attributes every error to its own command, under load', async () => {
    // Large outputs between failures: with two pipes (execa's `all`) errors drift into neighbouring segments.
    const commands = Array.from({ length: 400 }, (_, i) =>
      i % 2 === 0 ? ['domstate', '--domain', `missing-${i}`] : ['dumpxml', '--domain', TEST_UUID],
    );
    const virsh = createVirsh({ binary: real as string });
    for (let round = 0; round < 3; round++) {
      const results = await virsh.batch(URI, commands);
      results.forEach((r, i) => {
        if (i % 2 === 0) expect(r).toEqual({ ok: false, output: '', error: `failed to get domain 'missing-${i}'` });
        else expect(r.ok && r.output.endsWith('</domain>\n')).toBe(true);
      });
    }
  });

  it('rejects a batch that virsh refuses to parse, naming the command (nothing ran)', async () => {
    const virsh = createVirsh({ binary: real as string });
    const bad = virsh.batch(URI, [
      ['domstate', '--domain', TEST_UUID],
      ['domstate', '--bogus', '--domain', TEST_UUID],
    ]);
    await expect(bad).rejects.toBeInstanceOf(HostError);
    await expect(bad).rejects.toThrow(/doesn't support option --bogus \(in: domstate --bogus --domain/);
    await expect(virsh.batch(URI, [['no-such-command']])).rejects.toThrow(/unknown command: 'no-such-command'/);
  });

  it('rejects a batch whose later line virsh cannot parse, naming the command, after the lines before it ran', async () => {
    const virsh = createVirsh({ binary: real as string });
    const commands = Array.from({ length: 40 }, () => ['domstate', '--domain', TEST_UUID]);
    commands[35] = ['domstate', '--bogus', '--domain', TEST_UUID];
    await expect(virsh.batch(URI, commands)).rejects.toThrow(/rejected the batch .*doesn't support option --bogus \(in: domstate --bogus --domain/);
  });

  it('hands virsh the batch on its stdin, never as an argument (virsh holds ~100 KiB per command of an argument)', async () => {
    // Regression (issue 12): a 1,140-command argument made virsh 164 MB, the peak RSS of `passthru plan`. Failed
    // before the fix: the shim saw the whole batch as its 4th argument.
    const argsLog = path.join(scratch, 'args.log');
    const counting = path.join(scratch, 'args-virsh');
    await writeFile(counting, `#!/bin/sh\nprintf '%s\\n' "$#" >> '${argsLog}'\nexec '${real as string}' "$@"\n`);
    await chmod(counting, 0o755);
    const results = await createVirsh({ binary: counting }).batch(URI, Array.from({ length: 100 }, () => ['domstate', '--domain', TEST_UUID]));
    expect(results.map((r) => r.output)).toEqual(Array.from({ length: 100 }, () => 'running\n'));
    expect(await readFile(argsLog, 'utf8')).toBe('3\n');
  });

  it('rejects with a connection hint when virsh cannot connect', async () => {
    const virsh = createVirsh({ binary: real as string });
    const bad = virsh.batch('test:///nonexistent/node.xml', [['list']]);
    await expect(bad).rejects.toThrow(/cannot connect to test:\/\/\/nonexistent\/node.xml: .*failed to parse xml/);
    await expect(bad).rejects.toMatchObject({ hint: expect.stringMatching(/check the URI/) });
    // A script longer than a pipe holds, which virsh never reads.
    const long = Array.from({ length: 2000 }, () => ['domstate', '--domain', TEST_UUID]);
    await expect(virsh.batch('test:///nonexistent/node.xml', long)).rejects.toThrow(/cannot connect to test:\/\/\/nonexistent\/node.xml/);
  });

  it('cuts a long batch into as few processes as the output budget allows', async () => {
    await shim.reset();
    const virsh = createVirsh({ binary: shim.binary });
    const results = await virsh.batch(
      URI,
      Array.from({ length: 3000 }, () => ['domstate', '--domain', TEST_UUID]),
    );
    expect(results).toHaveLength(3000);
    expect(results.every((r) => r.ok && r.output === 'running\n')).toBe(true);
    // ~100 bytes per command against a 120 kB budget.
    expect(await shim.count()).toBe(3);
  });

  it('run returns the exit code and both streams, and never rejects for a failing command', async () => {
    const virsh = createVirsh({ binary: real as string });
    const ok = await virsh.run(URI, ['domstate', '--domain', TEST_UUID]);
    expect(ok).toMatchObject({ exitCode: 0, stdout: 'running\n\n', stderr: '', timedOut: false });
    expect(ok.command).toEqual([real, '-c', URI, 'domstate', '--domain', TEST_UUID]);
    const failed = await virsh.run(URI, ['domstate', '--domain', 'nope']);
    expect(failed).toMatchObject({ exitCode: 1, timedOut: false });
    expect(failed.stderr).toBe("error: failed to get domain 'nope'\n");
  });

  it('reports the signal of a virsh that was killed', async () => {
    const suicidal = path.join(scratch, 'killed-virsh');
    await writeFile(suicidal, '#!/bin/sh\nkill -KILL $$\n');
    await chmod(suicidal, 0o755);
    const r = await createVirsh({ binary: suicidal }).run(URI, ['attach-device', 'vm1', '--file', 'x.xml']);
    expect(r).toMatchObject({ exitCode: -1, signal: 'SIGKILL', timedOut: false });
  });

  it('rejects a batch whose virsh printed nothing, saying how it ended (a crash or a kill, not "no output")', async () => {
    const suicidal = path.join(scratch, 'killed-batch-virsh');
    await writeFile(suicidal, '#!/bin/sh\nkill -SEGV $$\n');
    await chmod(suicidal, 0o755);
    const err = await createVirsh({ binary: suicidal }).batch(URI, [['domstate', 'vm1']]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HostError);
    expect((err as HostError).message).toBe(`virsh printed nothing on ${URI} and was killed by SIGSEGV (a batch of 1 commands)`);
  });

  it('times out: run reports it, batch rejects', async () => {
    const slow = path.join(scratch, 'slow-virsh');
    await writeFile(slow, '#!/bin/sh\nsleep 10\n');
    await chmod(slow, 0o755);
    const virsh = createVirsh({ binary: slow, timeoutMs: 200 });
    const r = await virsh.run(URI, ['list']);
    expect(r).toMatchObject({ timedOut: true, exitCode: -1, signal: 'SIGTERM' });
    expect(r.durationMs).toBeLessThan(5000);
    await expect(virsh.batch(URI, [['list']])).rejects.toThrow(/timed out after 200 ms/);
  });

  it('refuses one command whose output is over its limit, naming it (a 50 MB domain XML is no parse of gigabytes)', async () => {
    const node = path.join(scratch, 'big-node.xml');
    const uuid = '0b6a5c6e-7e0a-4f6e-9d3c-000000000b19';
    await writeFile(
      node,
      `<node><domain type='test'><name>big</name><uuid>${uuid}</uuid><description>${'x'.repeat(2 * 1024 * 1024)}</description>` +
        "<memory>1048576</memory><os><type>hvm</type></os></domain></node>",
    );
    const virsh = createVirsh({ binary: real as string, outputLimits: { commandBytes: 1024 * 1024 } });
    const uri = `test://${node}`;
    const batch = virsh.batch(uri, [['domstate', '--domain', uuid], ['dumpxml', '--inactive', '--domain', uuid]]);
    await expect(batch).rejects.toBeInstanceOf(HostError);
    await expect(batch).rejects.toThrow(`virsh printed more than 1 MiB for one command on ${uri}; it was printing: virsh dumpxml --inactive --domain ${uuid}`);
    await expect(virsh.run(uri, ['dumpxml', '--domain', uuid])).rejects.toThrow(/virsh printed more than 1 MiB for one command .* dumpxml --domain/);
    expect((await virsh.batch(uri, [['domstate', '--domain', uuid]]))[0]?.output).toBe('running\n');
  });

  it('kills a virsh that prints without end, and says which command was printing', async () => {
    const endless = path.join(scratch, 'endless-virsh');
    // Prints the first command's marker (taken from the first line of the batch on stdin, unquoted), then never stops.
    await writeFile(
      endless,
      '#!/bin/sh\nread -r line\nm=$(printf %s "$line" | sed -n \'s/^echo \\([0-9a-f]*\\)"\\([^"]*\\)" ;.*/\\1\\2/p\')\nprintf %s "$m"\nexec tr "\\000" x < /dev/zero\n',
    );
    await chmod(endless, 0o755);
    const virsh = createVirsh({ binary: endless, outputLimits: { processBytes: 4 * 1024 * 1024 } });
    await expect(virsh.batch(URI, [['dumpxml', '--domain', TEST_UUID]])).rejects.toThrow(
      `virsh printed more than 4 MiB in one process (a batch of 1 commands) on ${URI}; it was printing: virsh dumpxml --domain ${TEST_UUID}`,
    );
  });
});
