/**
 * `plan --format sh`: the virsh commands that apply would run, as a script a cautious operator can read and run
 * by hand, and after each host, commented out, the commands that undo its steps (last first). Argv and XML come
 * from the action table (plan/action-steps.ts), so what is shown is what apply runs and what its rollback would.
 * Unlike apply, the script verifies only the driver binding (the seed's step 13) and never rolls back by itself.
 *
 * Every value from the plan — URIs, UUIDs, names, addresses, paths, reasons, XML — is untrusted text: arguments
 * are single-quoted, XML goes through a heredoc with a quoted delimiter no line of it equals, and comments have
 * their control characters (newlines included) escaped, so nothing can leave its argument or its comment line.
 */
import { isLocalUri } from '../desired/uri.js';
import type { Action, HostPlan, Plan } from '../model/plan.js';
import { sriovRuleLine, SRIOV_RULES_FILE } from '../model/sriov-udev-rules.js';
import { XML_FILE, forwardOp, undoOp, type LocalChange, type Op } from '../plan/action-steps.js';
import { printable } from './printable.js';

/** POSIX shell quoting: safe for any string, including names with quotes, `;`, `$(…)`, backticks or newlines. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=@%+,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One comment line: control and bidi characters (a newline would end the comment) written as visible escapes. */
function comment(text: string): string {
  return `# ${printable(text)}`;
}

/** A heredoc delimiter that no line of `text` equals. */
function delimiter(text: string): string {
  const lines = new Set(text.split('\n'));
  let d = 'PASSTHRU_XML';
  while (lines.has(d)) d += '_';
  return d;
}

/**
 * The shell lines of a step on the local host's files: a VF count written to `sriov_numvfs` (0 first when it
 * changes between two non-zero counts, as the kernel requires) and waited for, or the PF's line of the udev rule
 * file replaced.
 */
function localLines(change: LocalChange): string[] {
  const dir = `/sys/bus/pci/devices/${change.pf}`;
  if (change.what === 'persist-numvfs') {
    const file = shellQuote(SRIOV_RULES_FILE);
    return [
      `[ ! -e ${file} ] || sed -i ${shellQuote(`/KERNEL=="${change.pf}"/d`)} ${file}`,
      ...(change.to > 0 ? [`mkdir -p ${shellQuote(SRIOV_RULES_FILE.slice(0, SRIOV_RULES_FILE.lastIndexOf('/')))}`, `echo ${shellQuote(sriovRuleLine(change.pf, change.to))} >> ${file}`] : []),
    ];
  }
  const file = shellQuote(`${dir}/sriov_numvfs`);
  const links = `$(ls -d ${shellQuote(dir)}/virtfn* 2>/dev/null | wc -l)`;
  const failed = shellQuote(`${change.pf}: ${change.to} VFs did not appear within 30 s`);
  return [
    ...(change.to > 0 ? [`[ "$(cat ${file})" = 0 ] || echo 0 > ${file}`] : []),
    `echo ${change.to} > ${file}`,
    `i=0; until [ "${links}" -eq ${change.to} ]; do i=$((i + 1)); [ "$i" -le 300 ] || { echo ${failed} >&2; exit 1; }; sleep 0.1; done`,
  ];
}

/**
 * The lines that run `op` on the host at `uri`: its XML into "$xml" first, when it has one. A driverctl step or a
 * change of the local host's files runs on the machine itself (only local hosts have them), so it takes no URI.
 */
function commandLines(op: Op, uri: string): string[] {
  if (op.local) return localLines(op.local);
  const program = op.tool === 'driverctl' ? ['driverctl'] : ['virsh', '-c', shellQuote(uri)];
  const argv = [...program, ...op.args.map((a) => (a === XML_FILE ? '"$xml"' : shellQuote(a)))].join(' ');
  if (op.xml === undefined) return [argv];
  const end = delimiter(op.xml);
  return [`cat > "$xml" <<'${end}'`, op.xml, end, argv];
}

/** The seed's step 13 after a local `nodedev-detach`: stop unless the device landed on vfio-pci. */
function bindingCheck(action: Action, uri: string): string[] {
  if (action.kind !== 'nodedev-detach' || !isLocalUri(uri)) return [];
  const link = shellQuote(`/sys/bus/pci/devices/${action.address}/driver`);
  const message = shellQuote(`${action.address} is not on vfio-pci`);
  return [comment(`the seed's step 13: the device must now be on vfio-pci`), `[ "$(basename "$(readlink ${link})")" = vfio-pci ] || { echo ${message} >&2; exit 1; }`];
}

function hostLines(host: HostPlan): string[] {
  const out = ['', comment(`--- host ${host.name} (${host.uri})`)];
  if (host.actions.length === 0) return [...out, comment('no changes')];
  host.actions.forEach((action, i) => {
    const op = forwardOp(action);
    out.push('', comment(`${i + 1}. ${op.label}: ${action.reason}`), ...commandLines(op, host.uri), ...bindingCheck(action, host.uri));
  });
  out.push('', comment(`--- to undo host ${host.name}: run, without the leading "# ", the undo of each step that ran, last first`));
  for (let i = host.actions.length - 1; i >= 0; i--) {
    const op = undoOp(host.actions[i] as Action);
    // Each line of the undo (XML lines included) becomes its own comment line.
    const lines = commandLines(op, host.uri).flatMap((l) => l.split('\n'));
    out.push(comment(`undo ${i + 1}. ${op.label}`), ...lines.map((l) => `# ${l}`));
  }
  return out;
}

/** Renders the whole plan as a POSIX sh script. */
export function renderPlanSh(plan: Plan): string {
  const out = [
    '#!/bin/sh',
    '# Generated by `passthru plan --format sh`: the virsh commands `passthru apply` would run, in order.',
    '# Run as root. Unlike apply, this script does not verify domain changes or roll back on failure; the commands',
    '# that undo each host\'s steps are listed, commented out, after them.',
    'set -eu',
    'export LC_ALL=C',
  ];
  if (!plan.applyable) out.push('echo "passthru: this plan is BLOCKED (see passthru plan); refusing to run" >&2', 'exit 1');
  if (plan.hosts.some((h) => h.actions.some((a) => forwardOp(a).xml !== undefined))) {
    out.push('xml=$(mktemp)', `trap 'rm -f "$xml"' EXIT`);
  }
  for (const host of plan.hosts) out.push(...hostLines(host));
  return `${out.join('\n')}\n`;
}
