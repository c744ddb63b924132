/**
 * The bundled example host (examples/seed/) is a real observation, not a hand-written JSON: the seed runbook's
 * hypervisor as a kernel-exact fake sysfs tree plus libvirt's test driver, observed through real virsh. This test
 * re-observes it and compares with the committed snapshot (`UPDATE_EXAMPLES=1 npx vitest run test/examples.test.ts`
 * rewrites it), so the README's first command always shows what passthru really sees.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createVirsh } from '../src/io/execa-virsh.js';
import { observeHost } from '../src/observe/observe-host.js';
import type { HostSnapshot } from '../src/model/snapshot.js';
import { removeFakeHost, seedHost } from './helpers/fake-host.js';
import { findRealVirsh } from './helpers/virsh-shim.js';

const dir = path.resolve('examples/seed');
const snapshotFile = path.join(dir, 'snapshot.json');
const virsh = findRealVirsh();

describe.skipIf(!virsh)('examples/seed snapshot', () => {
  let root: string;
  beforeAll(async () => {
    root = await seedHost().build();
  });
  afterAll(async () => removeFakeHost(root));

  it('is what passthru observes on the seed host', async () => {
    const observed = await observeHost(
      { name: 'local', uri: `test://${path.join(dir, 'libvirt-node.xml')}`, local: true },
      { virsh: createVirsh({ binary: virsh! }), root, clock: { now: () => new Date('2026-11-24T12:00:00.000Z') } },
    );
    // Published as the default host, so that the README's plan needs no absolute test:/// path.
    const snapshot: HostSnapshot = { ...observed, uri: 'qemu:///system' };
    if (process.env.UPDATE_EXAMPLES) await writeFile(snapshotFile, `${JSON.stringify(snapshot, null, 2)}\n`);
    expect(JSON.parse(await readFile(snapshotFile, 'utf8'))).toEqual(snapshot);
    expect(snapshot.domains.map((d) => d.name)).toEqual(['build-runner', 'rhel7.3']);
    expect(snapshot.devices.find((d) => d.address === '0000:00:1f.6')?.hostUse.map((u) => u.kind)).toContain('default-route');
  });
});
