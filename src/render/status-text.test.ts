import { describe, expect, it } from 'vitest';
import type { AgentStatus } from '../agent/status.js';
import { renderStatusText } from './status-text.js';
import { colorStyle, plainStyle } from './style.js';

const status: AgentStatus = {
  format_version: '1',
  agent: { pid: 4242, mode: 'apply', started: '2026-12-01T09:00:00.000Z' },
  source: { location: 'git+file:///srv/infra.git#main:hv1/passthrough.yaml', revision: '3f2a9c1b04de77aa0011223344556677889900aa' },
  hosts: [
    {
      name: 'hv1',
      state: 'blocked',
      since: '2026-12-01T10:00:00.000Z',
      lastReconcile: '2026-12-01T10:05:00.250Z',
      lastApply: null,
      revision: '3f2a9c1b04de77aa0011223344556677889900aa',
      changes: 2,
      problems: [{ severity: 'block', code: 'iommu-group-not-viable', message: '0000:01:00.1 shares IOMMU group 1', hint: 'assign the whole slot 0000:01:00' }],
      consecutiveFailures: 0,
      nextAttempt: '2026-12-01T10:06:00.250Z',
    },
    {
      name: 'hv2',
      state: 'failed',
      since: '2026-12-01T10:01:00.000Z',
      lastReconcile: '2026-12-01T10:05:00.250Z',
      lastApply: '2026-12-01T10:05:03.000Z',
      revision: '3f2a9c1b04de77aa0011223344556677889900aa',
      changes: 1,
      problems: [{ severity: 'block', code: 'lock-timeout', message: 'another apply holds the lock of host "hv2"' }],
      consecutiveFailures: 3,
      nextAttempt: '2026-12-01T10:05:43.000Z',
    },
  ],
};

describe('renderStatusText', () => {
  it('shows the agent, the source and each host with its problems', () => {
    expect(renderStatusText(status, plainStyle)).toMatchInlineSnapshot(`
      "passthru agent, apply mode, PID 4242, started 2026-12-01 09:00:00Z
      Source: git+file:///srv/infra.git#main:hv1/passthrough.yaml at revision 3f2a9c1b04de

      hv1: blocked since 2026-12-01 10:00:00Z at revision 3f2a9c1b04de
        last reconcile 2026-12-01 10:05:00Z, last apply -, 2 change(s), next attempt 2026-12-01 10:06:00Z
        Error: 0000:01:00.1 shares IOMMU group 1
          on host hv1 [iommu-group-not-viable]
          fix: assign the whole slot 0000:01:00

      hv2: failed since 2026-12-01 10:01:00Z at revision 3f2a9c1b04de
        last reconcile 2026-12-01 10:05:00Z, last apply 2026-12-01 10:05:03Z, 1 change(s), 3 failure(s) in a row, next attempt 2026-12-01 10:05:43Z
        Error: another apply holds the lock of host "hv2"
          on host hv2 [lock-timeout]
      "
    `);
  });

  it('colours the state only when asked to', () => {
    expect(renderStatusText(status, colorStyle)).toContain('\u001b[31mblocked\u001b[39m');
    expect(renderStatusText({ ...status, hosts: [] }, plainStyle)).toContain('No host has been reconciled yet.');
  });
});
