import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import { batchScript, chunkCommands, MAX_BATCH_ARG_BYTES, splitBatchOutput } from './virsh-batch.js';

const NONCE = 'a1b2c3d4e5f6a1b2c3d4e5f6';
const URI = 'qemu:///system';
const LIMIT = 1024;

describe('batchScript', () => {
  it('puts each command, quoted for virsh, behind the echo of its marker', () => {
    expect(batchScript([['domstate', '--domain', 'a; undefine b'], ['list']], NONCE)).toBe(
      `echo ${NONCE}-0: ; domstate --domain 'a; undefine b' ; echo ${NONCE}-1: ; list`,
    );
  });
});

describe('splitBatchOutput', () => {
  const commands = [['domstate', '--domain', 'x'], ['domname', '--domain', 'y'], ['dumpxml', '--domain', 'x']];

  it('gives each command its own output and its own trailing error', () => {
    const text =
      `${NONCE}-0:running\n` +
      `${NONCE}-1:error: failed to get domain 'y'\n` +
      `${NONCE}-2:<domain>\n<description>\nerror: not an error\n</description>\n</domain>\nerror: oops\n`;
    expect(splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toEqual([
      { ok: true, output: 'running\n', error: null },
      { ok: false, output: '', error: "failed to get domain 'y'" },
      { ok: false, output: '<domain>\n<description>\nerror: not an error\n</description>\n</domain>\n', error: 'oops' },
    ]);
  });

  it('throws naming the last command when virsh stopped midway', () => {
    const text = `${NONCE}-0:running\n${NONCE}-1:error: lost the connection\n`;
    expect(() => splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toThrow(
      /virsh stopped after 2 of 3 commands on qemu:\/\/\/system \(last: domname --domain y\): lost the connection/,
    );
  });

  it('tells a connection failure from a parse error that names its command', () => {
    expect(() => splitBatchOutput('error: failed to connect to the hypervisor\nerror: no socket\n', NONCE, commands, URI, LIMIT)).toThrow(
      /^cannot connect to qemu:\/\/\/system: no socket$/,
    );
    expect(() => splitBatchOutput("error: command 'dumpxml' doesn't support option --bogus\n", NONCE, [['list'], ['dumpxml', '--bogus']], URI, LIMIT)).toThrow(
      /rejected the batch .* \(in: dumpxml --bogus\)$/,
    );
  });

  it('refuses one command whose output is over the limit, naming it', () => {
    const text = `${NONCE}-0:running\n${NONCE}-1:y\n${NONCE}-2:${'x'.repeat(LIMIT + 1)}`;
    expect(() => splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toThrow(HostError);
    expect(() => splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toThrow(/printing: virsh dumpxml --domain x$/);
  });
});

describe('chunkCommands', () => {
  it('keeps every chunk under the argument limit, in order, with the index of its first command', () => {
    const commands = Array.from({ length: 6000 }, (_, i) => ['dumpxml', '--inactive', '--domain', `domain-${i}`]);
    const chunks = chunkCommands(commands);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flatMap((c) => c.commands)).toEqual(commands);
    let first = 0;
    for (const chunk of chunks) {
      expect(chunk.first).toBe(first);
      expect(Buffer.byteLength(batchScript(chunk.commands, NONCE))).toBeLessThanOrEqual(MAX_BATCH_ARG_BYTES);
      first += chunk.commands.length;
    }
  });

  it('starts each chunk at a whole unit (3 commands a domain), still under the limit', () => {
    const commands = Array.from({ length: 6000 }, (_, i) => ['dumpxml', '--domain', `domain-${Math.floor(i / 3)}-${'x'.repeat(i % 7)}`]);
    const chunks = chunkCommands(commands, 3);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flatMap((c) => c.commands)).toEqual(commands);
    for (const chunk of chunks) {
      expect(chunk.first % 3).toBe(0);
      expect(Buffer.byteLength(batchScript(chunk.commands, NONCE))).toBeLessThanOrEqual(MAX_BATCH_ARG_BYTES);
    }
  });

  it('cuts inside a unit only when the unit alone is over the limit', () => {
    const big = 'x'.repeat(MAX_BATCH_ARG_BYTES / 2);
    const commands = [['echo', 'a'], ...Array.from({ length: 3 }, () => ['dumpxml', '--domain', big])];
    const chunks = chunkCommands(commands, 4);
    expect(chunks.map((c) => c.first)).toEqual([0, 2, 3]);
    for (const chunk of chunks) expect(Buffer.byteLength(batchScript(chunk.commands, NONCE))).toBeLessThanOrEqual(MAX_BATCH_ARG_BYTES);
  });

  it('refuses a single command too long for one argument', () => {
    expect(() => chunkCommands([['dumpxml', '--domain', 'x'.repeat(MAX_BATCH_ARG_BYTES)]])).toThrow(/too long for one argument/);
  });
});
