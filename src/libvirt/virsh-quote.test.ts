import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { findRealVirsh } from '../../test/helpers/virsh-shim.js';
import { quoteVirshArg, virshCommandText } from './virsh-quote.js';

const NASTY = [
  'web 01',
  "it's",
  'say "hi"',
  'a;b',
  'semi; undefine --domain x',
  'back\\slash',
  'x\\',
  'dollar$HOME',
  '#hash',
  'tab\there',
  'new\nline',
  "''",
  "a'\\''b",
  '{}[]()*?~`!&|<>',
  'ünïcødé ✓',
  '',
  '-x',
];

describe('quoteVirshArg', () => {
  it('leaves plain arguments alone and single-quotes the rest', () => {
    expect(quoteVirshArg('dumpxml')).toBe('dumpxml');
    expect(quoteVirshArg('--inactive')).toBe('--inactive');
    expect(quoteVirshArg('6695eb01-f6a4-8304-79aa-97f2502e193f')).toBe('6695eb01-f6a4-8304-79aa-97f2502e193f');
    expect(quoteVirshArg('qemu+ssh://root@hv2/system')).toBe('qemu+ssh://root@hv2/system');
    expect(quoteVirshArg('web 01')).toBe("'web 01'");
    expect(quoteVirshArg("it's")).toBe(`'it'\\''s'`);
    expect(quoteVirshArg('')).toBe("''");
  });

  it('joins a command', () => {
    expect(virshCommandText(['dumpxml', '--domain', "it's; x"])).toBe(`dumpxml --domain 'it'\\''s; x'`);
  });
});

describe.skipIf(findRealVirsh() === null)('quoting against real virsh', () => {
  it.each(NASTY)('virsh reads %j back unchanged', async (arg) => {
    // `echo` prints its argument as virsh parsed it; -q leaves out the newline it would add.
    const r = await execa('virsh', ['-q', '-c', 'test:///default', `echo ${quoteVirshArg(arg)}`], {
      env: { LC_ALL: 'C' },
      stripFinalNewline: false,
    });
    expect(r.stdout).toBe(arg);
  });

  it('keeps a quoted argument in one piece between `;`-separated commands', async () => {
    const script = NASTY.map((a) => `echo ${quoteVirshArg(a)} ; echo ${quoteVirshArg('<end>')}`).join(' ; ');
    const r = await execa('virsh', ['-q', '-c', 'test:///default', script], { env: { LC_ALL: 'C' } });
    expect(r.stdout.split('<end>').slice(0, -1)).toEqual(NASTY);
  });

  it('cannot stop virsh reading a quoted leading `--` as an option (so values go behind their option)', async () => {
    const r = await execa('virsh', ['-q', '-c', 'test:///default', `echo ${quoteVirshArg('--x')}`], {
      env: { LC_ALL: 'C' },
      reject: false,
    });
    expect(r.stderr).toMatch(/doesn't support option --x/);
    const v = await execa('virsh', ['-q', '-c', 'test:///default', `domstate --domain ${quoteVirshArg('--x')}`], {
      env: { LC_ALL: 'C' },
      reject: false,
    });
    expect(v.stderr).toMatch(/failed to get domain '--x'/);
  });
});
