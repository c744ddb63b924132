/**
 * `check --format junit`: one test suite per host, one test case per listed VM plus one for the host's driver
 * bindings. Drift (a pending change, or a problem that is drift by itself) is a failure; a blocking problem is an
 * error. A host that could not be observed is a suite whose one case, observing it, is an error, and whose VM cases
 * are skipped. CI systems show these natively.
 */
import type { HostPlan, Plan } from '../model/plan.js';
import { driftProblems } from '../plan/not-back.js';
import { actionSubject } from './action.js';
import { printable } from './printable.js';

/**
 * Text for an XML attribute or element. XML 1.0 cannot carry most control characters at all, not even as character
 * references, so they are escaped by `printable` first (layout kept: a newline in an element is fine).
 */
const esc = (s: string) =>
  printable(s, { layout: true }).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');

const testcase = (host: HostPlan, subject: string, body: string[]) => {
  const open = `    <testcase classname="passthru.${esc(host.name)}" name="${esc(subject)}"`;
  return body.length === 0 ? `${open}/>` : [`${open}>`, ...body.map((b) => `      ${b}`), '    </testcase>'].join('\n');
};

function hostCases(host: HostPlan, vms: string[]): string[] {
  if (host.error) {
    const { message, hint } = host.error;
    return [
      testcase(host, 'observe host', [`<error type="host-not-observed" message="${esc(message)}">${esc(hint ?? '')}</error>`]),
      ...vms.map((v) => testcase(host, `vm ${v}`, ['<skipped message="the host could not be observed"/>'])),
    ];
  }
  const subjects: [string, string | null][] = [['host driver bindings', null], ...vms.map((v): [string, string] => [`vm ${v}`, v])];
  return subjects.map(([subject, vm]) => {
    const drift = host.actions.filter((a) => ('vm' in a ? a.vm === vm : vm === null));
    // Drift no action fixes (a device not back, SPEC 13) fails the case as pending changes do.
    const unfixable = driftProblems(host).filter((p) => (p.vm ?? null) === vm);
    const blocks = host.problems.filter((p) => p.severity === 'block' && (p.vm ?? null) === vm);
    const failure = [...(drift.length > 0 ? [`${drift.length} change(s) pending`] : []), ...unfixable.map((p) => p.message)].join('; ');
    const details = [...drift.map((a) => `${actionSubject(a)}: ${a.reason}`), ...unfixable.map((p) => `${p.code}: ${p.hint ?? p.message}`)];
    return testcase(host, subject, [
      ...blocks.map((p) => `<error type="${esc(p.code)}" message="${esc(p.message)}">${esc(p.hint ?? '')}</error>`),
      ...(failure !== '' ? [`<failure type="drift" message="${esc(failure)}">${esc(details.join('\n'))}</failure>`] : []),
    ]);
  });
}

/** `vmsByHost` lists, per host, the VMs the desired state names (so in-sync VMs appear as passing cases). */
export function renderCheckJunit(plan: Plan, vmsByHost: ReadonlyMap<string, string[]>): string {
  const suites = plan.hosts.map((h) => {
    const cases = hostCases(h, vmsByHost.get(h.name) ?? []);
    const count = (tag: string) => cases.filter((c) => c.includes(`<${tag} `) || c.includes(`<${tag}>`)).length;
    return [
      `  <testsuite name="passthru check ${esc(h.name)}" tests="${cases.length}" failures="${count('failure')}" errors="${count('error')}" skipped="${count('skipped')}">`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  return ['<?xml version="1.0" encoding="UTF-8"?>', '<testsuites name="passthru check">', ...suites, '</testsuites>', ''].join('\n');
}
