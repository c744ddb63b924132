/**
 * The human plan, Terraform-style: per host, the driver bindings and each VM's domain changes, every line with
 * its step number in execution order, the reason beneath it, then problems and a summary line. A host that could
 * not be observed shows its error instead. Every value from the host or the file (names, drivers, MACs, reasons,
 * pci.ids names) is interpolated through `printable` (`p` here): it may hold terminal escapes.
 */
import type { VfInterface } from '../model/desired.js';
import type { Action, HostPlan, Plan } from '../model/plan.js';
import { vfIdentity } from '../model/sriov-address.js';
import { SRIOV_RULES_FILE } from '../model/sriov-udev-rules.js';
import type { DomainSnapshot, HostSnapshot, PciDevice } from '../model/snapshot.js';
import { printable as p } from './printable.js';
import { renderHostError, renderProblem } from './problems.js';
import type { Style } from './style.js';

const deviceName = (d: PciDevice | undefined) =>
  d ? p(`${d.vendorName ?? d.vendor} ${d.productName ?? d.product} [${d.vendor}:${d.product}]`) : 'device not present';

const scope = (a: { config: boolean; live: boolean }) => [a.config ? 'config' : '', a.live ? 'live' : ''].filter(Boolean).join('+');

/** `0000:3b:02.3 (VF 3 of 0000:3b:00.0)` for a VF, the bare address otherwise. */
function deviceRef(address: string, devices: Map<string, PciDevice>): string {
  const vf = vfIdentity(address, [...devices.values()]);
  return vf === null ? address : `${address} (VF ${vf.index} of ${vf.pf})`;
}

const interfaceText = (i: VfInterface) => `${i.mac === null ? '' : ` mac=${p(i.mac)}`}${i.vlan === null ? '' : ` vlan=${i.vlan}`}${i.trust ? ' trust=yes' : ''}`;

function actionLine(a: Action, devices: Map<string, PciDevice>, style: Style): string {
  switch (a.kind) {
    case 'set-numvfs':
      return `${style.yellow('~')} ${a.address} ${deviceName(devices.get(a.address))}: ${a.from} → ${a.to} VFs`;
    case 'persist-numvfs':
      return `${style.yellow('~')} ${a.address}: ${a.to} VFs at boot (${SRIOV_RULES_FILE}; was ${a.from})`;
    case 'nodedev-detach':
      return `${style.yellow('~')} ${a.address} ${deviceName(devices.get(a.address))}: ${p(a.fromDriver ?? 'unbound')} → vfio-pci`;
    case 'nodedev-reattach':
      return `${style.yellow('~')} ${a.address} ${deviceName(devices.get(a.address))}: vfio-pci → host driver`;
    case 'attach-hostdev':
      return `${style.green('+')} ${a.interface ? 'interface hostdev' : 'hostdev'} ${deviceRef(a.address, devices)}${a.interface ? interfaceText(a.interface) : ''} managed=${a.managed ? 'yes' : 'no'} (${scope(a)})`;
    case 'detach-hostdev':
      return `${style.red('-')} ${a.source === 'interface' ? `interface hostdev ${p(a.mac ?? '')}` : 'hostdev'} ${deviceRef(a.address, devices)} (${scope(a)})`;
    case 'remove-interface':
      return `${style.red('-')} interface type=${p(a.type)}${a.source ? ` source=${p(a.source)}` : ''}${a.mac ? ` mac=${p(a.mac)}` : ''} (${scope(a)})`;
    case 'persist-binding':
      return `${style.green('+')} ${a.address} boot-time binding (driverctl): ${a.fromDriver === null ? 'none' : p(a.fromDriver)} → vfio-pci`;
    case 'unpersist-binding':
      return `${style.red('-')} ${a.address} boot-time binding (driverctl): ${p(a.fromDriver)} → none`;
  }
}

const stateOf = (domains: DomainSnapshot[], name: string) => p(domains.find((d) => d.name === name)?.state ?? 'unknown');

function renderHost(host: HostPlan, snapshot: HostSnapshot | undefined, style: Style): string[] {
  const out = [style.bold(`Host ${p(host.name)} (${p(host.uri)})`)];
  if (host.error) return [...out, renderHostError(host.name, host.error, style)];
  const devices = new Map((snapshot?.devices ?? []).map((d) => [d.address, d]));
  const numbered = host.actions.map((a, i) => ({ a, n: i + 1 }));
  const item = ({ a, n }: { a: Action; n: number }) => [
    `    ${style.dim(`${n}.`)} ${actionLine(a, devices, style)}`,
    `       ${style.dim(p(a.reason))}`,
  ];
  if (host.actions.length === 0) {
    const blocked = host.problems.some((x) => x.severity === 'block');
    out.push(blocked ? '  No changes planned: blocked by the problems below.' : '  No changes: the host matches passthrough.yaml.');
  }
  const counts = numbered.filter(({ a }) => a.kind === 'set-numvfs' || a.kind === 'persist-numvfs');
  if (counts.length > 0) out.push('', '  # SR-IOV VF counts', ...counts.flatMap(item));
  const bindings = numbered.filter(({ a }) => !('vm' in a) && a.kind !== 'set-numvfs' && a.kind !== 'persist-numvfs');
  if (bindings.length > 0) out.push('', '  # host driver bindings', ...bindings.flatMap(item));
  const vms = [...new Set(numbered.flatMap(({ a }) => ('vm' in a ? [a.vm] : [])))];
  for (const vm of vms) {
    out.push('', `  # VM "${p(vm)}" (${stateOf(snapshot?.domains ?? [], vm)})`);
    out.push(...numbered.filter(({ a }) => 'vm' in a && a.vm === vm).flatMap(item));
  }
  for (const problem of host.problems) out.push('', renderProblem(problem, host.name, style));
  return out;
}

function summary(plan: Plan, style: Style): string {
  const count = (k: Action['kind']) => plan.hosts.reduce((n, h) => n + h.actions.filter((a) => a.kind === k).length, 0);
  const blocks = plan.hosts.reduce((n, h) => n + h.problems.filter((x) => x.severity === 'block').length, 0);
  const unobserved = plan.hosts.filter((h) => h.error).map((h) => p(h.name));
  const line =
    `Plan: ${count('nodedev-detach')} to bind to vfio-pci, ${count('nodedev-reattach')} to return to the host, ` +
    `${count('attach-hostdev')} hostdev(s) to attach, ${count('detach-hostdev')} to detach, ` +
    `${count('remove-interface')} interface(s) to remove` +
    // Only plans that have them mention VF counts and boot-time bindings: most hosts have none, and scripts read this line.
    (count('set-numvfs') + count('persist-numvfs') > 0 ? `, ${count('set-numvfs')} VF count(s) to set, ${count('persist-numvfs')} to persist` : '') +
    (count('persist-binding') + count('unpersist-binding') > 0
      ? `, ${count('persist-binding')} boot-time binding(s) to persist, ${count('unpersist-binding')} to remove.`
      : '.');
  if (plan.applyable) return style.bold(plan.changes ? line : 'No changes. Every host matches passthrough.yaml.');
  const why = [
    ...(unobserved.length > 0 ? [`Not observed: ${unobserved.length} host(s) (${unobserved.join(', ')}) could not be observed; their plan is unknown.`] : []),
    ...(blocks > 0 ? [`Blocked: ${blocks} problem(s) must be fixed before this plan can be applied.`] : []),
  ];
  return [style.bold(line), ...why.map((w) => style.red(style.bold(w)))].join('\n');
}

/** Renders the whole plan; `snapshots` (by host name) supply device names and VM states. */
export function renderPlanText(plan: Plan, snapshots: ReadonlyMap<string, HostSnapshot>, style: Style): string {
  const hosts = plan.hosts.flatMap((h) => [...renderHost(h, snapshots.get(h.name), style), '']);
  return [...hosts, summary(plan, style)].join('\n') + '\n';
}
