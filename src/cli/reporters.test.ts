import { describe, expect, it } from 'vitest';
import { hostilePlanCase } from '../../test/helpers/plans.js';
import type { PlanJson } from '../render/plan-json.js';
import { plainStyle } from '../render/style.js';
import { FORMATS, parseInvocation } from './args.js';
import { render, REPORTERS } from './reporters.js';

const ctx = { style: plainStyle, quiet: false };

describe('REPORTERS', () => {
  it('has a renderer for every --format of every command, and nothing else', () => {
    for (const [command, formats] of Object.entries(FORMATS)) {
      expect(Object.keys(REPORTERS[command as keyof typeof REPORTERS]), command).toEqual([...formats]);
    }
    expect(Object.keys(REPORTERS)).toEqual(Object.keys(FORMATS));
  });

  it('the first format is the default', () => {
    expect(parseInvocation(['plan'], {}).format).toBe('text');
    expect(parseInvocation(['observe'], {}).format).toBe('json');
    expect(parseInvocation(['import'], {}).format).toBe('yaml');
    expect(() => parseInvocation(['observe', '--format', 'text'], {})).toThrow('unknown --format "text" for observe');
  });

  it('escapes what reaches the terminal, except formats that are code or data for another program', () => {
    const c = hostilePlanCase();
    for (const format of ['text', 'json', 'diff'] as const) {
      expect(render('plan', format, c, ctx), format).not.toContain('\u001b');
    }
    expect(render('check', 'junit', c, ctx)).not.toContain('\u001b');
    // sh names domains by UUID, and the names in its comments are escaped by the renderer itself (not again here).
    const sh = render('plan', 'sh', c, ctx);
    expect(sh).toContain('--domain 22222222-2222-4222-8222-222222222222');
    for (const raw of ['\u001b', '\u0007', '\u202e']) expect(sh).not.toContain(raw);
    expect(sh).toContain('from "db\\u001b]0;pwned\\u0007\\u202egnp.exe"');
    // The JSON is the plan itself, plus each observed host's xmlChanges.
    const json = JSON.parse(render('plan', 'json', c, ctx)) as PlanJson;
    expect({ ...json, hosts: json.hosts.map(({ xmlChanges: _, ...h }) => h) }).toEqual(c.plan);
  });
});
