import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseInvocation } from './args.js';

describe('parseInvocation', () => {
  it('fills the common defaults, and takes --root / --virsh from the environment', () => {
    const inv = parseInvocation(['plan'], { PASSTHRU_ROOT: '/captures/hv1', PASSTHRU_VIRSH: '/opt/virsh' });
    expect(inv.command).toBe('plan');
    expect(inv.common).toEqual({
      file: 'passthrough.yaml',
      fileGiven: false,
      connect: null,
      hosts: [],
      root: '/captures/hv1',
      virsh: '/opt/virsh',
      noColor: false,
      quiet: false,
      debug: false,
    });
    expect(parseInvocation(['plan', '--root', '/x'], { PASSTHRU_ROOT: '/y' }).common.root).toBe('/x');
  });

  it('takes --host on every command, repeatable, each name once', () => {
    for (const command of ['validate', 'doctor', 'observe', 'plan', 'apply', 'check', 'import']) {
      expect(parseInvocation([command, '--host', 'hv2', '--host', 'hv1', '--host', 'hv2'], {}).common.hosts).toEqual(['hv2', 'hv1']);
    }
  });

  it('takes --parallelism on every command that works on hosts, default 10 (SPEC 12)', () => {
    for (const command of ['doctor', 'observe', 'plan', 'apply', 'check', 'import']) {
      expect(parseInvocation([command], {}).parallelism).toBe(10);
      expect(parseInvocation([command, '--parallelism', '3'], {}).parallelism).toBe(3);
    }
    expect(parseInvocation(['plan', '--parallelism=1'], {}).parallelism).toBe(1);
  });

  it.each(['0', '-2', '1.5', '2e1', 'ten', '', ' 3', '0x10', '99999999999999999999'])('rejects --parallelism %j with a usage error', (n) => {
    expect(() => parseInvocation(['plan', `--parallelism=${n}`], {})).toThrow(UsageError);
    expect(() => parseInvocation(['plan', `--parallelism=${n}`], {})).toThrow(`--parallelism must be a whole number of hosts, at least 1; got "${n}"`);
  });

  it('apply takes --batches and --max-failures (default: one wave, 0 failures tolerated); plan does not', () => {
    expect(parseInvocation(['apply'], {})).toMatchObject({ batches: null, maxFailures: 0 });
    expect(parseInvocation(['apply', '--batches', '1,10%,100%', '--max-failures', '2'], {})).toMatchObject({
      batches: [{ hosts: 1 }, { percent: 10 }, { percent: 100 }],
      maxFailures: 2,
    });
    expect(() => parseInvocation(['plan', '--batches', '1'], {})).toThrow('passthru plan does not take --batches');
  });

  it.each([['--batches', '1,x'], ['--batches', '0'], ['--max-failures', '-1'], ['--max-failures', 'one']])('rejects apply %s %j with a usage error', (flag, value) => {
    expect(() => parseInvocation(['apply', flag, value], {})).toThrow(UsageError);
  });

  it('reads a saved plan as apply\'s positional argument', () => {
    const inv = parseInvocation(['apply', 'plan.json', '--yes', '--lock-timeout', '30s'], {});
    expect([inv.planFile, inv.yes, inv.lockTimeout]).toEqual(['plan.json', true, '30s']);
  });

  it.each([
    [['apply', 'plan.json', '-f', 'x.yaml'], 'takes neither -f, -c nor --host'],
    [['apply', 'plan.json', '-c', 'qemu:///system'], 'takes neither -f, -c nor --host'],
    [['apply', 'plan.json', '--host', 'hv1'], 'takes neither -f, -c nor --host'],
    [['validate', '--yes'], 'passthru validate does not take --yes'],
    [['validate', '--parallelism', '0'], 'passthru validate does not take --parallelism'],
    [['check', '--format', 'diff'], 'unknown --format "diff" for check'],
    [['plan', 'extra'], 'unexpected argument "extra"'],
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['plan', '--nope'], "Unknown option '--nope'"],
  ])('rejects %j', (argv, message) => {
    expect(() => parseInvocation(argv, {})).toThrow(UsageError);
    expect(() => parseInvocation(argv, {})).toThrow(message);
  });

  it('routes --help and help COMMAND to the help text', () => {
    expect(parseInvocation(['plan', '--help'], {})).toMatchObject({ command: 'help', topic: 'plan' });
    expect(parseInvocation(['help', 'apply'], {})).toMatchObject({ command: 'help', topic: 'apply' });
    expect(parseInvocation([], {}).command).toBe('help');
  });
});

describe('verify and apply --verify (SPEC 13)', () => {
  it('parses verify with --qmp and its formats, and apply --verify', () => {
    expect(parseInvocation(['verify', '--qmp', '--format', 'json'], {})).toMatchObject({ command: 'verify', qmp: true, format: 'json' });
    expect(parseInvocation(['verify'], {})).toMatchObject({ command: 'verify', qmp: false, format: 'text', guestTimeoutMs: 30_000 });
    expect(parseInvocation(['verify', '--guest-timeout', '5m'], {})).toMatchObject({ guestTimeoutMs: 300_000 });
    expect(parseInvocation(['apply', '--verify', '--guest-timeout', '90s'], {})).toMatchObject({ verify: true, guestTimeoutMs: 90_000 });
    expect(() => parseInvocation(['apply', '--verify', '--guest-timeout', 'soon'], {})).toThrow('invalid duration "soon"');
    expect(parseInvocation(['apply', '--verify', '--yes'], {})).toMatchObject({ command: 'apply', verify: true, qmp: false });
  });

  it('refuses --qmp where nothing asks a guest, and a format verify does not print', () => {
    expect(() => parseInvocation(['plan', '--qmp'], {})).toThrow('passthru plan does not take --qmp');
    expect(() => parseInvocation(['verify', '--format', 'junit'], {})).toThrow('unknown --format "junit" for verify');
  });
});
