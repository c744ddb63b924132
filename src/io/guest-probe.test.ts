import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { probeGuest, type GuestProbeOptions } from './guest-probe.js';
import type { Virsh, VirshRunResult } from './virsh.js';

const recording = (name: string) => readFileSync(new URL(`../../test/fixtures/guest-replies/${name}`, import.meta.url), 'utf8');
const NOT_CONNECTED = 'error: Guest agent is not responding: QEMU guest agent is not connected\n';

/** A virsh whose agent and monitor answer from tables (by `execute`); a missing table is a missing agent. */
function scripted(agent: Record<string, string | string[]> | null, monitor: Record<string, string> = {}) {
  const calls: string[][] = [];
  const served = new Map<string, number>();
  const virsh: Virsh = {
    batch: () => Promise.reject(new Error('not used')),
    async run(_uri, args) {
      calls.push(args);
      const result = (exitCode: number, stdout: string, stderr = ''): VirshRunResult => ({ exitCode, signal: null, stdout, stderr, timedOut: false, command: args, durationMs: 1 });
      const execute = (JSON.parse(args.at(-1) as string) as { execute: string }).execute;
      const table = args[0] === 'qemu-agent-command' ? agent : monitor;
      if (table === null) return result(1, '', NOT_CONNECTED);
      const reply = table[execute];
      if (reply === undefined) return result(1, '', `error: internal error: unable to execute QEMU agent command '${execute}'\n`);
      // A list is served in turn, its last entry again and again; an entry that starts with `error: ` is virsh failing.
      const k = served.get(execute) ?? 0;
      served.set(execute, k + 1);
      const text = Array.isArray(reply) ? (reply[Math.min(k, reply.length - 1)] as string) : reply;
      return text.startsWith('error: ') ? result(1, '', text) : result(0, text);
    },
  };
  return { virsh, calls };
}

const options = (over: Partial<GuestProbeOptions> = {}): GuestProbeOptions => ({
  qmp: false,
  agentTimeoutSeconds: 5,
  execPolls: 3,
  execPollMs: 100,
  agentRetries: 2,
  agentRetryMs: 700,
  timeoutMs: 1000,
  sleep: async () => {},
  ...over,
});
// libvirt's answer after the agent missed a guest-sync (recorded in the lab's CI trial, 2026-12-02)
const UNAVAILABLE = 'error: Guest agent is not responding: Guest agent not available for now\n';
// real replies of qemu-ga 7.2 in the lab's busybox L2 (no os-release there: guest-get-osinfo has no id)
const linux = (status: string | string[]) => ({
  'guest-get-osinfo': recording('agent-osinfo-lab-l2.json'),
  'guest-exec': recording('agent-exec-lab-l2.json'),
  'guest-exec-status': status,
});

describe('probeGuest', () => {
  it('runs the sysfs listing in a Linux guest and polls guest-exec-status until it exited', async () => {
    const { virsh, calls } = scripted(linux([recording('agent-exec-status-running-lab-l2.json'), recording('agent-exec-status-exited-lab-l2.json')]));
    const view = await probeGuest(virsh, 'qemu:///system', 'u-1', options());
    expect(view.via).toBe('agent');
    expect(view.via === 'agent' && view.devices.find((d) => d.address === '0000:03:00.0')).toMatchObject({ vendor: '8086', product: '10d3' });
    expect(calls[0]).toEqual(['qemu-agent-command', '--domain', 'u-1', '--timeout', '5', '{"execute":"guest-get-osinfo"}']);
    expect(JSON.parse(calls[1]?.at(-1) as string)).toMatchObject({ execute: 'guest-exec', arguments: { path: '/bin/sh', 'capture-output': true } });
    expect(calls.filter((c) => c.at(-1)?.includes('guest-exec-status'))).toHaveLength(2);
  });

  it('asks a Windows guest with guest-get-devices', async () => {
    const { virsh, calls } = scripted({ 'guest-get-osinfo': recording('agent-osinfo-windows.json'), 'guest-get-devices': recording('agent-get-devices-windows.json') });
    const view = await probeGuest(virsh, 'qemu:///system', 'u-1', options());
    expect(view).toMatchObject({ via: 'agent', devices: [{ vendor: '1af4' }, { vendor: '8086', product: '10c9' }] });
    expect(calls.some((c) => c.at(-1)?.includes('guest-exec'))).toBe(false);
  });

  it('gives up on a listing that never finishes, bounded, and says so', async () => {
    const waits: number[] = [];
    const { virsh } = scripted(linux(recording('agent-exec-status-running-lab-l2.json')));
    const view = await probeGuest(virsh, 'qemu:///system', 'u-1', options({ sleep: async (ms) => void waits.push(ms) }));
    expect(view).toEqual({ via: null, reason: expect.stringContaining('the PCI listing did not finish in the guest within 0.3 s') });
    expect(waits).toEqual([100, 100, 100]);
  });

  it('asks again, bounded, while libvirt holds the agent "not available for now", and then reads the guest', async () => {
    const waits: number[] = [];
    const statuses = [recording('agent-exec-status-exited-lab-l2.json')];
    const { virsh, calls } = scripted({ ...linux(statuses), 'guest-get-osinfo': [UNAVAILABLE, UNAVAILABLE, recording('agent-osinfo-lab-l2.json')] });
    const view = await probeGuest(virsh, 'qemu:///system', 'u-1', options({ sleep: async (ms) => void waits.push(ms) }));
    expect(view.via).toBe('agent');
    expect(waits).toEqual([700, 700]);
    expect(calls.filter((c) => c.at(-1)?.includes('guest-get-osinfo'))).toHaveLength(3);
  });

  it('an agent still unavailable after the retries is unknown with libvirt\'s words; one not connected is not asked again', async () => {
    const waits: number[] = [];
    const { virsh, calls } = scripted({ ...linux(''), 'guest-get-osinfo': UNAVAILABLE });
    expect(await probeGuest(virsh, 'qemu:///system', 'u-1', options({ sleep: async (ms) => void waits.push(ms) }))).toMatchObject({
      via: null,
      reason: expect.stringContaining('no answer from the guest agent (Guest agent is not responding: Guest agent not available for now)'),
    });
    expect(calls).toHaveLength(3);
    expect(waits).toEqual([700, 700]);
    const none = scripted(null);
    await probeGuest(none.virsh, 'qemu:///system', 'u-1', options());
    expect(none.calls).toHaveLength(1);
  });

  it('without an agent: unknown without --qmp (and QEMU is not asked), query-pci with it (and the taint is announced)', async () => {
    const monitor = { 'query-pci': recording('qmp-query-pci-q35.json') };
    const without = scripted(null, monitor);
    expect(await probeGuest(without.virsh, 'qemu:///system', 'u-1', options())).toEqual({
      via: null,
      reason: 'no answer from the guest agent (Guest agent is not responding: QEMU guest agent is not connected); --qmp asks QEMU instead (libvirt then marks the domain tainted)',
    });
    expect(without.calls.some((c) => c[0] === 'qemu-monitor-command')).toBe(false);
    const withQmp = scripted(null, monitor);
    const tainted: string[] = [];
    const view = await probeGuest(withQmp.virsh, 'qemu:///system', 'u-1', options({ qmp: true }), (u) => tainted.push(u));
    expect(view.via === 'qmp' && view.devices.find((d) => d.qdevId === 'hostdev0')).toMatchObject({ vendor: '8086', product: '10c9', address: '0000:01:00.0' });
    expect(withQmp.calls.at(-1)).toEqual(['qemu-monitor-command', '--domain', 'u-1', '--pretty', '{"execute":"query-pci"}']);
    expect(tainted).toEqual(['u-1']);
  });

  it('an agent that cannot run the listing (guest-exec disabled) is unknown with its message', async () => {
    const { virsh } = scripted({ ...linux(''), 'guest-exec': '{"error":{"class":"GenericError","desc":"Command guest-exec has been disabled"}}' });
    expect(await probeGuest(virsh, 'qemu:///system', 'u-1', options())).toMatchObject({ via: null, reason: expect.stringContaining('guest-exec failed in the guest: Command guest-exec has been disabled') });
  });
});
