/**
 * `check --format junit`: one test suite per host, one test case per listed VM plus one for the host's driver
 * bindings. Drift is a failure; a blocking problem is an error. CI systems show these natively.
 */
import type { HostPlan, Plan } from '../model/plan.js';
import { actionSubject } from './action.js';

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

function hostCases(host: HostPlan, vms: string[]): string[] {
  const subjects = ['host driver bindings', ...vms.map((v) => `vm ${v}`)];
  return subjects.map((subject) => {
    const vm = subject.startsWith('vm ') ? subject.slice(3) : null;
    const drift = host.actions.filter((a) => ('vm' in a ? a.vm === vm : vm === null));
    const blocks = host.problems.filter((p) => p.severity === 'block' && (p.vm ?? null) === vm);
    const body = [
      ...blocks.map((p) => `      <error type="${esc(p.code)}" message="${esc(p.message)}">${esc(p.hint ?? '')}</error>`),
      ...(drift.length > 0
        ? [
            `      <failure type="drift" message="${drift.length} change(s) pending">${esc(
              drift.map((a) => `${actionSubject(a)}: ${a.reason}`).join('\n'),
            )}</failure>`,
          ]
        : []),
    ];
    const open = `    <testcase classname="passthru.${esc(host.name)}" name="${esc(subject)}"`;
    return body.length === 0 ? `${open}/>` : [`${open}>`, ...body, '    </testcase>'].join('\n');
  });
}

/** `vmsByHost` lists, per host, the VMs the desired state names (so in-sync VMs appear as passing cases). */
export function renderCheckJunit(plan: Plan, vmsByHost: ReadonlyMap<string, string[]>): string {
  const suites = plan.hosts.map((h) => {
    const cases = hostCases(h, vmsByHost.get(h.name) ?? []);
    const failures = cases.filter((c) => c.includes('<failure')).length;
    const errors = cases.filter((c) => c.includes('<error')).length;
    return [
      `  <testsuite name="passthru check ${esc(h.name)}" tests="${cases.length}" failures="${failures}" errors="${errors}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  return ['<?xml version="1.0" encoding="UTF-8"?>', '<testsuites name="passthru check">', ...suites, '</testsuites>', ''].join('\n');
}
