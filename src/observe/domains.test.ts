import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HostError } from '../errors.js';
import type { Virsh } from '../io/virsh.js';
import type { VirshBatchResult } from '../libvirt/virsh-batch.js';
import { observeDomains } from './domains.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/fixtures/virsh/${name}`, import.meta.url), 'utf8');

const RHEL = '163d5689-4729-4571-aa6a-27716cf47003';
const WEB = '9e1b36ba-0e5d-4f8c-9020-461f9fb6ead7';
const GONE = '00000000-0000-0000-0000-00000000dead';

/**
 * A Virsh answering from recorded output: `answers` maps a command's text to its output (or an `error: ` text).
 * The real-virsh behaviour is covered by test/virsh-testdriver.test.ts; this pins the mapping and the error cases.
 */
function fakeVirsh(answers: Record<string, string>): Virsh & { batches: number } {
  const fake = {
    batches: 0,
    async batch(_uri: string, commands: string[][]): Promise<VirshBatchResult[]> {
      fake.batches++;
      return commands.map((c) => {
        const answer = answers[c.join(' ')];
        if (answer === undefined) return { ok: false, output: '', error: `failed to get domain '${c.at(-1)}'` };
        return answer.startsWith('error: ')
          ? { ok: false, output: '', error: answer.slice(7) }
          : { ok: true, output: answer, error: null };
      });
    },
    async run(): Promise<never> {
      throw new Error('observeDomains must batch');
    },
  };
  return fake;
}

const recorded = {
  [`domstate --domain ${RHEL}`]: 'shut off\n',
  [`dumpxml --inactive --domain ${RHEL}`]: fixture('domain-rhel7.3.inactive.xml'),
  [`dumpxml --domain ${RHEL}`]: fixture('domain-rhel7.3.inactive.xml'),
  [`domstate --domain ${WEB}`]: 'paused\n',
  [`dumpxml --inactive --domain ${WEB}`]: fixture('domain-web-01.inactive.xml'),
  [`dumpxml --domain ${WEB}`]: fixture('domain-web-01.live.xml'),
};

describe('observeDomains', () => {
  it('reads state and both XMLs of every domain in two batches, sorted by name', async () => {
    const virsh = fakeVirsh({ 'list --all --uuid': `${WEB}\n${RHEL}\n\n`, ...recorded });
    const domains = await observeDomains(virsh, 'qemu:///system');
    expect(virsh.batches).toBe(2);
    expect(domains.map((d) => [d.name, d.uuid, d.state, d.active])).toEqual([
      ['rhel7.3', RHEL, 'shut off', false],
      ['web 01', WEB, 'paused', true],
    ]);
    const [rhel, web] = domains;
    expect(rhel?.live).toBeNull();
    expect(rhel?.persistent.hostdevs).toHaveLength(4);
    expect(rhel?.persistentXml).toBe(fixture('domain-rhel7.3.inactive.xml'));
    expect(web?.live?.interfaces[0]?.xml).toContain("<alias name='net0'/>");
    expect(web?.persistent.interfaces[0]?.xml).not.toContain('alias');
  });

  it('reads a host of more domains than one process argument holds run by run, every domain with its own XML', async () => {
    const n = 1200;
    const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
    const xml = (i: number) => `<domain type='kvm'><name>vm-${i}</name><uuid>${uuid(i)}</uuid><devices/></domain>`;
    const answers: Record<string, string> = { 'list --all --uuid': Array.from({ length: n }, (_, i) => uuid(i)).join('\n') };
    for (let i = 0; i < n; i++) {
      answers[`domstate --domain ${uuid(i)}`] = i % 2 === 0 ? 'running\n' : 'shut off\n';
      answers[`dumpxml --inactive --domain ${uuid(i)}`] = xml(i);
      answers[`dumpxml --domain ${uuid(i)}`] = xml(i);
    }
    const virsh = fakeVirsh(answers);
    const domains = await observeDomains(virsh, 'qemu:///system');
    expect(virsh.batches).toBeGreaterThan(2);
    expect(domains).toHaveLength(n);
    for (const d of domains) {
      const i = Number(d.name.slice(3));
      expect([d.uuid, d.active, d.live?.name ?? null]).toEqual([uuid(i), i % 2 === 0, i % 2 === 0 ? d.name : null]);
    }
  });

  it('reports the XML that cannot be parsed, not the failure of a run still being read', async () => {
    const n = 1200;
    const uuid = (i: number) => `00000000-0000-4000-8000-${i.toString().padStart(12, '0')}`;
    const fake = fakeVirsh({ 'list --all --uuid': Array.from({ length: n }, (_, i) => uuid(i)).join('\n') });
    let calls = 0;
    const virsh: Virsh = {
      ...fake,
      async batch(uri, commands) {
        calls++;
        if (calls === 1) return fake.batch(uri, commands);
        if (calls > 2) throw new HostError('virsh died reading the second run');
        return commands.map(() => ({ ok: true, output: '<domain><name>broken', error: null }));
      },
    };
    await expect(observeDomains(virsh, 'qemu:///system')).rejects.toThrow(/cannot read the XML of domain/);
  });

  it('leaves out a domain undefined between listing and reading', async () => {
    const virsh = fakeVirsh({ 'list --all --uuid': `${GONE}\n${RHEL}\n`, ...recorded });
    expect((await observeDomains(virsh, 'qemu:///system')).map((d) => d.uuid)).toEqual([RHEL]);
  });

  it('fails when a domain cannot be read for another reason: it may hold a device', async () => {
    const virsh = fakeVirsh({
      'list --all --uuid': `${RHEL}\n`,
      ...recorded,
      [`dumpxml --domain ${RHEL}`]: 'error: Disconnected from qemu:///system due to end of file',
    });
    await expect(observeDomains(virsh, 'qemu:///system')).rejects.toThrow(
      new HostError(`cannot observe domain ${RHEL} on qemu:///system: Disconnected from qemu:///system due to end of file`),
    );
  });

  it('fails with the domain named when its XML cannot be parsed', async () => {
    const virsh = fakeVirsh({ 'list --all --uuid': `${RHEL}\n`, ...recorded, [`dumpxml --inactive --domain ${RHEL}`]: '<domain>' });
    await expect(observeDomains(virsh, 'qemu:///system')).rejects.toThrow(/cannot read the XML of domain 163d5689.*malformed/);
  });

  it.each([
    ['running', 'running', true],
    ['idle', 'other', true],
    ['in shutdown', 'other', true],
    ['pmsuspended', 'pmsuspended', true],
    ['crashed', 'crashed', false],
    ['no state', 'other', false],
  ])('maps domstate %j to %j (active %s)', async (word, state, active) => {
    const virsh = fakeVirsh({ 'list --all --uuid': `${WEB}\n`, ...recorded, [`domstate --domain ${WEB}`]: `${word}\n` });
    const [d] = await observeDomains(virsh, 'qemu:///system');
    expect([d?.state, d?.active, d?.live === null]).toEqual([state, active, !active]);
  });

  it('costs one process and returns nothing for a host without domains', async () => {
    const virsh = fakeVirsh({ 'list --all --uuid': '\n' });
    expect(await observeDomains(virsh, 'qemu:///system')).toEqual([]);
    expect(virsh.batches).toBe(1);
  });

  it('fails when the domains cannot be listed', async () => {
    const virsh = fakeVirsh({ 'list --all --uuid': 'error: this function is not supported by the connection driver' });
    await expect(observeDomains(virsh, 'x:///')).rejects.toThrow(/cannot list the domains of x:\/\/\/: this function/);
  });
});
