import { describe, expect, it } from 'vitest';
import { HostError, InputError, UsageError } from '../errors.js';
import { renderError, renderInternalError } from './error-text.js';
import { plainStyle } from './style.js';

describe('renderError', () => {
  it('puts Error: on every diagnostic of a bad file, each fix under its own line', () => {
    const error = new InputError([
      { file: 'p.yaml', line: 5, col: 9, message: 'unknown key "adress"', hint: 'did you mean "address"?' },
      { file: 'p.yaml', line: 7, col: 3, message: 'VM "b" is on host "hv9", which is not declared' },
      { file: 'p.yaml', line: 9, col: 11, message: '"count" must be at least 1', hint: 'use count: 1' },
    ]);
    expect(renderError(error, plainStyle, false)).toMatchInlineSnapshot(`
      "Error: p.yaml:5:9: unknown key "adress"
        fix: did you mean "address"?
      Error: p.yaml:7:3: VM "b" is on host "hv9", which is not declared
      Error: p.yaml:9:11: "count" must be at least 1
        fix: use count: 1
      "
    `);
  });

  it('escapes what a host said, keeping its lines; with the cause and the fix', () => {
    const cause = Object.assign(new Error('Command failed'), { shortMessage: 'virsh \u001b]0;pwned\u0007 exited 1' });
    const error = new HostError('cannot connect to qemu+ssh://hv2/system: \u001b[2Jgone\nsecond line \u202e', { hint: 'check the URI', cause });
    expect(renderError(error, plainStyle, false)).toMatchInlineSnapshot(`
      "Error: cannot connect to qemu+ssh://hv2/system: \\u001b[2Jgone
      second line \\u202e
        cause: virsh \\u001b]0;pwned\\u0007 exited 1
        fix: check the URI
      "
    `);
  });

  it('a usage error: one line and its fix', () => {
    expect(renderError(new UsageError('unknown command "aply"', { hint: 'commands: apply' }), plainStyle, false)).toMatchInlineSnapshot(`
      "Error: unknown command "aply"
        fix: commands: apply
      "
    `);
  });

  it('a bug: its stack, escaped', () => {
    const bug = new TypeError('x\u001b[31m');
    bug.stack = 'TypeError: x\u001b[31m\n    at f (a.js:1:1)';
    expect(renderInternalError(bug)).toMatchInlineSnapshot(`
      "passthru: internal error (a bug — please report it with this output):
      TypeError: x\\u001b[31m
          at f (a.js:1:1)
      "
    `);
  });
});
