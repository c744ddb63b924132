/**
 * `passthru.prom` (SPEC 9): the agent's status as Prometheus metrics in the text exposition format, for
 * node_exporter's textfile collector (`--collector.textfile.directory`). Every metric has `# HELP` and `# TYPE`
 * and its samples grouped under them, as the collector requires; label values are escaped per the format.
 */
import { APPLY_RESULTS, type HostCounters } from '../agent/decide.js';
import { HOST_STATES, type AgentStatus } from '../agent/status.js';

/** One metric family: its samples as label sets and values. */
interface Family {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: { labels: Record<string, string>; value: number }[];
}

/** `\`, `"` and newline escaped, as the exposition format wants inside a label value. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

const seconds = (iso: string) => Date.parse(iso) / 1000;

function renderFamily(f: Family): string {
  const lines = [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`];
  for (const s of f.samples) {
    const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabelValue(v)}"`);
    lines.push(`${f.name}${labels.length > 0 ? `{${labels.join(',')}}` : ''} ${s.value}`);
  }
  return lines.join('\n');
}

/** The metrics file for a status and the counters that status.json does not carry. */
export function renderMetrics(status: AgentStatus, counters: readonly HostCounters[]): string {
  const hosts = status.hosts;
  const families: Family[] = [
    {
      name: 'passthru_host_in_sync',
      help: '1 when the last reconcile found the host as desired (in-sync) or made it so (applied), else 0.',
      type: 'gauge',
      samples: hosts.map((h) => ({ labels: { host: h.name }, value: h.state === 'in-sync' || h.state === 'applied' ? 1 : 0 })),
    },
    {
      name: 'passthru_host_state',
      help: 'The state of the host after its last reconcile: 1 for the current state, 0 for the others.',
      type: 'gauge',
      samples: hosts.flatMap((h) => HOST_STATES.map((state) => ({ labels: { host: h.name, state }, value: h.state === state ? 1 : 0 }))),
    },
    {
      name: 'passthru_plan_changes',
      help: 'Actions of the host\'s last plan: pending when drifted or blocked, carried out when applied.',
      type: 'gauge',
      samples: hosts.map((h) => ({ labels: { host: h.name }, value: h.changes })),
    },
    {
      name: 'passthru_plan_blocked',
      help: '1 when the host\'s last plan has a blocking problem and was not applied, else 0.',
      type: 'gauge',
      samples: hosts.map((h) => ({ labels: { host: h.name }, value: h.state === 'blocked' ? 1 : 0 })),
    },
    {
      name: 'passthru_last_reconcile_timestamp_seconds',
      help: 'When the host was last reconciled, in seconds since the epoch.',
      type: 'gauge',
      samples: hosts.flatMap((h) => (h.lastReconcile === null ? [] : [{ labels: { host: h.name }, value: seconds(h.lastReconcile) }])),
    },
    {
      name: 'passthru_last_success_timestamp_seconds',
      help: 'When a reconcile last found the host in sync or applied to it successfully, in seconds since the epoch.',
      type: 'gauge',
      samples: counters.flatMap((c) => (c.lastSuccess === null ? [] : [{ labels: { host: c.host }, value: seconds(c.lastSuccess) }])),
    },
    {
      name: 'passthru_applies_total',
      help: 'Applies by this agent since it started, by result: applied, failed (rolled back), rollback-failed (not restored).',
      type: 'counter',
      samples: counters.flatMap((c) => APPLY_RESULTS.map((result) => ({ labels: { host: c.host, result }, value: c.applies[result] }))),
    },
    {
      name: 'passthru_desired_revision_info',
      help: 'The revision of the desired state last read from the source (a commit id, or sha256:<hex> of a file).',
      type: 'gauge',
      samples: status.source.revision === null ? [] : [{ labels: { revision: status.source.revision }, value: 1 }],
    },
  ];
  return `${families.map(renderFamily).join('\n')}\n`;
}
