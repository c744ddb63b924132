/**
 * Real virsh against libvirt's test driver (`test:///<abs path>/node.xml`): domains are defined in a file, served by
 * the virsh process itself, no daemon needed. Checks what fakes cannot: that names libvirt allows (quotes, `;`,
 * a leading `--`, a newline, a numeric name) survive the batch quoting, and that observing costs the same number
 * of virsh processes for 1, 10 or 100 domains (counted by a PATH shim).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createVirsh } from '../src/io/execa-virsh.js';
import { observeDomains } from '../src/observe/domains.js';
import { createVirshShim, findRealVirsh, type VirshShim } from './helpers/virsh-shim.js';

const real = findRealVirsh();

interface TestDomain {
  name: string;
  uuid: string;
  /** libvirt's virDomainState: 1 running, 3 paused, 5 shut off. Default running. */
  runstate?: 1 | 3 | 5;
  transient?: boolean;
  description?: string;
  devices?: string;
}

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;

/** A test driver node file. UUIDs are explicit: the driver would invent new ones in every virsh process. */
function nodeXml(domains: TestDomain[]): string {
  const body = domains.map(
    (d) => `  <domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
    <name>${esc(d.name)}</name>
    <uuid>${d.uuid}</uuid>
    ${d.description === undefined ? '' : `<description>${esc(d.description)}</description>`}
    <memory>65536</memory>
    <os><type>hvm</type></os>
    <devices>${d.devices ?? ''}</devices>
    ${d.transient ? '<test:transient/>' : ''}
    <test:runstate>${d.runstate ?? 1}</test:runstate>
  </domain>`,
  );
  return `<node>\n${body.join('\n')}\n</node>\n`;
}

const hostdev = (managed: string, address: string) =>
  `<hostdev mode='subsystem' type='pci'${managed}><source><address ${address}/></source></hostdev>`;

const ODD: TestDomain[] = [
  {
    name: `it's "quoted"; --x`,
    uuid: uuid(1),
    runstate: 5,
    devices: hostdev(" managed='yes'", "domain='0x0000' bus='0x07' slot='0x00' function='0x0'"),
  },
  {
    name: '--leading',
    uuid: uuid(2),
    devices:
      hostdev('', "domain='0' bus='7' slot='0' function='1'") +
      "<interface type='bridge'><mac address='52:54:00:00:00:02'/><source bridge='br0'/><model type='virtio'/></interface>",
  },
  {
    name: 'with space',
    uuid: uuid(3),
    runstate: 3,
    devices:
      "<interface type='hostdev' managed='yes'><mac address='52:54:00:00:00:03'/>" +
      "<source><address type='pci' domain='0x0000' bus='0x08' slot='0x10' function='0x1'/></source></interface>",
  },
  { name: 'semi;colon\\back$lash', uuid: uuid(4) },
  { name: 'new\nline', uuid: uuid(5) },
  // Looked up by name, "1" would find the domain whose ID is 1 (the first running one): we address by UUID.
  { name: '1', uuid: uuid(6), runstate: 5 },
  { name: 'described', uuid: uuid(7), runstate: 5, description: 'first\nerror: not a virsh error\nlast' },
  { name: 'transient one', uuid: uuid(8), transient: true },
];

describe.skipIf(real === null)('real virsh, libvirt test driver', () => {
  let dir: string;
  let shim: VirshShim;
  const uriFor = async (name: string, domains: TestDomain[]) => {
    const file = path.join(dir, name);
    await writeFile(file, nodeXml(domains));
    return `test://${file}`;
  };

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'passthru-testdriver-'));
    shim = await createVirshShim(real as string);
    vi.stubEnv('PATH', `${shim.dir}${path.delimiter}${process.env.PATH ?? ''}`);
  });
  afterAll(async () => {
    vi.unstubAllEnvs();
    await shim.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('observes domains whose names need quoting, with their state, hostdevs and interfaces', async () => {
    const uri = await uriFor('odd.xml', ODD);
    const domains = await observeDomains(createVirsh({ binary: 'virsh' }), uri);
    expect(domains.map((d) => [d.name, d.uuid, d.state, d.active, d.live !== null])).toEqual([
      ['--leading', uuid(2), 'running', true, true],
      ['1', uuid(6), 'shut off', false, false],
      ['described', uuid(7), 'shut off', false, false],
      [`it's "quoted"; --x`, uuid(1), 'shut off', false, false],
      ['new\nline', uuid(5), 'running', true, true],
      ['semi;colon\\back$lash', uuid(4), 'running', true, true],
      ['transient one', uuid(8), 'running', true, true],
      ['with space', uuid(3), 'paused', true, true],
    ]);
    const by = new Map(domains.map((d) => [d.uuid, d]));
    expect(by.get(uuid(1))?.persistent.hostdevs).toEqual([
      expect.objectContaining({ address: '0000:07:00.0', managed: true, driver: null, source: 'hostdev' }),
    ]);
    // managed absent in the input: libvirt reads (and prints) it as 'no'.
    expect(by.get(uuid(2))?.persistent.hostdevs).toEqual([
      expect.objectContaining({ address: '0000:07:00.1', managed: false, driver: null, source: 'hostdev' }),
    ]);
    expect(by.get(uuid(2))?.live?.hostdevs).toEqual(by.get(uuid(2))?.persistent.hostdevs);
    expect(by.get(uuid(2))?.persistent.interfaces).toEqual([
      expect.objectContaining({ type: 'bridge', source: 'br0', mac: '52:54:00:00:00:02', model: 'virtio' }),
    ]);
    expect(by.get(uuid(3))?.live?.hostdevs).toEqual([
      expect.objectContaining({ address: '0000:08:10.1', managed: true, driver: null, source: 'interface', mac: '52:54:00:00:00:03' }),
    ]);
    expect(by.get(uuid(7))?.persistentXml).toContain('\nerror: not a virsh error\n');
  });

  it('passes names through the batch quoting intact, behind --domain', async () => {
    const uri = await uriFor('odd.xml', ODD);
    const byName = ODD.filter((d) => d.name !== '1');
    const results = await createVirsh({ binary: 'virsh' }).batch(
      uri,
      [...byName.map((d) => ['domuuid', '--domain', d.name]), ['domuuid', '--domain', '1']],
    );
    // The last one: "1" finds the domain whose ID is 1 (--leading), not the one named "1" — hence UUIDs.
    expect(results.map((r) => r.output.trim())).toEqual([...byName.map((d) => d.uuid), uuid(2)]);
  });

  it('costs the same number of virsh processes for 1, 10 and 100 domains', async () => {
    const counts: number[] = [];
    for (const n of [1, 10, 100]) {
      const domains = Array.from({ length: n }, (_, i) => ({
        name: `vm ${i}`,
        uuid: uuid(1000 + i),
        runstate: i % 2 === 0 ? (1 as const) : (5 as const),
        devices: hostdev(" managed='yes'", `domain='0' bus='${(i % 255) + 1}' slot='0' function='0'`),
      }));
      const uri = await uriFor(`n${n}.xml`, domains);
      await shim.reset();
      const observed = await observeDomains(createVirsh({ binary: 'virsh' }), uri);
      expect(observed).toHaveLength(n);
      expect(observed.filter((d) => d.active)).toHaveLength(Math.ceil(n / 2));
      counts.push(await shim.count());
    }
    expect(counts).toEqual([2, 2, 2]);
  });

  it('reports a failing command of a batch on its own result, the others unaffected', async () => {
    const uri = await uriFor('odd.xml', ODD);
    const missing = '00000000-0000-4000-8000-00000000beef';
    const results = await createVirsh({ binary: 'virsh' }).batch(uri, [
      ['dumpxml', '--inactive', '--domain', uuid(1)],
      ['dumpxml', '--inactive', '--domain', missing],
      ['dumpxml', '--inactive', '--domain', uuid(7)],
    ]);
    expect(results.map((r) => r.ok)).toEqual([true, false, true]);
    expect(results[1]).toEqual({ ok: false, output: '', error: `failed to get domain '${missing}'` });
    expect(results[0]?.output).toContain('<name>it&apos;s &quot;quoted&quot;; --x</name>');
    // An `error:` line inside the output (a description) is data, not a failure.
    expect(results[2]?.output).toMatch(/<description>first\nerror: not a virsh error\nlast<\/description>/);
  });

  it('keeps errors in order with output when many commands fail', async () => {
    const domains = Array.from({ length: 100 }, (_, i) => ({ name: `vm ${i}`, uuid: uuid(2000 + i) }));
    const uri = await uriFor('order.xml', domains);
    const commands = domains.flatMap((d, i) => [
      ['dumpxml', '--domain', d.uuid],
      ['domstate', '--domain', `missing ${i}`],
    ]);
    await shim.reset();
    const results = await createVirsh({ binary: 'virsh' }).batch(uri, commands);
    expect(await shim.count()).toBe(1);
    results.forEach((r, k) => {
      const i = Math.floor(k / 2);
      if (k % 2 === 0) expect(r.ok && r.output.includes(`<name>vm ${i}</name>`)).toBe(true);
      else expect(r).toEqual({ ok: false, output: '', error: `failed to get domain 'missing ${i}'` });
    });
  });
});
