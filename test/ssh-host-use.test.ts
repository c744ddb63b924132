/**
 * SPEC 12, remote host use: through a real sshd (Debian's openssh-server, loopback, a fake tree as the remote root),
 * ONE ssh per host reads what local observation reads for the same tree, and the planner protects the remote
 * host's management NIC as it protects a local one. Where ssh fails, host use stays unknown with ssh's error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSsh } from '../src/io/ssh.js';
import type { HostSnapshot, PciDevice } from '../src/model/snapshot.js';
import { observeHostUse } from '../src/observe/host-use.js';
import { applyRemoteDump, readRemoteDump } from '../src/observe/remote-host-use.js';
import { readPciDevices } from '../src/observe/sysfs.js';
import { planHost } from '../src/plan/plan-host.js';
import { loadDesiredState } from '../src/desired/load.js';
import { desiredForHost } from '../src/desired/slice.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { startPrivateSshd, sshdUnavailable, type PrivateSshd } from './helpers/sshd.js';

const unavailable = sshdUnavailable();
if (unavailable) console.warn(`ssh-host-use: skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('host use over ssh (private sshd, fake remote root)', () => {
  let root: string;
  let sshd: PrivateSshd;
  let devices: PciDevice[];
  /** The devices as libvirt's node devices give them: no host use. */
  const asNodedev = () => devices.map((d) => ({ ...d, hostUse: [] }));

  beforeAll(async () => {
    root = await seedHost().bond('bond0', ['eth1', 'eth2']).bridge('br0', ['bond0']).address('br0', '192.168.1.10/24').swap('/dev/nvme0n1p1').build();
    sshd = await startPrivateSshd(root);
    devices = await readPciDevices(root);
  });
  afterAll(async () => Promise.all([sshd?.stop(), root && removeFakeHost(root)]));

  it('reads through ONE ssh per host what local observation reads for the same tree', async () => {
    await sshd.reset();
    const ssh = createSsh({ binary: sshd.ssh });
    const [a, b] = await Promise.all([readRemoteDump(sshd.uri('127.0.0.1'), ssh), readRemoteDump(sshd.uri('localhost'), ssh)]);
    expect(await sshd.count()).toBe(2);
    const localWarnings: string[] = [];
    const local = observeHostUse(root, devices, { warn: (m) => localWarnings.push(m) });
    for (const dump of [a, b]) {
      if (!dump || 'unknown' in dump) throw new Error(`ssh failed: ${dump && 'unknown' in dump ? dump.unknown : ''}`);
      const warnings: string[] = [];
      const remote = observeHostUse(dump.files, devices, { warn: (m) => warnings.push(m) });
      expect(remote).toEqual(local);
      expect(warnings).toEqual(localWarnings);
    }
    // Not equal by being empty: the NICs under br0, the NVMe under / and swap, the boot GPU.
    expect([...local.uses.keys()].sort()).toEqual(['0000:00:1f.6', '0000:01:00.0', '0000:07:00.0', '0000:07:00.1']);
    const remote = asNodedev();
    expect(applyRemoteDump(a as Exclude<typeof a, { unknown: string }>, remote, () => {})).toEqual({ hostUseKnown: true });
    expect(remote.map((d) => [d.address, d.hostUse])).toEqual(devices.map((d) => [d.address, [...(local.uses.get(d.address) ?? []), ...d.hostUse]]));
  });

  it('the remote host is protected like a local one: its bridged NIC is host-critical (not just host-use-unknown)', async () => {
    const ssh = createSsh({ binary: sshd.ssh });
    const desired = loadDesiredState(`version: 1
hosts:
  hv2: { uri: "${sshd.uri()}" }
vms:
  rhel7.3: { host: hv2, devices: [{ address: "07:00.0" }] }
`, 'fleet.yaml');
    const planOf = async (uri: string) => {
      const remote = asNodedev();
      const warnings: string[] = [];
      const facts = applyRemoteDump(await readRemoteDump(uri, ssh), remote, (m) => warnings.push(m));
      const snapshot: HostSnapshot = {
        format_version: '1',
        host: 'hv2',
        uri,
        deviceSource: 'nodedev',
        observedAt: '2026-12-02T00:00:00.000Z',
        iommu: { groupsPresent: true, dmarTable: null, ivrsTable: null, cmdline: null },
        selinux: { enabled: false, virtUseSysfs: null },
        ...facts,
        devices: remote,
        domains: [],
      };
      return { plan: planHost(desiredForHost(desired, 'hv2'), snapshot), warnings };
    };
    const reached = await planOf(sshd.uri());
    const problem = reached.plan.problems.find((p) => p.address === '0000:07:00.0' && p.severity === 'block');
    expect(problem?.message).toContain('is in use by the host: br0 has address 192.168.1.10 (eth1 is a port of br0)');
    expect(reached.plan.problems.map((p) => p.code)).not.toContain('host-use-unknown');

    // The same host behind a closed port: unknown, with ssh's own words, and still blocked.
    const closed = sshd.uri().replace(`:${sshd.port}/`, ':1/');
    const unreached = await planOf(closed);
    expect(unreached.warnings.join('\n')).toMatch(/host use could not be read over ssh: ssh to root@127\.0\.0\.1 port 1 failed \(exited with 255\): .*Connection refused; host use is unknown/);
    expect(unreached.plan.problems.map((p) => p.code)).toContain('host-use-unknown');
  });
});
