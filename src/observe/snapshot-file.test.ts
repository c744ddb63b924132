import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { InputError } from '../errors.js';
import { domainHostdevXml } from '../libvirt/hostdev-xml.js';
import type { HostSnapshot } from '../model/snapshot.js';
import { parseSnapshotFile } from './snapshot-file.js';

const seed = JSON.parse(readFileSync(new URL('../../examples/seed/snapshot.json', import.meta.url), 'utf8')) as HostSnapshot;

/** The seed snapshot with one hostdev in rhel7.3's config, as a capture made before hostdevs carried their element. */
function olderCapture(): string {
  const domains = seed.domains.map((d) =>
    d.name === 'rhel7.3'
      ? { ...d, persistent: { ...d.persistent, hostdevs: [{ address: '0000:07:00.1', managed: true, driver: null, source: 'hostdev' }] } }
      : d,
  );
  return JSON.stringify({ ...seed, domains });
}

describe('parseSnapshotFile', () => {
  it('reads a capture whose hostdevs have no element (written before `xml` existed), building the element passthru writes', () => {
    const [snapshot] = parseSnapshotFile(olderCapture(), 'old.json');
    const hostdevs = snapshot?.domains.find((d) => d.name === 'rhel7.3')?.persistent.hostdevs ?? [];
    expect(hostdevs).toEqual([
      {
        address: '0000:07:00.1',
        managed: true,
        driver: null,
        source: 'hostdev',
        xml: domainHostdevXml({ address: '0000:07:00.1', managed: true, source: 'hostdev' }),
      },
    ]);
  });

  it('keeps an element the capture has, byte for byte', () => {
    const xml = "<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x07' slot='0x00' function='0x1'/></source><rom bar='off'/></hostdev>";
    const text = olderCapture().replace('"source":"hostdev"}', `"source":"hostdev","xml":${JSON.stringify(xml)}}`);
    const [snapshot] = parseSnapshotFile(text, 'new.json');
    expect(snapshot?.domains.find((d) => d.name === 'rhel7.3')?.persistent.hostdevs[0]?.xml).toBe(xml);
  });

  it('still refuses a hostdev that is not one', () => {
    const text = olderCapture().replace('"source":"hostdev"}', '"source":"disk"}');
    expect(() => parseSnapshotFile(text, 'bad.json')).toThrow(InputError);
  });
});
