import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import type { Virsh } from '../io/virsh.js';
import type { VirshBatchResult } from '../libvirt/virsh-batch.js';
import { hostTarget, virshError } from './target.js';

// The seed runbook's NIC as `virsh nodedev-dumpxml pci_0000_07_00_0` prints it.
const NODEDEV = readFileSync(new URL('../../test/fixtures/virsh/hand-written-nodedev-seed-runbook-pci_0000_07_00_0.xml', import.meta.url), 'utf8');
const DOMAIN = `<domain type='kvm'><name>vm1</name><uuid>00000000-0000-4000-8000-000000000001</uuid><devices>
  <hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='0x00' function='0x0'/></source></hostdev>
</devices></domain>`;

/** A virsh that answers from a table keyed by the command's first word. */
function scripted(run: Record<string, { exitCode: number; stdout?: string; stderr?: string }>, batch: VirshBatchResult[] = []): Virsh & { seen: string[][] } {
  const seen: string[][] = [];
  return {
    seen,
    batch: async (_uri, commands) => {
      seen.push(...commands);
      return batch;
    },
    run: async (_uri, args) => {
      seen.push(args);
      const r = run[args[0] as string] ?? { exitCode: 1, stderr: 'error: unexpected' };
      return { exitCode: r.exitCode, stdout: r.stdout ?? '', stderr: r.stderr ?? '', signal: null, timedOut: false, command: args, durationMs: 1 };
    },
  };
}

describe('hostTarget', () => {
  it('reads a remote device driver from nodedev-dumpxml', async () => {
    const virsh = scripted({ 'nodedev-dumpxml': { exitCode: 0, stdout: NODEDEV } });
    const t = hostTarget({ uri: 'qemu+ssh://hv2/system', virsh, root: null });
    expect(await t.deviceDriver('0000:07:00.0')).toBe('igb');
    expect(virsh.seen).toEqual([['nodedev-dumpxml', '--device', 'pci_0000_07_00_0']]);
    const unbound = scripted({ 'nodedev-dumpxml': { exitCode: 0, stdout: NODEDEV.replace(/<driver>[\s\S]*<\/driver>/, '') } });
    expect(await hostTarget({ uri: 'x', virsh: unbound, root: null }).deviceDriver('0000:07:00.0')).toBeNull();
  });

  it('parses the persistent XML, and says null for a domain that is gone', async () => {
    const t = hostTarget({ uri: 'x', virsh: scripted({ dumpxml: { exitCode: 0, stdout: DOMAIN } }), root: null });
    expect((await t.domain('u', 'persistent'))?.hostdevs.map((h) => h.address)).toEqual(['0000:07:00.0']);
    const gone = scripted({ dumpxml: { exitCode: 1, stderr: "error: failed to get domain 'u'\n" } });
    expect(await hostTarget({ uri: 'x', virsh: gone, root: null }).domain('u', 'persistent')).toBeNull();
    const broken = scripted({ dumpxml: { exitCode: 1, stderr: 'error: failed to connect to the hypervisor\nerror: no socket\n' } });
    await expect(hostTarget({ uri: 'x', virsh: broken, root: null }).domain('u', 'persistent')).rejects.toThrow(
      new HostError('virsh dumpxml --inactive --domain u failed: no socket'),
    );
  });

  it('has no live XML for a domain that is not running', async () => {
    const ok = (output: string): VirshBatchResult => ({ ok: true, output, error: null });
    const running = hostTarget({ uri: 'x', virsh: scripted({}, [ok('running\n'), ok(DOMAIN)]), root: null });
    expect((await running.domain('u', 'live'))?.name).toBe('vm1');
    const off = hostTarget({ uri: 'x', virsh: scripted({}, [ok('shut off\n'), ok(DOMAIN)]), root: null });
    expect(await off.domain('u', 'live')).toBeNull();
    // The same states count as running as when the host was observed for the plan.
    const suspended = hostTarget({ uri: 'x', virsh: scripted({}, [ok('pmsuspended\n'), ok(DOMAIN)]), root: null });
    expect((await suspended.domain('u', 'live'))?.name).toBe('vm1');
    const gone = hostTarget({ uri: 'x', virsh: scripted({}, [{ ok: false, output: '', error: "failed to get domain 'u'" }, { ok: false, output: '', error: "failed to get domain 'u'" }]), root: null });
    expect(await gone.domain('u', 'live')).toBeNull();
  });

  it('fails, rather than reading "not running", when the live XML cannot be read', async () => {
    const ok = (output: string): VirshBatchResult => ({ ok: true, output, error: null });
    const broken = hostTarget({ uri: 'x', virsh: scripted({}, [ok('running\n'), { ok: false, output: '', error: 'internal error: cannot read' }]), root: null });
    await expect(broken.domain('u', 'live')).rejects.toThrow(new HostError('virsh dumpxml --domain u failed: internal error: cannot read'));
  });
});

describe('virshError', () => {
  it('keeps the telling last error line', () => {
    expect(virshError('error: Failed to attach device from /tmp/x.xml\nerror: Requested operation is not valid: device is already in the domain configuration\n')).toBe(
      'Requested operation is not valid: device is already in the domain configuration',
    );
    expect(virshError('segfault\n')).toBe('segfault');
    expect(virshError('')).toBeNull();
  });
});
