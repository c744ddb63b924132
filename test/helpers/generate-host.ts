/**
 * Generated hosts and desired states for the planner's property test: small hosts built from the cards real
 * hypervisors have (multi-function NICs with and without ACS, GPU + audio, NVMe, SR-IOV PFs with VFs, a
 * PCIe-to-PCI bridge with legacy cards behind it, the chipset's shared group, host-critical devices, unbound
 * devices and devices already on vfio-pci), libvirt domains in every state, and a `passthrough.yaml` that lists
 * some of them. Every draw goes through `Rand`, whose zero is the simplest choice, so that a shrinking generator
 * (fast-check) reduces a failing case towards fewer cards, fewer domains and fewer claims.
 *
 * The hosts are physically possible (a device a running domain holds is on vfio-pci, its group is viable, and a
 * device the host itself uses is on its host driver) and the desired states pass the loader's offline checks.
 */
import type { DesiredHostState, DesiredVm, DeviceClaim, HostAddress, InterfaceSelector, MatchClaim, SourcePos } from '../../src/model/desired.js';
import { canonicalOverlaps, slotOf } from '../../src/model/pci-address.js';
import type { DomainHostdev, DomainInterface, DomainSnapshot, HostSnapshot, HostUse, PciDevice } from '../../src/model/snapshot.js';
import { bridgeNic, device, domain, hostdev, snapshot } from './builders.js';

/** A source of choices: `int(min, max)` draws an integer in [min, max]; a shrinker moves it towards `min`. */
export interface Rand {
  int(min: number, max: number): number;
}

/** One generated case: the host, the file, and what the host's kernel would do that no snapshot shows. */
export interface GeneratedCase {
  snapshot: HostSnapshot;
  desired: DesiredHostState;
  /** The driver each device binds to when it leaves vfio-pci (absent: none, e.g. a blacklisted module). */
  hostDrivers: Map<string, string>;
}

/** Choice helpers over a Rand; each shrinks towards "no", the first item, the empty list. */
class Choices {
  constructor(private readonly r: Rand) {}
  int(min: number, max: number): number {
    return this.r.int(min, max);
  }
  /** True with probability `percent`/100. */
  chance(percent: number): boolean {
    return this.r.int(0, 99) >= 100 - percent;
  }
  pick<T>(items: readonly T[]): T {
    const item = items[this.r.int(0, items.length - 1)];
    if (item === undefined) throw new Error('pick from an empty list');
    return item;
  }
  some<T>(items: readonly T[], percent: number): T[] {
    return items.filter(() => this.chance(percent));
  }
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
const fn = (bus: number, slot: number, f: number) => `0000:${hex(bus, 2)}:${hex(slot, 2)}.${f}`;

/** What a card's function is: vendor, product, class and the host driver the kernel binds it to. */
interface Identity {
  vendor: string;
  product: string;
  class: string;
  driver: string | null;
}

/** The identities cards are built from: few, so that selectors compete for them. */
const ID = {
  i350: { vendor: '8086', product: '1521', class: '020000', driver: 'igb' },
  x710: { vendor: '8086', product: '1572', class: '020000', driver: 'i40e' },
  gpu: { vendor: '10de', product: '2330', class: '030000', driver: 'nouveau' },
  gpuAudio: { vendor: '10de', product: '22bb', class: '040300', driver: 'snd_hda_intel' },
  nvme: { vendor: '144d', product: 'a80a', class: '010802', driver: 'nvme' },
  pf: { vendor: '8086', product: '10fb', class: '020000', driver: 'ixgbe' },
  vf: { vendor: '8086', product: '10ed', class: '020000', driver: 'ixgbevf' },
  legacy: { vendor: '13f6', product: '8788', class: '040100', driver: 'snd_oxygen' },
  rootPort: { vendor: '8086', product: '347a', class: '060400', driver: 'pcieport' },
  pciBridge: { vendor: '1b21', product: '1080', class: '060400', driver: null },
} satisfies Record<string, Identity>;

const USES: Record<'nic' | 'disk' | 'gpu', HostUse[]> = {
  nic: [{ kind: 'default-route', detail: 'eno1 carries the default route' }],
  disk: [{ kind: 'mount', detail: '/dev/nvme0n1p2 mounted on /' }],
  gpu: [{ kind: 'boot-vga', detail: 'boot_vga: the console GPU' }],
};

/** Builds the PCI functions of one host. */
class DeviceBuilder {
  readonly devices: PciDevice[] = [];
  readonly hostDrivers = new Map<string, string>();
  private group = 0;
  private bus = 1;
  private port = 0;
  constructor(private readonly c: Choices) {}

  newGroup(): number {
    return this.group++;
  }

  /** One function; its current driver is its host driver, vfio-pci or none. */
  add(address: string, id: Identity, group: number, over: Partial<PciDevice> = {}): PciDevice {
    const hostUse = over.hostUse ?? [];
    // A driver that is not loaded (blacklisted, as for passthrough-only GPUs) leaves the device unbound.
    const hostDriver = id.driver !== null && (hostUse.length > 0 || !this.c.chance(15)) ? id.driver : null;
    if (hostDriver !== null) this.hostDrivers.set(address, hostDriver);
    const onVfio = hostUse.length === 0 && id.class !== '060400' && this.c.chance(25);
    const d = device(address, {
      vendor: id.vendor,
      product: id.product,
      class: id.class,
      driver: onVfio ? 'vfio-pci' : hostDriver,
      driverOverride: onVfio ? 'vfio-pci' : null,
      iommuGroup: group,
      isBridge: id.class === '060400',
      ...over,
    });
    this.devices.push(d);
    return d;
  }

  /** A fresh bus behind a root port (in its own group, or in the card's first group on a platform without ACS). */
  nextBus(cardGroup: number): number {
    if (this.port < 16) {
      const slot = 0x1c + Math.floor(this.port / 8);
      this.add(fn(0, slot, this.port % 8), ID.rootPort, this.c.chance(20) ? cardGroup : this.newGroup());
      this.port++;
    }
    return this.busBehindBridge();
  }

  /** A fresh bus number, for the secondary side of a bridge the caller adds. */
  busBehindBridge(): number {
    return this.bus++;
  }
}

type CardKind = 'nic' | 'gpu' | 'nvme' | 'sriov' | 'legacy';
const CARD_KINDS: readonly CardKind[] = ['nic', 'gpu', 'nvme', 'sriov', 'legacy'];

function addCard(b: DeviceBuilder, c: Choices, kind: CardKind): void {
  const first = b.newGroup();
  const bus = b.nextBus(first);
  switch (kind) {
    case 'nic': {
      const id = c.pick([ID.i350, ID.x710]);
      const acs = c.chance(50);
      const critical = c.chance(20) ? c.int(0, 3) : -1;
      const functions = c.int(1, 4);
      for (let f = 0; f < functions; f++) {
        const use = f === critical ? { hostUse: USES.nic, netInterfaces: ['eno1'] } : {};
        b.add(fn(bus, 0, f), id, acs && f > 0 ? b.newGroup() : first, use);
      }
      return;
    }
    case 'gpu': {
      b.add(fn(bus, 0, 0), ID.gpu, first, c.chance(20) ? { hostUse: USES.gpu } : {});
      if (c.chance(85)) b.add(fn(bus, 0, 1), ID.gpuAudio, first);
      return;
    }
    case 'nvme':
      b.add(fn(bus, 0, 0), ID.nvme, first, c.chance(25) ? { hostUse: USES.disk } : {});
      return;
    case 'sriov': {
      const vfs = Array.from({ length: c.int(0, 3) }, (_, i) => fn(bus, 0x10, i));
      const pf = b.add(fn(bus, 0, 0), ID.pf, first, { virtualFunctions: vfs });
      for (const vf of vfs) b.add(vf, ID.vf, b.newGroup(), { physFunction: pf.address });
      return;
    }
    case 'legacy': {
      // A PCIe-to-PCI bridge: everything behind it shares one group, the bridge included (it is exempt).
      b.add(fn(bus, 0, 0), ID.pciBridge, first);
      const behind = b.busBehindBridge();
      const cards = c.int(1, 2);
      for (let s = 0; s < cards; s++) b.add(fn(behind, s, 0), ID.legacy, first);
      return;
    }
  }
}

/** The chipset: host bridge, SATA behind /, the management NIC, and the LPC group with several members. */
function addChipset(b: DeviceBuilder, c: Choices): void {
  if (c.chance(40)) b.add('0000:00:00.0', { vendor: '8086', product: '09a2', class: '060000', driver: null }, b.newGroup());
  if (c.chance(40)) {
    const lpc = b.newGroup();
    b.add('0000:00:1f.0', { vendor: '8086', product: 'a1c1', class: '060100', driver: null }, lpc);
    b.add('0000:00:1f.3', { vendor: '8086', product: 'a1f0', class: '040300', driver: 'snd_hda_intel' }, lpc);
    b.add('0000:00:1f.4', { vendor: '8086', product: 'a1a3', class: '0c0500', driver: 'i801_smbus' }, lpc);
  }
  if (c.chance(40)) {
    b.add('0000:00:1f.6', { vendor: '8086', product: '15b9', class: '020000', driver: 'e1000e' }, b.newGroup(), {
      hostUse: USES.nic,
      netInterfaces: ['eno1'],
    });
  }
  if (c.chance(30)) {
    b.add('0000:00:17.0', { vendor: '8086', product: 'a182', class: '010601', driver: 'ahci' }, b.newGroup(), {
      hostUse: [{ kind: 'mount', detail: '/dev/sda2 mounted on /' }],
    });
  }
}

const NAMES = ['a', 'b', 'rhel7.3', 'win 11', "o'brien", '--c'];
const uuid = (i: number) => `00000000-0000-4000-8000-${hex(i + 1, 12)}`;

/** A domain in some state with some of the host's devices and a guest NIC or two. */
function buildDomain(c: Choices, i: number, endpoints: PciDevice[], liveTaken: Set<string>, devices: PciDevice[], configured: Set<string>): DomainSnapshot {
  const name = NAMES[i] ?? `vm${i}`;
  const state = c.pick(['shut off', 'running', 'running', 'paused'] as const);
  const transient = state !== 'shut off' && c.chance(6);
  const entry = (d: PciDevice): DomainHostdev =>
    d.physFunction !== null && c.chance(50)
      ? hostdev(d.address, { source: 'interface', mac: `52:54:00:00:${hex(i, 2)}:${hex(endpoints.indexOf(d), 2)}`, managed: true })
      : hostdev(d.address, { managed: !c.chance(20) });
  // Mostly devices no other domain's config has; sometimes one that another (shut off) domain has too.
  const hostdevs = c.some(endpoints, 15).filter((d) => !configured.has(d.address) || c.chance(15)).map(entry);
  // A card that was taken out of the host while the config still names it.
  if (c.chance(4)) hostdevs.push(hostdev('0000:7e:00.0'));
  for (const h of hostdevs) configured.add(h.address);
  const nics: DomainInterface[] = Array.from({ length: c.int(0, 2) }, (_, n) =>
    c.chance(80) ? bridgeNic(c.pick(['br0', 'br1']), `52:54:00:aa:${hex(i, 2)}:${hex(n, 2)}`) : { ...bridgeNic('default', `52:54:00:bb:${hex(i, 2)}:${hex(n, 2)}`), type: 'network' },
  );
  const dom = domain(name, { state, transient, uuid: uuid(i), hostdevs, interfaces: nics });
  if (!dom.live) return dom;
  // The running instance: the config's devices that it could hold, minus some (unplugged), plus some hot-plugged.
  const holdable = (address: string) => !liveTaken.has(address) && makeViable(devices, address);
  const live = [
    ...hostdevs.filter((h) => !c.chance(15) && holdable(h.address)),
    ...c.some(endpoints, 5).filter((d) => !hostdevs.some((h) => h.address === d.address) && holdable(d.address)).map(entry),
  ];
  for (const h of live) liveTaken.add(h.address);
  // Guest NICs of the running instance: the config's, minus one unplugged, plus one hot-plugged now and then.
  const liveNics = [...nics.filter(() => !c.chance(10)), ...(c.chance(10) ? [bridgeNic('br0', `52:54:00:cc:${hex(i, 2)}:00`)] : [])];
  return { ...dom, live: { ...dom.live, hostdevs: live, interfaces: liveNics } };
}

/**
 * A device a running domain holds is on vfio-pci, and so is every endpoint of its group that the host does not
 * need (QEMU could not have opened the group otherwise). Returns false, changing nothing, when the group holds a
 * device the host uses.
 */
function makeViable(devices: PciDevice[], address: string): boolean {
  const d = devices.find((x) => x.address === address);
  if (!d) return false;
  const group = devices.filter((m) => m.address === address || (d.iommuGroup !== null && m.iommuGroup === d.iommuGroup && !m.isBridge));
  if (group.some((m) => m.hostUse.length > 0)) return false;
  for (const m of group) {
    if (m.driver !== null) {
      m.driver = 'vfio-pci';
      m.driverOverride = 'vfio-pci';
    }
  }
  d.driver = 'vfio-pci';
  d.driverOverride = 'vfio-pci';
  return true;
}

/** Source positions: one line per entry, so messages that name them differ. */
class Lines {
  private line = 1;
  next(): SourcePos {
    return { file: 'passthrough.yaml', line: this.line++, col: 3 };
  }
}

/** The file's entries for one host. Claims never overlap each other, nor a release or protect entry. */
function buildDesired(c: Choices, devices: PciDevice[], domains: DomainSnapshot[]): DesiredHostState {
  const lines = new Lines();
  const taken: string[] = [];
  const free = (address: string) => !taken.some((t) => canonicalOverlaps(t, address));
  const listed = domains.filter(() => c.chance(75)); // the others are not in the file: passthru must leave them alone
  const heldElsewhere = new Set(
    domains.filter((d) => !listed.includes(d)).flatMap((d) => [...d.persistent.hostdevs, ...(d.live?.hostdevs ?? [])].map((h) => h.address)),
  );
  // Mostly devices a VM may have; now and then one it may not (a bridge, the host's own, another VM's, none at all).
  const assignable = devices.filter((d) => !d.isBridge && d.hostUse.length === 0 && !heldElsewhere.has(d.address));
  const someAddress = (): string => {
    const pool = assignable.length > 0 && !c.chance(12) ? assignable : devices;
    if (pool.length === 0 || c.chance(2)) return '0000:7f:00.0'; // absent from the host
    const d = c.pick(pool);
    return c.chance(20) ? slotOf(d.address) : d.address;
  };
  const addressClaim = (address: string, over: { managed?: boolean; force?: boolean } = {}): DeviceClaim | null => {
    if (!free(address)) return null;
    taken.push(address);
    const target = devices.find((d) => canonicalOverlaps(address, d.address));
    const expect = target && c.chance(20) ? { vendor: target.vendor, product: c.chance(10) ? 'ffff' : target.product } : null;
    const critical = devices.some((d) => canonicalOverlaps(address, d.address) && d.hostUse.length > 0);
    return {
      kind: 'address',
      address,
      expect,
      managed: over.managed ?? !c.chance(15),
      force: over.force ?? c.chance(critical ? 50 : 5),
      pos: lines.next(),
    };
  };

  const vms: DesiredVm[] = [];
  for (const dom of listed) {
    const devicesOf: DeviceClaim[] = [];
    for (const h of dom.persistent.hostdevs) {
      if (!c.chance(60)) continue;
      const claim = addressClaim(c.chance(15) ? slotOf(h.address) : h.address, { managed: c.chance(10) ? !h.managed : h.managed });
      if (claim) devicesOf.push(claim);
    }
    const fresh = c.int(0, c.chance(30) ? 2 : 1);
    for (let n = 0; n < fresh; n++) {
      const claim = addressClaim(someAddress());
      if (claim) devicesOf.push(claim);
    }
    const unclaimed = assignable.filter((d) => free(d.address));
    for (let n = c.chance(30) ? c.int(1, 2) : 0; n > 0 && unclaimed.length > 0; n--) {
      // The same identity twice now and then: two selectors compete for it.
      const like = n === 1 && devicesOf.at(-1)?.kind === 'match' && c.chance(50) ? (devicesOf.at(-1) as MatchClaim).match : c.pick(unclaimed);
      devicesOf.push({
        kind: 'match',
        match: { vendor: like.vendor, product: like.product },
        count: c.int(1, c.chance(30) ? 3 : 1),
        managed: !c.chance(15),
        force: c.chance(10),
        pos: lines.next(),
      });
    }
    const removeInterfaces: InterfaceSelector[] = c.chance(30)
      ? [{ type: 'bridge', source: c.pick([null, 'br0', 'br1']), mac: c.chance(20) ? (dom.persistent.interfaces[0]?.mac ?? null) : null, pos: lines.next() }]
      : [];
    vms.push({ name: dom.name, host: 'local', live: c.chance(40), devices: devicesOf, removeInterfaces, pos: lines.next() });
  }
  if (c.chance(3)) vms.push({ name: 'ghost', host: 'local', live: false, devices: [], removeInterfaces: [], pos: lines.next() });

  const entries = (percent: number): HostAddress[] => {
    const list: HostAddress[] = [];
    for (let n = c.chance(percent) ? c.int(1, 2) : 0; n > 0; n--) {
      const address = someAddress();
      if (!free(address)) continue;
      taken.push(address);
      list.push({ host: 'local', address, pos: lines.next() });
    }
    return list;
  };
  const release = entries(30);
  const protect = entries(30);
  return { host: { name: 'local', uri: 'qemu:///system', local: true }, vms, release, protect };
}

/** One case from the choices `r` makes. */
export function generateCase(r: Rand): GeneratedCase {
  const c = new Choices(r);
  const b = new DeviceBuilder(c);
  addChipset(b, c);
  const cards = c.int(0, 6);
  for (let n = 0; n < cards; n++) addCard(b, c, c.pick(CARD_KINDS));
  const iommuOff = c.chance(4);
  if (iommuOff) for (const d of b.devices) d.iommuGroup = null;
  else if (b.devices.length > 0 && c.chance(3)) c.pick(b.devices).iommuGroup = null;

  const endpoints = b.devices.filter((d) => !d.isBridge);
  const liveTaken = new Set<string>();
  const configured = new Set<string>();
  const domains = Array.from({ length: c.int(0, 5) }, (_, i) => buildDomain(c, i, endpoints, liveTaken, b.devices, configured));
  const host = snapshot(b.devices, domains, iommuOff ? { iommu: { groupsPresent: false, dmarTable: false, ivrsTable: false, cmdline: 'ro quiet' } } : {});
  const desired = buildDesired(c, b.devices, domains);
  // Drawn last, so that the cases before boot-time bindings existed are drawn as they were.
  host.bindings = {
    driverctl: c.chance(8) ? null : '/usr/sbin/driverctl',
    overrides: endpoints.filter(() => c.chance(30)).map((d) => ({ address: d.address, driver: c.pick(['vfio-pci', 'vfio-pci', 'nouveau']) })),
  };
  return { snapshot: host, desired, hostDrivers: b.hostDrivers };
}

const yn = (b: boolean) => (b ? 'yes' : 'no');

/** A generated case as a human reads it, for the report of a failing property. */
export function describeCase(c: GeneratedCase): string {
  const out: string[] = ['devices:'];
  for (const d of c.snapshot.devices) {
    const facts = [
      `${d.vendor}:${d.product}`,
      `driver ${d.driver ?? '-'}`,
      `host driver ${c.hostDrivers.get(d.address) ?? '-'}`,
      `group ${d.iommuGroup ?? '-'}`,
      ...(d.isBridge ? ['bridge'] : []),
      ...(d.physFunction ? [`VF of ${d.physFunction}`] : []),
      ...(d.hostUse.length > 0 ? [`host use: ${d.hostUse.map((u) => u.kind).join(',')}`] : []),
    ];
    out.push(`  ${d.address} ${facts.join(', ')}`);
  }
  if (!c.snapshot.iommu.groupsPresent) out.push('  (IOMMU off)');
  const bindings = c.snapshot.bindings;
  if (bindings) {
    const overrides = bindings.overrides.map((o) => `${o.address}=${o.driver ?? '?'}`).join(', ') || '-';
    out.push(`  driverctl ${bindings.driverctl ?? 'not installed'}; overrides: ${overrides}`);
  }
  const hostdevs = (list: DomainHostdev[]) =>
    list.map((h) => `${h.address}${h.source === 'interface' ? ` iface ${h.mac ?? ''}` : ''} managed=${yn(h.managed)}`).join('; ') || '-';
  out.push('domains:');
  for (const d of c.snapshot.domains) {
    out.push(`  "${d.name}" ${d.uuid} ${d.state}${d.transient ? ' transient' : ''}`);
    out.push(`    config: ${hostdevs(d.persistent.hostdevs)}; nics: ${d.persistent.interfaces.map((i) => `${i.type}:${i.source} ${i.mac}`).join(', ') || '-'}`);
    if (d.live) out.push(`    live:   ${hostdevs(d.live.hostdevs)}; nics: ${d.live.interfaces.map((i) => i.mac).join(', ') || '-'}`);
  }
  out.push('passthrough.yaml:', '  vms:');
  for (const vm of c.desired.vms) {
    out.push(`    "${vm.name}": live ${vm.live}`);
    for (const d of vm.devices) {
      const flags = `managed=${yn(d.managed)}${d.force ? ' force' : ''}`;
      if (d.kind === 'address') out.push(`      - address ${d.address} ${flags}${d.expect ? ` expect ${d.expect.vendor}:${d.expect.product}` : ''}`);
      else if (d.kind === 'match') out.push(`      - match ${d.match.vendor}:${d.match.product} count ${d.count} ${flags}`);
    }
    for (const i of vm.removeInterfaces) out.push(`      removeInterfaces: ${i.type} ${i.source ?? '*'} ${i.mac ?? '*'}`);
  }
  out.push(`  release: ${c.desired.release.map((r) => r.address).join(', ') || '-'}`);
  out.push(`  protect: ${c.desired.protect.map((r) => r.address).join(', ') || '-'}`);
  return out.join('\n');
}
