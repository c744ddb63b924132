import { execFileSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { FakeHost } from '../../test/helpers/fake-host.js';
import { fakeHost, nvmeMultipath, removeFakeHost, seedHost } from '../../test/helpers/fake-host.js';
import {
  attributeIpv4,
  blockMounts,
  configuredIpv6,
  defaultRouteInterfaces,
  ipv4Text,
  ipv6Text,
  observeHostUse,
  parseFibTrieLocal,
  parseIfInet6,
  parseIpv6Routes,
  parseMountinfo,
  parseMounts,
  parseRouteTable,
  parseSwaps,
  unescapeOctal,
} from './host-use.js';
import { readPciDevices } from './sysfs.js';

const fixtures = fileURLToPath(new URL('../../test/fixtures/sysfs/', import.meta.url));
const fixture = (name: string) => readFile(path.join(fixtures, name), 'utf8');

const roots: string[] = [];
afterAll(async () => {
  for (const r of roots) await removeFakeHost(r);
});

/** Builds the host and returns its host use as a plain object, the parts that are unknown, and warnings. */
async function uses(host: FakeHost, edit?: (root: string) => Promise<void>) {
  const root = await host.build();
  roots.push(root);
  if (edit) await edit(root);
  const warnings: string[] = [];
  const devices = await readPciDevices(root);
  const { uses: map, unknown } = observeHostUse(root, devices, { warn: (m) => warnings.push(m) });
  return { byAddress: Object.fromEntries([...map].map(([a, u]) => [a, u.map((x) => `${x.kind}: ${x.detail}`)])), unknown, warnings, root };
}

/** The header the kernel prints above /proc/net/route. */
const ROUTE_HEADER = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n';

describe('parsers on recorded output (a virtio VM)', () => {
  it('route: eth0 carries the default route; the connected route maps its address', async () => {
    const routes = parseRouteTable(await fixture('vm-virtio/route'));
    expect(routes.map((r) => [r.iface, ipv4Text(r.destination), ipv4Text(r.gateway), ipv4Text(r.mask)])).toEqual([
      ['eth0', '0.0.0.0', '192.0.2.1', '0.0.0.0'],
      ['eth0', '192.0.2.0', '0.0.0.0', '255.255.255.0'],
    ]);
    const v6 = parseIpv6Routes(await fixture('vm-virtio/ipv6_route'));
    expect(defaultRouteInterfaces(routes, v6)).toEqual(['eth0']);
    const local = parseFibTrieLocal(await fixture('vm-virtio/fib_trie'));
    expect(local).toEqual(['192.0.2.2']);
    expect(attributeIpv4(local, routes)).toEqual({ byInterface: new Map([['eth0', ['192.0.2.2']]]), unattributed: [] });
  });

  it('if_inet6: link-local and loopback are not configuration', async () => {
    const all = parseIfInet6(await fixture('vm-virtio/if_inet6'));
    expect(all.map((a) => a.address)).toEqual(['fe80::fc:ff:fe00:1', 'fd00::2', '::1']);
    expect(configuredIpv6(all)).toEqual([{ iface: 'eth0', address: 'fd00::2', prefixLength: 64, scope: 0 }]);
  });

  it('mounts and swaps', async () => {
    expect(blockMounts(parseMounts(await fixture('vm-virtio/mounts')))).toEqual([{ source: '/dev/vda', target: '/', fstype: 'ext4' }]);
    expect(parseSwaps(await fixture('vm-virtio/swaps'))).toEqual([]);
  });
});

describe('parsers on a hypervisor with bridges (br0, virbr0), LVM and a swap file', () => {
  it('maps each address to its bridge through the connected routes, nested trie nodes included', async () => {
    const routes = parseRouteTable(await fixture('hypervisor-br0/route'));
    expect(defaultRouteInterfaces(routes)).toEqual(['br0']);
    const local = parseFibTrieLocal(await fixture('hypervisor-br0/fib_trie'));
    expect(local).toEqual(['192.168.1.10', '192.168.122.1']);
    expect(attributeIpv4(local, routes).byInterface).toEqual(
      new Map([
        ['br0', ['192.168.1.10']],
        ['virbr0', ['192.168.122.1']],
      ]),
    );
    expect(configuredIpv6(parseIfInet6(await fixture('hypervisor-br0/if_inet6')))).toMatchObject([{ iface: 'br0', address: '2001:db8:0:1::10' }]);
  });

  it('keeps block mounts only and unescapes octal', async () => {
    const mounts = blockMounts(parseMounts(await fixture('hypervisor-br0/mounts')));
    expect(mounts.map((m) => `${m.source} ${m.target}`)).toEqual([
      '/dev/mapper/rhel-root /',
      '/dev/nvme0n1p2 /boot',
      '/dev/nvme0n1p1 /boot/efi',
      '/dev/mapper/rhel-home /home',
      '/dev/sdb1 /srv/vm images',
    ]);
    expect(parseSwaps(await fixture('hypervisor-br0/swaps'))).toEqual([
      { filename: '/dev/dm-1', type: 'partition' },
      { filename: '/swapfile', type: 'file' },
    ]);
  });
});

describe('small parsers', () => {
  it('ipv6Text compresses like RFC 5952', () => {
    expect(ipv6Text('20010db8000000000000000000000001')).toBe('2001:db8::1');
    expect(ipv6Text('00000000000000000000000000000000')).toBe('::');
    expect(ipv6Text('20010db8000000010000000100000001')).toBe('2001:db8:0:1:0:1:0:1');
    expect(ipv6Text('fe800000000000000000000000000000')).toBe('fe80::');
  });

  it('unescapeOctal', () => {
    expect(unescapeOctal('/srv/vm\\040images\\011x\\134y')).toBe('/srv/vm images\tx\\y');
  });

  it('attributeIpv4: a /32 address goes to the only routed interface, or is left unattributed', () => {
    const one = parseRouteTable(ROUTE_HEADER + 'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n');
    expect(attributeIpv4(['203.0.113.7'], one).byInterface).toEqual(new Map([['eth0', ['203.0.113.7']]]));
    const two = parseRouteTable(ROUTE_HEADER + 'eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\neth1\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n');
    expect(attributeIpv4(['203.0.113.7', '10.1.2.3'], two)).toEqual({
      byInterface: new Map([['eth1', ['10.1.2.3']]]),
      unattributed: ['203.0.113.7'],
    });
  });

  it('a reject default route (unreachable) does not count', () => {
    const rt = parseRouteTable(ROUTE_HEADER + 'eth0\t00000000\t00000000\t0201\t0\t0\t0\t00000000\t0\t0\t0\n');
    expect(defaultRouteInterfaces(rt)).toEqual([]);
  });

  it('parseMountinfo maps mount points to device numbers', () => {
    expect(parseMountinfo('22 1 259:2 / / rw,relatime shared:1 - xfs /dev/root rw\n').get('/')).toBe('259:2');
  });
});

describe('observeHostUse on fake trees', () => {
  it('seed host: the management NIC and the root NVMe are critical, the I350 ports are not', async () => {
    const { byAddress, warnings } = await uses(seedHost());
    expect(warnings).toEqual([]);
    expect(byAddress).toEqual({
      '0000:00:1f.6': ['default-route: eth0 carries the default route', 'address: eth0 has address 10.0.0.5'],
      '0000:01:00.0': ['mount: /dev/nvme0n1p2 is mounted on /', 'mount: /dev/nvme0n1p1 is mounted on /boot/efi'],
    });
  });

  it('a NIC enslaved to a bridge that has the address and the default route is critical', async () => {
    const host = seedHost()
      .bridge('br0', ['eth1'])
      .address('br0', '192.168.1.10/24')
      .defaultRoute('br0', '192.168.1.1')
      .address6('br0', '2001:db8:0:1::10/64');
    const { byAddress } = await uses(host);
    expect(byAddress['0000:07:00.0']).toEqual([
      'default-route: br0 carries the default route (eth1 is a port of br0)',
      'address: br0 has addresses 192.168.1.10, 2001:db8:0:1::10 (eth1 is a port of br0)',
    ]);
    expect(byAddress['0000:07:00.1']).toBeUndefined();
  });

  it('a bridge port is found from its master link alone (no lower_/brif links)', async () => {
    const host = seedHost().bridge('br0', ['eth1']).address('br0', '192.168.1.10/24');
    const { byAddress } = await uses(host, async (root) => {
      await rm(path.join(root, 'sys/devices/virtual/net/br0/lower_eth1'));
      await rm(path.join(root, 'sys/devices/virtual/net/br0/brif'), { recursive: true });
      await rm(path.join(root, 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.0/net/eth1/upper_br0'));
    });
    expect(byAddress['0000:07:00.0']).toEqual(['address: br0 has address 192.168.1.10 (eth1 is a port of br0)']);
  });

  it('a bond of both I350 ports under a bridge makes both critical; a VLAN on a port too', async () => {
    const host = seedHost()
      .bond('bond0', ['eth1', 'eth2'])
      .bridge('br0', ['bond0'])
      .address('br0', '192.168.1.10/24');
    const { byAddress } = await uses(host);
    expect(byAddress['0000:07:00.0']).toEqual(['address: br0 has address 192.168.1.10 (eth1 is a port of br0)']);
    expect(byAddress['0000:07:00.1']).toEqual(['address: br0 has address 192.168.1.10 (eth2 is a port of br0)']);

    const vlan = await uses(seedHost().vlan('eth1.100', 'eth1').address('eth1.100', '172.16.0.2/24'));
    expect(vlan.byAddress['0000:07:00.0']).toEqual(['address: eth1.100 has address 172.16.0.2 (eth1 is a port of eth1.100)']);
  });

  it('LVM on device-mapper on an NVMe partition: the NVMe controller backs /', async () => {
    const host = seedHost()
      .update('0000:01:00.0', { disks: [{ name: 'nvme0n1', partitions: ['nvme0n1p1', 'nvme0n1p2', 'nvme0n1p3'] }] })
      .deviceMapper('dm-0', 'rhel-root', ['nvme0n1p3'])
      .deviceMapper('dm-1', 'my--vg-swap', ['nvme0n1p3']);
    // Replace the seed's plain mounts by LVM ones.
    const { byAddress, warnings } = await uses(host, async (root) => {
      await writeFile(path.join(root, 'proc/mounts'), '/dev/mapper/rhel-root / xfs rw 0 0\n/dev/nvme0n1p2 /boot xfs rw 0 0\n');
      await writeFile(path.join(root, 'proc/swaps'), 'Filename Type Size Used Priority\n/dev/my-vg/swap partition 8 0 -2\n');
    });
    expect(warnings).toEqual([]);
    expect(byAddress['0000:01:00.0']).toEqual([
      'mount: /dev/mapper/rhel-root is mounted on / (on nvme0n1p3)',
      'mount: /dev/nvme0n1p2 is mounted on /boot',
      'swap: /dev/my-vg/swap is swap (on nvme0n1p3)',
    ]);
  });

  it('swap on a SATA disk makes the AHCI controller critical', async () => {
    const host = seedHost()
      .device({ address: '0000:00:17.0', vendor: '8086', device: 'a282', class: '010601', driver: 'ahci', group: 7, disks: [{ name: 'sda', partitions: ['sda1', 'sda2'] }] })
      .swap('/dev/sda2');
    const { byAddress } = await uses(host);
    expect(byAddress['0000:00:17.0']).toEqual(['swap: /dev/sda2 is swap']);
  });

  it('/dev/root resolves through mountinfo device numbers', async () => {
    const { byAddress } = await uses(seedHost(), async (root) => {
      const devno = (await readFile(path.join(root, 'sys/class/block/nvme0n1p2/dev'), 'utf8')).trim();
      await writeFile(path.join(root, 'proc/mounts'), '/dev/root / ext4 rw 0 0\n');
      await writeFile(path.join(root, 'proc/self/mountinfo'), `22 1 ${devno} / / rw shared:1 - ext4 /dev/root rw\n`);
    });
    expect(byAddress['0000:01:00.0']).toEqual(['mount: /dev/root is mounted on / (on nvme0n1p2)']);
  });

  it('native NVMe multipath: the namespace head leads to its controller through the subsystem', async () => {
    const { byAddress } = await uses(seedHost(), nvmeMultipath);
    expect(byAddress['0000:01:00.0']).toEqual(['mount: /dev/nvme0n1p2 is mounted on / (on nvme0)']);
  });

  it('what it cannot trace makes that part unknown; virtual devices do not', async () => {
    const host = fakeHost()
      .device({ address: '0000:00:1f.6', vendor: '8086', device: '15bb', class: '020000', driver: 'e1000e', group: 12, net: ['eth0'] })
      .address('eth0', '10.0.0.5/24')
      .mount('/dev/disk/by-uuid/1234', '/srv')
      .swap('/swapfile', 'file');
    const { byAddress, unknown, warnings } = await uses(host, async (root) => {
      // An address with no connected route on a host with two routed interfaces.
      await writeFile(
        path.join(root, 'proc/net/route'),
        `${ROUTE_HEADER}eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\nwg0\t0000A8C0\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n`,
      );
      const trie = await readFile(path.join(root, 'proc/net/fib_trie'), 'utf8');
      await writeFile(path.join(root, 'proc/net/fib_trie'), trie.replace('Local:', '     |-- 203.0.113.9\n        /32 host LOCAL\nLocal:'));
    });
    expect(byAddress).toEqual({ '0000:00:1f.6': ['address: eth0 has address 10.0.0.5'] });
    expect(unknown).toEqual({
      network: 'local address 203.0.113.9 has no connected route, so which interface has it cannot be told',
      storage: 'block device /dev/disk/by-uuid/1234 (which is mounted on /srv) is not in /sys/class/block, so its controller cannot be told',
    });
    expect(warnings).toEqual([`${unknown.network}; network host use is unknown`, `${unknown.storage}; storage host use is unknown`]);
  });

  it('an empty tree has no host use, and everything is known', async () => {
    const { byAddress, unknown, warnings } = await uses(fakeHost());
    expect(byAddress).toEqual({});
    expect(unknown).toEqual({});
    expect(warnings).toEqual([]);
  });

  it('a host without IPv6 (no ipv6_route, no if_inet6) is fully known', async () => {
    const { byAddress, unknown } = await uses(seedHost(), async (root) => {
      await rm(path.join(root, 'proc/net/ipv6_route'));
      await rm(path.join(root, 'proc/net/if_inet6'));
    });
    expect(unknown).toEqual({});
    expect(byAddress['0000:00:1f.6']).toEqual(['default-route: eth0 carries the default route', 'address: eth0 has address 10.0.0.5']);
  });
});

describe('observeHostUse: unknown stays unknown (defect 5)', () => {
  const missing = async (root: string, p: string) => rm(path.join(root, p), { recursive: true });
  it.each([
    ['no /proc at all', (root: string) => missing(root, 'proc'), { network: /\/proc\/net\/route is missing/, storage: /\/proc\/mounts is missing/ }],
    ['no /proc/net', (root: string) => missing(root, 'proc/net'), { network: /\/proc\/net\/route is missing/ }],
    [
      'a garbled route table',
      (root: string) => writeFile(path.join(root, 'proc/net/route'), 'Iface\tDestination\tGateway\neth0 0000 garbage\n'),
      { network: /\/proc\/net\/route is garbled: line 2 is not a route/ },
    ],
    ['an empty route table', (root: string) => writeFile(path.join(root, 'proc/net/route'), ''), { network: /\/proc\/net\/route is garbled/ }],
    ['a garbled fib_trie', (root: string) => writeFile(path.join(root, 'proc/net/fib_trie'), 'nonsense\n'), { network: /fib_trie is garbled/ }],
    ['if_inet6 without ipv6_route', (root: string) => missing(root, 'proc/net/ipv6_route'), { network: /ipv6_route is missing although/ }],
    ['an empty /proc/mounts', (root: string) => writeFile(path.join(root, 'proc/mounts'), ''), { storage: /\/proc\/mounts is garbled: it lists no filesystem mounted on \// }],
    ['a garbled /proc/swaps', (root: string) => writeFile(path.join(root, 'proc/swaps'), 'x\n'), { storage: /\/proc\/swaps is garbled/ }],
    [
      'a default-route interface missing from /sys/class/net',
      (root: string) => missing(root, 'sys/class/net/eth0'),
      { network: /interface eth0 \(eth0 carries the default route\) cannot be traced to a PCI device \(ENOENT\)/ },
    ],
  ])('%s', async (_name, edit, expected: { network?: RegExp; storage?: RegExp }) => {
    const { unknown, byAddress } = await uses(seedHost(), edit);
    expect(Object.keys(unknown).sort()).toEqual(Object.keys(expected).sort());
    for (const [part, pattern] of Object.entries(expected)) expect(unknown[part as keyof typeof unknown]).toMatch(pattern);
    // What could be read is still reported.
    if (expected.storage === undefined) expect(byAddress['0000:01:00.0']?.[0]).toMatch(/^mount: /);
  });

  it('a FIFO in place of /proc/net/route or /proc/mounts is refused at once, not read', async () => {
    const { unknown } = await uses(seedHost(), async (root) => {
      for (const f of ['proc/net/route', 'proc/mounts']) {
        await rm(path.join(root, f));
        execFileSync('mkfifo', [path.join(root, f)]);
      }
    });
    expect(unknown.network).toMatch(/^\/proc\/net\/route cannot be read \(\/proc\/net\/route is a FIFO, not a regular file\)/);
    expect(unknown.storage).toBe('/proc/mounts cannot be read (/proc/mounts is a FIFO, not a regular file)');
  }, 10_000);
});
