/**
 * `plan --format diff`: for each VM the plan changes, a unified diff of its persistent XML (`dumpxml --inactive`)
 * before and after the config changes. Removed elements are cut from libvirt's own text; added hostdevs are
 * appended at the end of `<devices>` (libvirt may order them differently when it stores the config).
 */
import { createTwoFilesPatch } from 'diff';
import type { Action, Plan } from '../model/plan.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { parseDomainXml } from '../libvirt/domain-xml.js';

/** Indents element-only XML (an action's hostdevXml) the way libvirt prints it, one element per line. */
function indentXml(xml: string, indent: string): string {
  let depth = 0;
  return (xml.match(/<[^>]+>/g) ?? [])
    .map((tag) => {
      if (tag.startsWith('</')) depth -= 1;
      const line = `${indent}${'  '.repeat(depth)}${tag}`;
      if (!tag.startsWith('</') && !tag.endsWith('/>')) depth += 1;
      return line;
    })
    .join('\n');
}

/** Removes `element` (an exact substring) with its line's indentation and newline. */
function cut(text: string, element: string): string {
  const i = text.indexOf(element);
  if (i < 0) return text;
  const lineStart = text.lastIndexOf('\n', i) + 1;
  const start = /^[ \t]*$/.test(text.slice(lineStart, i)) ? lineStart : i;
  const end = text[i + element.length] === '\n' ? i + element.length + 1 : i + element.length;
  return text.slice(0, start) + text.slice(end);
}

/** The `<hostdev>` / `<interface type='hostdev'>` element of the domain text that holds `address`. */
function hostdevElement(xml: string, address: string): string | undefined {
  const elements = xml.match(/<hostdev\b[\s\S]*?<\/hostdev>|<interface\s+type=['"]hostdev['"][\s\S]*?<\/interface>/g) ?? [];
  return elements.find((e) => parseDomainXml(`<domain><name>x</name><devices>${e}</devices></domain>`).hostdevs[0]?.address === address);
}

function applyConfigChange(xml: string, a: Action): string {
  if (!('config' in a) || !a.config) return xml;
  switch (a.kind) {
    case 'remove-interface':
      return cut(xml, a.interfaceXml);
    case 'detach-hostdev': {
      const element = hostdevElement(xml, a.address);
      return element ? cut(xml, element) : xml;
    }
    case 'attach-hostdev': {
      const close = /^([ \t]*)<\/devices>/m.exec(xml);
      if (!close) return xml;
      const block = `${indentXml(a.hostdevXml, `${close[1]}  `)}\n`;
      return xml.slice(0, close.index) + block + xml.slice(close.index);
    }
  }
}

/** One VM whose persistent XML the plan changes: the XML observed, and what the plan's config changes make of it. */
export interface VmXmlChange {
  host: string;
  vm: string;
  before: string;
  after: string;
}

/** Each VM of the observed hosts whose persistent XML the plan changes, in plan order (hosts, then domains). */
export function vmXmlChanges(plan: Plan, snapshots: ReadonlyMap<string, HostSnapshot>): VmXmlChange[] {
  const changes: VmXmlChange[] = [];
  for (const host of plan.hosts) {
    const domains = snapshots.get(host.name)?.domains ?? [];
    for (const dom of domains) {
      const actions = host.actions.filter((a) => 'vm' in a && a.vm === dom.name);
      if (actions.length === 0) continue;
      const after = actions.reduce(applyConfigChange, dom.persistentXml);
      if (after !== dom.persistentXml) changes.push({ host: host.name, vm: dom.name, before: dom.persistentXml, after });
    }
  }
  return changes;
}

export function renderPlanDiff(plan: Plan, snapshots: ReadonlyMap<string, HostSnapshot>): string {
  return vmXmlChanges(plan, snapshots)
    .map(({ host, vm, before, after }) => {
      const label = `${host}/${vm}.xml`;
      return createTwoFilesPatch(`a/${label}`, `b/${label}`, before, after, 'observed', 'planned');
    })
    .join('');
}
