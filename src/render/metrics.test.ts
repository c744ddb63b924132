import { describe, expect, it } from 'vitest';
import type { HostCounters } from '../agent/decide.js';
import type { AgentStatus, HostStatus } from '../agent/status.js';
import { escapeLabelValue, renderMetrics } from './metrics.js';

const host = (name: string, over: Partial<HostStatus> = {}): HostStatus => ({
  name,
  state: 'in-sync',
  since: '2026-12-01T10:00:00.000Z',
  lastReconcile: '2026-12-01T10:05:00.250Z',
  lastApply: null,
  revision: 'c0ffee',
  changes: 0,
  problems: [],
  consecutiveFailures: 0,
  nextAttempt: '2026-12-01T10:06:00.250Z',
  ...over,
});

const status = (hosts: HostStatus[], revision: string | null = 'c0ffee'): AgentStatus => ({
  format_version: '1',
  agent: { pid: 1, mode: 'apply', started: '2026-12-01T09:00:00.000Z' },
  source: { location: 'passthrough.yaml', revision },
  hosts,
});

const counters = (h: string, lastSuccess: string | null, applied = 0, failed = 0): HostCounters => ({
  host: h,
  lastSuccess,
  applies: { applied, failed, 'rollback-failed': 0 },
});

describe('renderMetrics', () => {
  it('writes every SPEC 9 metric with HELP and TYPE, grouped by name', () => {
    const text = renderMetrics(status([host('hv1'), host('hv2', { state: 'blocked', changes: 2, lastReconcile: null })]), [
      counters('hv1', '2026-12-01T10:05:00.250Z', 3, 1),
      counters('hv2', null),
    ]);
    expect(text).toMatchInlineSnapshot(`
      "# HELP passthru_host_in_sync 1 when the last reconcile found the host as desired (in-sync) or made it so (applied), else 0.
      # TYPE passthru_host_in_sync gauge
      passthru_host_in_sync{host="hv1"} 1
      passthru_host_in_sync{host="hv2"} 0
      # HELP passthru_host_state The state of the host after its last reconcile: 1 for the current state, 0 for the others.
      # TYPE passthru_host_state gauge
      passthru_host_state{host="hv1",state="in-sync"} 1
      passthru_host_state{host="hv1",state="applied"} 0
      passthru_host_state{host="hv1",state="drifted"} 0
      passthru_host_state{host="hv1",state="blocked"} 0
      passthru_host_state{host="hv1",state="invalid"} 0
      passthru_host_state{host="hv1",state="failed"} 0
      passthru_host_state{host="hv1",state="unreachable"} 0
      passthru_host_state{host="hv2",state="in-sync"} 0
      passthru_host_state{host="hv2",state="applied"} 0
      passthru_host_state{host="hv2",state="drifted"} 0
      passthru_host_state{host="hv2",state="blocked"} 1
      passthru_host_state{host="hv2",state="invalid"} 0
      passthru_host_state{host="hv2",state="failed"} 0
      passthru_host_state{host="hv2",state="unreachable"} 0
      # HELP passthru_plan_changes Actions of the host's last plan: pending when drifted or blocked, carried out when applied.
      # TYPE passthru_plan_changes gauge
      passthru_plan_changes{host="hv1"} 0
      passthru_plan_changes{host="hv2"} 2
      # HELP passthru_plan_blocked 1 when the host's last plan has a blocking problem and was not applied, else 0.
      # TYPE passthru_plan_blocked gauge
      passthru_plan_blocked{host="hv1"} 0
      passthru_plan_blocked{host="hv2"} 1
      # HELP passthru_last_reconcile_timestamp_seconds When the host was last reconciled, in seconds since the epoch.
      # TYPE passthru_last_reconcile_timestamp_seconds gauge
      passthru_last_reconcile_timestamp_seconds{host="hv1"} 1796119500.25
      # HELP passthru_last_success_timestamp_seconds When a reconcile last found the host in sync or applied to it successfully, in seconds since the epoch.
      # TYPE passthru_last_success_timestamp_seconds gauge
      passthru_last_success_timestamp_seconds{host="hv1"} 1796119500.25
      # HELP passthru_applies_total Applies by this agent since it started, by result: applied, failed (rolled back), rollback-failed (not restored).
      # TYPE passthru_applies_total counter
      passthru_applies_total{host="hv1",result="applied"} 3
      passthru_applies_total{host="hv1",result="failed"} 1
      passthru_applies_total{host="hv1",result="rollback-failed"} 0
      passthru_applies_total{host="hv2",result="applied"} 0
      passthru_applies_total{host="hv2",result="failed"} 0
      passthru_applies_total{host="hv2",result="rollback-failed"} 0
      # HELP passthru_desired_revision_info The revision of the desired state last read from the source (a commit id, or sha256:<hex> of a file).
      # TYPE passthru_desired_revision_info gauge
      passthru_desired_revision_info{revision="c0ffee"} 1
      "
    `);
  });

  it('escapes label values: backslash, double quote, newline', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
    const text = renderMetrics(status([host('rack "A"\\1')]), []);
    expect(text).toContain('passthru_host_in_sync{host="rack \\"A\\"\\\\1"} 1');
  });

  it('leaves out the revision sample while no revision was read, and still ends with a newline', () => {
    const text = renderMetrics(status([], null), []);
    expect(text).toContain('# TYPE passthru_desired_revision_info gauge\n');
    expect(text).not.toContain('passthru_desired_revision_info{');
    expect(text.endsWith('\n')).toBe(true);
  });
});
