import { describe, expect, it } from 'vitest';
import { HostError, PassthruError } from '../errors.js';
import type { ApplyOutcome, ApplyReport, StepResult } from '../model/apply-report.js';
import type { Action } from '../model/plan.js';
import { progressLines, renderApplyJson, renderApplyText } from './apply-report.js';
import { plainStyle } from './style.js';

const detach: Action = { kind: 'nodedev-detach', address: '0000:07:00.0', fromDriver: 'igb', reason: 'newly assigned' };
const step = (over: Partial<StepResult> = {}): StepResult => ({
  step: 1,
  kind: 'nodedev-detach',
  label: 'nodedev-detach 0000:07:00.0',
  ok: true,
  attempts: 1,
  earlierAttempts: [],
  command: ['nodedev-detach', 'pci_0000_07_00_0'],
  exitCode: 0,
  error: null,
  note: null,
  durationMs: 620,
  ...over,
});
const report = (over: Partial<ApplyReport> = {}): ApplyReport => ({
  host: 'hv1',
  uri: 'qemu:///system',
  ok: true,
  steps: [step()],
  failure: null,
  rollback: [],
  restored: true,
  leftovers: [],
  ...over,
});
const retried = step({ attempts: 2, earlierAttempts: ['virsh reported success but 0000:07:00.0 is on igb (expected vfio-pci)'], durationMs: 1240 });

describe('progressLines', () => {
  it('says ok, ok after a retry (with what the first attempt left), or FAILED', () => {
    const lines = progressLines(null, plainStyle);
    expect(lines.preStep(1, 3, detach)).toBe('[1/3] nodedev-detach 0000:07:00.0 ...\n');
    expect(lines.postStep(1, 3, detach, step())).toBe('[1/3] nodedev-detach 0000:07:00.0 ok (0.62s)\n');
    expect(lines.postStep(1, 3, detach, retried)).toMatchInlineSnapshot(`
      "[1/3] nodedev-detach 0000:07:00.0 ok after a retry (1.24s) — attempt 1: virsh reported success but 0000:07:00.0 is on igb (expected vfio-pci)
      "
    `);
    const failed = step({ ok: false, error: 'injected fault', exitCode: 1 });
    expect(progressLines('hv1', plainStyle).postStep(1, 3, detach, failed)).toBe('hv1: [1/3] nodedev-detach 0000:07:00.0 FAILED: injected fault (0.62s)\n');
    expect(progressLines('hv5', plainStyle, { index: 2, count: 3 }).preStep(1, 3, detach)).toBe('[wave 2/3] hv5: [1/3] nodedev-detach 0000:07:00.0 ...\n');
    expect(lines.postUndo(1, 2, step({ attempts: 0, note: 'nothing to undo' }))).toBe('[undo 1/2] nodedev-detach 0000:07:00.0 ok — nothing to undo\n');
  });
});

describe('renderApplyText', () => {
  it('reports each host: applied, failed and restored, interrupted, not restored', () => {
    const outcome = {
      reports: [
        report({ steps: [retried, step({ step: 2 })] }),
        report({ host: 'hv2', ok: false, steps: [step({ ok: false, error: 'injected fault' })], failure: { kind: 'step', step: 1, action: detach, error: 'injected fault' }, rollback: [step()] }),
        report({ host: 'hv3', ok: false, failure: { kind: 'interrupted', step: null, action: null, error: 'interrupted by SIGTERM' }, rollback: [step()] }),
        report({
          host: 'hv4',
          ok: false,
          failure: { kind: 'final-check', step: null, action: null, error: 'after the last step the host still differs: x' },
          rollback: [step({ ok: false, error: 'boom' })],
          restored: false,
          leftovers: ['0000:07:00.0 is on vfio-pci (was igb)'],
        }),
      ],
      refused: [],
      waves: [['hv1', 'hv2', 'hv3', 'hv4']],
    };
    expect(renderApplyText(outcome, '/var/log/passthru/journal.jsonl', plainStyle)).toMatchInlineSnapshot(`
      "
      Host hv1: applied 2 step(s) (1 after a retry); a fresh plan is empty.
      Host hv2: apply FAILED at step 1: injected fault
        Rolled back 1 step(s); the host was observed back in its state before the apply.
      Host hv3: apply interrupted by SIGTERM after 1 step(s)
        Rolled back 1 step(s); the host was observed back in its state before the apply.
      Host hv4: apply FAILED in the final check: after the last step the host still differs: x
        Rollback could NOT restore the host. What is not as it was:
          - 0000:07:00.0 is on vfio-pci (was igb)
        Fix these by hand (see the journal for every command run), then run \`passthru plan\`.
      Journal: /var/log/passthru/journal.jsonl
      "
    `);
    expect(renderApplyText({ reports: [], refused: [], waves: [] }, 'j', plainStyle)).toBe('');
  });

  it('names every host not applied to, and why, after the ones that ran', () => {
    const outcome: ApplyOutcome = {
      reports: [report({ host: 'hv1', ok: false, failure: { kind: 'step', step: 1, action: detach, error: 'injected fault' }, rollback: [step()] })],
      refused: [
        { host: 'hv2', state: 'unreachable', error: new HostError('cannot connect to qemu+ssh://x/system', { hint: 'check the URI' }), wave: null },
        { host: 'hv3', state: 'blocked', error: new PassthruError('blocked by 1 problem(s) (host-critical, listed in the plan); not applied'), wave: null },
        { host: 'hv4', state: 'not-attempted', error: new PassthruError('not attempted: 1 host(s) failed in earlier waves (hv1), more than --max-failures 0'), wave: 2 },
      ],
      waves: [['hv1'], ['hv4']],
    };
    expect(renderApplyText(outcome, 'j', plainStyle)).toBe(`
Host hv1: apply FAILED at step 1: injected fault
  Rolled back 1 step(s); the host was observed back in its state before the apply.
Host hv2: not applied (not observed): cannot connect to qemu+ssh://x/system
  fix: check the URI
Host hv3: not applied (blocked): blocked by 1 problem(s) (host-critical, listed in the plan); not applied
Host hv4: not attempted: 1 host(s) failed in earlier waves (hv1), more than --max-failures 0
Journal: j
`);
  });
});

describe('renderApplyJson', () => {
  it('carries every report, the journal and the hosts not applied to', () => {
    const refused = [
      { host: 'hv2', state: 'refused' as const, error: new Error('lock held'), wave: 1 },
      { host: 'hv3', state: 'not-attempted' as const, error: new PassthruError('not attempted: …', { hint: 'fix hv1' }), wave: 2 },
    ];
    const json = JSON.parse(renderApplyJson({ reports: [report()], refused, waves: [['hv1', 'hv2'], ['hv3']] }, '/j')) as Record<string, unknown>;
    expect(json).toEqual({
      format_version: '1',
      ok: false,
      journal: '/j',
      hosts: [{ ...report(), state: 'applied', wave: 1 }],
      notApplied: [
        { host: 'hv2', state: 'refused', wave: 1, error: 'lock held' },
        { host: 'hv3', state: 'not-attempted', wave: 2, error: 'not attempted: …', hint: 'fix hv1' },
      ],
      waves: [['hv1', 'hv2'], ['hv3']],
    });
    expect(JSON.parse(renderApplyJson({ reports: [], refused: [], waves: [] }, null))).toEqual({ format_version: '1', ok: true, hosts: [] });
  });
});
