import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import { batchScript, chunkCommands, COMMANDS_PER_LINE, MAX_BATCH_SCRIPT_BYTES, splitBatchOutput } from './virsh-batch.js';

const NONCE = 'a1b2c3d4e5f6a1b2c3d4e5f6';
const URI = 'qemu:///system';
const LIMIT = 1024;
const scriptBytes = (commands: string[][]) => {
  const script = batchScript(commands, NONCE);
  return Buffer.byteLength('stdin' in script ? script.stdin : script.argument);
};

describe('batchScript', () => {
  it('puts each command, quoted for virsh, behind the echo of its marker, and ends each line with its end marker', () => {
    expect(batchScript([['domstate', '--domain', 'a; undefine b'], ['list']], NONCE)).toEqual({
      stdin: `echo ${NONCE}"-0:" ; domstate --domain 'a; undefine b' ; echo ${NONCE}"-1:" ; list ; echo ${NONCE}"-1."\n`,
    });
  });

  it('writes lines of COMMANDS_PER_LINE commands', () => {
    const script = batchScript(Array.from({ length: COMMANDS_PER_LINE + 1 }, () => ['list']), NONCE);
    const lines = ('stdin' in script ? script.stdin : '').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(new RegExp(`; echo ${NONCE}"-${COMMANDS_PER_LINE - 1}."$`));
    expect(lines[1]).toBe(`echo ${NONCE}"-${COMMANDS_PER_LINE}:" ; list ; echo ${NONCE}"-${COMMANDS_PER_LINE}."`);
    expect(lines[2]).toBe('');
  });

  it('passes a batch with a line break in a command as one argument, which virsh unquotes whole', () => {
    expect(batchScript([['list'], ['domstate', '--domain', 'a\nb']], NONCE)).toEqual({
      argument: `echo ${NONCE}"-0:" ; list ; echo ${NONCE}"-1:" ; domstate --domain 'a\nb' ; echo ${NONCE}"-1."`,
    });
  });
});

describe('splitBatchOutput', () => {
  const commands = [['domstate', '--domain', 'x'], ['domname', '--domain', 'y'], ['dumpxml', '--domain', 'x']];

  it('gives each command its own output and its own trailing error', () => {
    const text =
      `${NONCE}-0:running\n` +
      `${NONCE}-1:error: failed to get domain 'y'\n` +
      `${NONCE}-2:<domain>\n<description>\nerror: not an error\n</description>\n</domain>\nerror: oops\n${NONCE}-2.`;
    expect(splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toEqual([
      { ok: true, output: 'running\n', error: null },
      { ok: false, output: '', error: "failed to get domain 'y'" },
      { ok: false, output: '<domain>\n<description>\nerror: not an error\n</description>\n</domain>\n', error: 'oops' },
    ]);
  });

  it('leaves out what virsh echoes of each line after its prompt, where the quoted markers do not count', () => {
    const echo = (from: number, to: number) =>
      `virsh # ${commands.slice(from, to + 1).map((c, k) => `echo ${NONCE}"-${from + k}:" ; ${c.join(' ')}`).join(' ; ')} ; echo ${NONCE}"-${to}."\n`;
    const text = `${echo(0, 1)}${NONCE}-0:running\n${NONCE}-1:shut off\n${NONCE}-1.${echo(2, 2)}${NONCE}-2:<domain/>\n${NONCE}-2.virsh # `;
    expect(splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toEqual([
      { ok: true, output: 'running\n', error: null },
      { ok: true, output: 'shut off\n', error: null },
      { ok: true, output: '<domain/>\n', error: null },
    ]);
  });

  it('throws naming the line virsh rejected, in the middle or at the end (a parse error runs none of its line)', () => {
    const rejected = "virsh # echo ...\nerror: command 'dumpxml' doesn't support option --bogus\n";
    const three = [['list'], ['dumpxml', '--bogus'], ['list']];
    expect(() => splitBatchOutput(`${NONCE}-0:a\n${NONCE}-0.${rejected}${NONCE}-2:c\n${NONCE}-2.`, NONCE, three, URI, LIMIT)).toThrow(
      /^virsh rejected the batch on qemu:\/\/\/system: command 'dumpxml' doesn't support option --bogus \(in: dumpxml --bogus\)$/,
    );
    expect(() => splitBatchOutput(`${NONCE}-0:a\n${NONCE}-0.${rejected}`, NONCE, three.slice(0, 2), URI, LIMIT)).toThrow(
      /rejected the batch .* \(in: dumpxml --bogus\)$/,
    );
    // Without readline virsh prints its prompt but no echo: the error follows the prompt on its line.
    expect(() => splitBatchOutput(`${NONCE}-0:a\n${NONCE}-0.virsh > error: unknown command: 'bogus'\n`, NONCE, [['list'], ['bogus']], URI, LIMIT)).toThrow(
      /rejected the batch .*unknown command: 'bogus' \(in: bogus\)$/,
    );
  });

  it('counts the last command as done only when its end marker follows (its output may be cut)', () => {
    expect(() => splitBatchOutput(`${NONCE}-0:running\n${NONCE}-1:shut`, NONCE, commands.slice(0, 2), URI, LIMIT)).toThrow(
      /virsh stopped after 1 of 2 commands/,
    );
  });

  it('throws naming the last command when virsh stopped midway', () => {
    const text = `${NONCE}-0:running\n${NONCE}-1:error: lost the connection\n${NONCE}-1.`;
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
    const text = `${NONCE}-0:running\n${NONCE}-1:y\n${NONCE}-2:${'x'.repeat(LIMIT + 1)}${NONCE}-2.`;
    expect(() => splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toThrow(HostError);
    expect(() => splitBatchOutput(text, NONCE, commands, URI, LIMIT)).toThrow(/printing: virsh dumpxml --domain x$/);
  });
});

describe('chunkCommands', () => {
  it('keeps every chunk under the script limit, in order, with the index of its first command', () => {
    const commands = Array.from({ length: 6000 }, (_, i) => ['dumpxml', '--inactive', '--domain', `domain-${i}`]);
    const chunks = chunkCommands(commands);
    expect(chunks.length).toBeGreaterThan(1);
    expect(chunks.flatMap((c) => c.commands)).toEqual(commands);
    let first = 0;
    for (const chunk of chunks) {
      expect(chunk.first).toBe(first);
      expect(scriptBytes(chunk.commands)).toBeLessThanOrEqual(MAX_BATCH_SCRIPT_BYTES);
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
      expect(scriptBytes(chunk.commands)).toBeLessThanOrEqual(MAX_BATCH_SCRIPT_BYTES);
    }
  });

  it('cuts inside a unit only when the unit alone is over the limit', () => {
    const big = 'x'.repeat(MAX_BATCH_SCRIPT_BYTES / 2);
    const commands = [['echo', 'a'], ...Array.from({ length: 3 }, () => ['dumpxml', '--domain', big])];
    const chunks = chunkCommands(commands, 4);
    expect(chunks.map((c) => c.first)).toEqual([0, 2, 3]);
    for (const chunk of chunks) expect(scriptBytes(chunk.commands)).toBeLessThanOrEqual(MAX_BATCH_SCRIPT_BYTES);
  });

  it('refuses a single command too long for one batch', () => {
    expect(() => chunkCommands([['dumpxml', '--domain', 'x'.repeat(MAX_BATCH_SCRIPT_BYTES)]])).toThrow(/too long for one batch/);
  });
});
