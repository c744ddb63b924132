import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { parseInvocation } from './args.js';

const parse = (...argv: string[]) => parseInvocation(argv, {});

describe('passthru agent / status flags', () => {
  it('defaults: check mode, 60s, /var/lib/passthru, text logs, 5m lock timeout, the default file', () => {
    const inv = parse('agent');
    expect(inv.command).toBe('agent');
    expect(inv.agent).toEqual({
      source: null,
      mode: 'check',
      interval: '60s',
      stateDir: '/var/lib/passthru',
      once: false,
      verifySignatures: false,
      logFormat: 'text',
      lockTimeout: '5m',
    });
    expect(inv.common.file).toBe('passthrough.yaml');
  });

  it('takes every SPEC 9 flag', () => {
    const inv = parse('agent', '--source', 'git+file:///srv/infra.git#main:hv1/passthrough.yaml', '--mode', 'apply', '--interval', '5s', '--state-dir', '/tmp/s', '--once', '--verify-signatures', '--log-format', 'json', '--lock-timeout', '30s', '--journal', '/tmp/j');
    expect(inv.agent).toEqual({
      source: 'git+file:///srv/infra.git#main:hv1/passthrough.yaml',
      mode: 'apply',
      interval: '5s',
      stateDir: '/tmp/s',
      once: true,
      verifySignatures: true,
      logFormat: 'json',
      lockTimeout: '30s',
    });
    expect(inv.journal).toBe('/tmp/j');
    expect(parse('status', '--state-dir', '/tmp/s', '--format', 'json')).toMatchObject({ command: 'status', format: 'json', agent: { stateDir: '/tmp/s' } });
  });

  it.each([
    [['agent', '--mode', 'fix'], 'unknown --mode "fix"'],
    [['agent', '--log-format', 'xml'], 'unknown --log-format "xml"'],
    [['agent', '--source', 'a.yaml', '-f', 'b.yaml'], 'give the desired state once: --source SRC or -f FILE, not both'],
    [['agent', '--verify-signatures'], '--verify-signatures needs a git source'],
    [['status', '--format', 'junit'], 'unknown --format "junit" for status'],
    [['status', '--mode', 'apply'], 'passthru status does not take --mode'],
    [['plan', '--once'], 'passthru plan does not take --once'],
  ])('%j is a usage error', (argv, message) => {
    expect(() => parse(...argv)).toThrow(UsageError);
    expect(() => parse(...argv)).toThrow(message);
  });
});
