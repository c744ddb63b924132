// @ts-check
/**
 * A deterministic synthetic hypervisor for the benchmarks: a large host (PCI functions in realistic IOMMU groups,
 * bridges, SR-IOV PFs with their VFs, host-critical devices), its libvirt domains, and a `passthrough.yaml` that
 * mostly matches them, with a little drift so that the plan has work to do. Plain data only, no I/O: the same world
 * becomes a HostSnapshot for the planner, YAML text for the loader and a test-driver node.xml for real virsh.
 */

/** @typedef {import('../dist/model/snapshot.js').PciDevice} PciDevice */
/** @typedef {import('../dist/model/snapshot.js').HostUse} HostUse */

/**
 * @typedef {object} HostdevSpec
 * @property {string} address canonical function address
 * @property {boolean} managed
 * @property {'hostdev' | 'interface'} source
 * @property {string} [mac]
 */

/**
 * @typedef {object} ClaimSpec
 * @property {string} [address] function or whole-slot address
 * @property {{ vendor: string, product: string }} [expect]
 * @property {{ vendor: string, product: string }} [match]
 * @property {number} [count]
 * @property {boolean} [managed]
 */

/**
 * @typedef {object} DomainSpec
 * @property {string} name
 * @property {string} uuid
 * @property {boolean} running
 * @property {HostdevSpec[]} hostdevs persistent config (the live domain is given the same devices)
 * @property {{ type: string, source: string, mac: string }[]} nics guest NICs that are not hostdevs
 * @property {boolean} live the VM's `live:` in the desired state
 * @property {ClaimSpec[]} claims the VM's `devices:` in the desired state
 * @property {boolean} removeBridge the VM has `removeInterfaces: [{ type: bridge, source: br0 }]`
 */

/**
 * @typedef {object} World
 * @property {PciDevice[]} devices sorted by address
 * @property {DomainSpec[]} domains
 * @property {string[]} release
 * @property {string[]} protect
 * @property {Map<string, string>} parents the bridge (root port, PCIe-to-PCI bridge) each function sits behind, for
 *   a sysfs tree that nests device directories as the kernel does; functions of a root bus have none
 */

/** mulberry32: a small seeded PRNG, so that every run benchmarks the same host. @param {number} seed */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {number} n @param {number} width */
const hex = (n, width) => n.toString(16).padStart(width, '0');
/** @param {number} dom @param {number} bus @param {number} slot @param {number} fn */
const addr = (dom, bus, slot, fn) => `${hex(dom, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${fn}`;
/** @param {string} a canonical function address → its whole-slot address */
const slotOf = (a) => a.slice(0, -2);

/** @param {string} address @param {Partial<PciDevice>} over @returns {PciDevice} */
function device(address, over) {
  return {
    address,
    vendor: '8086',
    product: '0000',
    class: '000000',
    driver: null,
    driverOverride: null,
    iommuGroup: null,
    isBridge: false,
    physFunction: null,
    virtualFunctions: [],
    netInterfaces: [],
    hostUse: [],
    ...over,
  };
}

const VENDORS = /** @type {Record<string, string>} */ ({
  '8086': 'Intel Corporation',
  '1b21': 'ASMedia Technology Inc.',
  '15b3': 'Mellanox Technologies',
  '10de': 'NVIDIA Corporation',
  '144d': 'Samsung Electronics Co Ltd',
  '13f6': 'C-Media Electronics Inc',
});
/** @param {string} vendor @param {string} product @param {string} cls @param {string} productName */
const id = (vendor, product, cls, productName) => ({ vendor, product, class: cls, vendorName: VENDORS[vendor], productName });

// Identities (vendor:product, class, pci.ids names) of the cards the host is built from.
const ID = {
  rootPort: id('8086', '347a', '060400', 'Ice Lake Root Port'),
  pciBridge: id('1b21', '1080', '060400', 'ASM1083/1085 PCIe to PCI Bridge'),
  pf82599: id('8086', '10fb', '020000', '82599ES 10-Gigabit SFI/SFP+ Network Connection'),
  vf82599: id('8086', '10ed', '020000', '82599 Ethernet Controller Virtual Function'),
  pfCx5: id('15b3', '1017', '020000', 'MT27800 Family [ConnectX-5]'),
  vfCx5: id('15b3', '1018', '020000', 'MT27800 Family [ConnectX-5 Virtual Function]'),
  gpu: id('10de', '2204', '030000', 'GA102 [GeForce RTX 3090]'),
  gpuAudio: id('10de', '1aef', '040300', 'GA102 High Definition Audio Controller'),
  nvme: id('144d', 'a80a', '010802', 'NVMe SSD Controller PM9A1/PM9A3/980PRO'),
  i350: id('8086', '1521', '020000', 'I350 Gigabit Network Connection'),
  legacy: id('13f6', '8788', '040100', 'CMI8788 [Oxygen HD Audio]'),
};

/** The card kinds, in the order one "round" of the host adds them (~64 functions per round). */
const ROUND = ['sriov82599', 'gpu', 'nvme', 'quad', 'gpu', 'cx5', 'nvme', 'legacy'];

/** Functions one card of each kind adds, its root port included. */
const CARD_SIZE = { sriov82599: 35, gpu: 3, nvme: 2, quad: 5, cx5: 10, legacy: 4 };

/**
 * Builds the host's PCI functions (exactly `total`) and returns them with pools of assignable units per kind.
 * @param {number} total
 */
function buildDevices(total) {
  /** @type {PciDevice[]} */
  const devices = [];
  /** @type {Map<string, string>} */
  const parents = new Map();
  let group = 0;
  const newGroup = () => group++;
  /** @param {PciDevice} d @param {string} [parent] the bridge it sits behind */
  const add = (d, parent) => {
    devices.push(d);
    if (parent !== undefined) parents.set(d.address, parent);
    return d;
  };

  // Chipset on 0000:00: host bridge, BMC console GPU, USB, SATA behind /, LPC/audio/SMBus/SPI (one group without
  // ACS), the management NIC. Each row: address, product, class, driver, group key, what the host uses it for.
  /** @type {[string, string, string, string | null, string, HostUse | null][]} */
  const chipset = [
    ['0000:00:00.0', '09a2', '060000', null, 'hb', null],
    ['0000:00:02.0', '2000', '030000', 'ast', 'vga', { kind: 'boot-vga', detail: 'boot_vga: the console GPU' }],
    ['0000:00:14.0', 'a1af', '0c0330', 'xhci_hcd', 'usb', null],
    ['0000:00:14.2', 'a1b1', '118000', 'intel_pch_thermal', 'usb', null],
    ['0000:00:17.0', 'a182', '010601', 'ahci', 'sata', { kind: 'mount', detail: '/dev/sda2 mounted on /' }],
    ['0000:00:1f.0', 'a1c1', '060100', null, 'lpc', null],
    ['0000:00:1f.3', 'a1f0', '040300', 'snd_hda_intel', 'lpc', null],
    ['0000:00:1f.4', 'a1a3', '0c0500', 'i801_smbus', 'lpc', null],
    ['0000:00:1f.5', 'a1a4', '0c8000', 'intel-spi', 'lpc', null],
    ['0000:00:1f.6', '15b9', '020000', 'e1000e', 'mgmt', { kind: 'default-route', detail: 'eno1 carries the default route' }],
  ];
  /** @type {Map<string, number>} */
  const chipsetGroups = new Map();
  for (const [address, product, cls, driver, key, use] of chipset) {
    if (!chipsetGroups.has(key)) chipsetGroups.set(key, newGroup());
    add(device(address, {
      vendor: address === '0000:00:02.0' ? '1a03' : '8086',
      product,
      class: cls,
      driver,
      iommuGroup: chipsetGroups.get(key) ?? null,
      netInterfaces: driver === 'e1000e' ? ['eno1'] : [],
      hostUse: use ? [use] : [],
    }));
  }

  // Root complexes: two PCI segments × four root buses per 2,048 functions (a segment's buses run out beyond);
  // cards are spread over them round-robin.
  const segments = Array.from({ length: 2 * Math.ceil(total / 2048) }, (_, i) => i);
  const complexes = segments.flatMap((dom) => [0x00, 0x40, 0x80, 0xc0].map((root) => ({ dom, root, nextBus: root + 1, port: 0 })));
  const PORT_SLOTS = [0x01, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d];
  let cards = 0;
  /** A root port (own group, ACS) with `buses` fresh downstream buses. @param {number} buses */
  const rootPort = (buses) => {
    // Skewed round-robin, so that each card kind lands on every complex, not always on the same one.
    const c = complexes[(cards + Math.floor(cards / complexes.length)) % complexes.length];
    cards++;
    if (!c) throw new Error('unreachable');
    const slot = PORT_SLOTS[Math.floor(c.port / 8)];
    if (slot === undefined || c.nextBus + buses > c.root + 0x40) throw new Error('synthetic host: out of root ports/buses');
    const port = addr(c.dom, c.root, slot, c.port % 8);
    add(device(port, { ...ID.rootPort, driver: 'pcieport', isBridge: true, iommuGroup: newGroup() }));
    c.port++;
    const bus = c.nextBus;
    c.nextBus += buses;
    return { dom: c.dom, bus, port };
  };

  /** Assignable units per kind: what the VMs are given. */
  const pools = {
    /** @type {string[]} whole-slot addresses of GPU + audio */
    gpuSlots: [],
    /** @type {string[]} */
    nvmes: [],
    /** @type {string[]} whole-slot addresses of quad-port NICs (one IOMMU group of 4) */
    quadSlots: [],
    /** @type {string[][]} the endpoints behind one PCIe-to-PCI bridge (one group, bridge included) */
    legacyGroups: [],
    /** @type {string[]} */
    vf82599: [],
    /** @type {string[]} */
    vfCx5: [],
  };

  let nic = 0;
  let nvmeSeen = false;
  const cardAdders = {
    sriov82599() {
      const { dom, bus, port } = rootPort(1);
      const n = nic++;
      for (let pf = 0; pf < 2; pf++) {
        const pfAddress = addr(dom, bus, 0, pf);
        /** @type {string[]} */
        const vfs = [];
        // 82599: VF offset 128, stride 2 → bus:10.pf, 10.pf+2, ... (16 VFs per PF over slots 0x10-0x13).
        for (let i = 0; i < 16; i++) {
          const rid = 0x80 + pf + 2 * i;
          vfs.push(addr(dom, bus, rid >> 3, rid & 7));
        }
        add(device(pfAddress, {
          ...ID.pf82599,
          driver: 'ixgbe',
          iommuGroup: newGroup(),
          virtualFunctions: vfs,
          netInterfaces: [`ens${n}f${pf}`],
          // The first card's first port carries the host's storage network.
          hostUse: n === 0 && pf === 0 ? [{ kind: 'address', detail: `ens${n}f${pf} has address 10.20.0.11/24` }] : [],
        }), port);
        vfs.forEach((vf, i) => {
          const netInterfaces = [`ens${n}f${pf}v${i}`];
          add(device(vf, { ...ID.vf82599, driver: 'ixgbevf', iommuGroup: newGroup(), physFunction: pfAddress, netInterfaces }), port);
          pools.vf82599.push(vf);
        });
      }
    },
    gpu() {
      const { dom, bus, port } = rootPort(1);
      const g = newGroup();
      add(device(addr(dom, bus, 0, 0), { ...ID.gpu, driver: 'nvidia', iommuGroup: g }), port);
      add(device(addr(dom, bus, 0, 1), { ...ID.gpuAudio, driver: 'snd_hda_intel', iommuGroup: g }), port);
      pools.gpuSlots.push(slotOf(addr(dom, bus, 0, 0)));
    },
    nvme() {
      const { dom, bus, port } = rootPort(1);
      const a = addr(dom, bus, 0, 0);
      // The first NVMe holds the VM images: host-critical, never handed out.
      const first = !nvmeSeen;
      nvmeSeen = true;
      const hostUse = first ? [{ kind: /** @type {const} */ ('mount'), detail: '/dev/nvme0n1p1 mounted on /var/lib/libvirt' }] : [];
      add(device(a, { ...ID.nvme, driver: 'nvme', iommuGroup: newGroup(), hostUse }), port);
      if (!first) pools.nvmes.push(a);
    },
    quad() {
      const { dom, bus, port } = rootPort(1);
      const g = newGroup();
      const n = nic++;
      for (let fn = 0; fn < 4; fn++) {
        add(device(addr(dom, bus, 0, fn), { ...ID.i350, driver: 'igb', iommuGroup: g, netInterfaces: [`ens${n}f${fn}`] }), port);
      }
      pools.quadSlots.push(slotOf(addr(dom, bus, 0, 0)));
    },
    cx5() {
      const { dom, bus, port } = rootPort(1);
      const pfAddress = addr(dom, bus, 0, 0);
      const n = nic++;
      // VF offset 2, stride 1 → bus:00.2 ... bus:01.1 (the PF's second port is not populated).
      const vfs = Array.from({ length: 8 }, (_, i) => addr(dom, bus, (2 + i) >> 3, (2 + i) & 7));
      const netInterfaces = [`ens${n}np0`];
      add(device(pfAddress, { ...ID.pfCx5, driver: 'mlx5_core', iommuGroup: newGroup(), virtualFunctions: vfs, netInterfaces }), port);
      for (const vf of vfs) {
        add(device(vf, { ...ID.vfCx5, driver: 'mlx5_core', iommuGroup: newGroup(), physFunction: pfAddress }), port);
        pools.vfCx5.push(vf);
      }
    },
    legacy() {
      // Root port → PCIe-to-PCI bridge (no ACS behind it: bridge and the card(s) share one group).
      const { dom, bus, port } = rootPort(2);
      const g = newGroup();
      const bridge = addr(dom, bus, 0, 0);
      add(device(bridge, { ...ID.pciBridge, isBridge: true, iommuGroup: g }), port);
      const cardsBehind = pools.legacyGroups.length % 2 === 0 ? 2 : 1;
      const endpoints = Array.from({ length: cardsBehind }, (_, i) => addr(dom, bus + 1, i, 0));
      for (const e of endpoints) add(device(e, { ...ID.legacy, driver: 'snd_virtuoso', iommuGroup: g }), bridge);
      pools.legacyGroups.push(endpoints);
    },
  };

  // Whole rounds while they fit, then single NVMe cards (2 functions), then one lone function to hit `total`.
  for (let k = 0; ; k++) {
    const kind = /** @type {keyof typeof CARD_SIZE} */ (ROUND[k % ROUND.length]);
    if (devices.length + CARD_SIZE[kind] > total) break;
    cardAdders[kind]();
  }
  while (devices.length + 2 <= total) cardAdders.nvme();
  if (devices.length < total) {
    add(device('0000:00:16.0', { product: 'a1ba', class: '078000', driver: 'mei_me', iommuGroup: newGroup() }));
  }
  devices.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return { devices, pools, groups: group, parents };
}

const ROLES = ['web', 'db', 'gpu', 'ci', 'cache', 'ml', 'nfv', 'build'];

/**
 * The whole synthetic world.
 * @param {{ functions?: number, vms?: number, seed?: number }} [options]
 * @returns {World}
 */
export function buildWorld(options = {}) {
  const total = options.functions ?? 2000;
  const vmCount = options.vms ?? 200;
  const rand = prng(options.seed ?? 20261124);
  const chance = (/** @type {number} */ p) => rand() < p;
  const { devices, pools, parents } = buildDevices(total);
  const byAddress = new Map(devices.map((d) => [d.address, d]));
  const uuid = () => {
    const h = Array.from({ length: 32 }, () => Math.floor(rand() * 16).toString(16));
    h[12] = '4';
    h[16] = '8';
    const s = h.join('');
    return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
  };
  let macs = 0;
  const mac = () => {
    const n = ++macs;
    return `52:54:00:${hex((n >> 16) & 0xff, 2)}:${hex((n >> 8) & 0xff, 2)}:${hex(n & 0xff, 2)}`;
  };
  /** @template T @param {T[]} pool @returns {T | undefined} */
  const take = (pool) => pool.shift();
  // Selectors pick CX5 VFs lowest first: hand out the highest ones as "already attached", so that a shortfall is
  // filled from the free low end, as on a real host after some churn.
  pools.vfCx5.reverse();

  /** @type {DomainSpec[]} */
  const domains = [];
  for (let i = 0; i < vmCount; i++) {
    const name = `${ROLES[i % ROLES.length]}-${hex(i, 3)}`;
    const running = chance(0.6);
    /** @type {ClaimSpec[]} */
    const claims = [];
    /** @type {HostdevSpec[]} */
    const hostdevs = [];
    const room = () => claims.length < 8;
    /** Claimed and present in the config, unless drift says otherwise. @param {string[]} fns @param {ClaimSpec} claim */
    const claimAttached = (fns, claim, asInterface = false) => {
      claims.push(claim);
      for (const a of fns) {
        hostdevs.push(asInterface ? { address: a, managed: true, source: 'interface', mac: mac() } : { address: a, managed: true, source: 'hostdev' });
      }
    };
    const fnsOfSlot = (/** @type {string} */ slot) => devices.filter((d) => slotOf(d.address) === slot).map((d) => d.address);

    if (chance(0.3)) {
      const slot = take(pools.gpuSlots);
      if (slot) claimAttached(fnsOfSlot(slot), { address: slot });
    }
    if (chance(0.15)) {
      const slot = take(pools.quadSlots);
      if (slot) claimAttached(fnsOfSlot(slot), { address: slot });
    }
    for (let n = chance(0.3) ? 1 + Math.floor(rand() * 2) : 0; n > 0 && room(); n--) {
      const a = take(pools.nvmes);
      if (a) claimAttached([a], { address: a, expect: { vendor: ID.nvme.vendor, product: ID.nvme.product } });
    }
    if (chance(0.1) && room()) {
      const endpoints = take(pools.legacyGroups);
      for (const a of endpoints ?? []) if (room()) claimAttached([a], { address: a });
    }
    for (let n = 1 + Math.floor(rand() * 3); n > 0 && room(); n--) {
      const a = take(pools.vf82599);
      const expect = { vendor: ID.vf82599.vendor, product: ID.vf82599.product };
      // Half of the VFs are NICs of the guest (`<interface type='hostdev'>`), half plain hostdevs.
      if (a) claimAttached([a], { address: a, expect }, chance(0.5));
    }
    // Only while the pool holds the largest count and a reserve for the VMs left one short: a larger world runs
    // out of CX5 VFs, and a selector that can never be met is a blocked plan, not a benchmark of one.
    if (chance(0.5) && room() && pools.vfCx5.length >= 2 + Math.ceil(vmCount / 16)) {
      const count = 1 + Math.floor(rand() * 2);
      // Sticky: the VM already holds its matches, except now and then one short (the planner picks a new one).
      const held = chance(0.1) ? count - 1 : count;
      /** @type {string[]} */
      const got = [];
      for (let n = 0; n < held; n++) {
        const a = take(pools.vfCx5);
        if (a) got.push(a);
      }
      claimAttached(got, { match: { vendor: ID.vfCx5.vendor, product: ID.vfCx5.product }, count });
    }

    // Drift: a claimed device missing from the config, an unclaimed one attached, managed flipped.
    if (chance(0.08) && hostdevs.length > 0) hostdevs.splice(Math.floor(rand() * hostdevs.length), 1);
    if (chance(0.05)) {
      const a = take(pools.vf82599);
      if (a) hostdevs.push({ address: a, managed: true, source: 'hostdev' });
    }
    if (chance(0.03)) {
      const h = hostdevs.find((x) => x.source === 'hostdev');
      if (h) h.managed = false;
    }

    const hasVf = claims.some((c) => c.expect?.product === ID.vf82599.product || c.match !== undefined);
    const removeBridge = hasVf && chance(0.3);
    /** @type {{ type: string, source: string, mac: string }[]} */
    const nics = [];
    // Most VMs that drop their bridge NIC already have; a quarter still carry it.
    if (!removeBridge || chance(0.25)) nics.push({ type: 'bridge', source: 'br0', mac: mac() });
    if (chance(0.2)) nics.push({ type: 'network', source: 'default', mac: mac() });

    domains.push({ name, uuid: uuid(), running, hostdevs, nics, live: chance(0.2), claims, removeBridge });
  }

  // Drivers: devices in a running VM's config are on vfio-pci; those of a shut-off managed VM were mostly handed
  // back by libvirt; managed='no' ones stay on vfio-pci. Everything else keeps its host driver.
  for (const dom of domains) {
    for (const h of dom.hostdevs) {
      const d = byAddress.get(h.address);
      if (!d) throw new Error(`synthetic host: no device ${h.address}`);
      if (dom.running || !h.managed || chance(0.3)) {
        d.driver = 'vfio-pci';
        d.netInterfaces = [];
      }
    }
  }
  // A few free VFs left on vfio-pci and listed under `release`: the plan returns them to the host.
  const release = pools.vf82599.splice(0, 4);
  for (const a of release) {
    const d = byAddress.get(a);
    if (d) {
      d.driver = 'vfio-pci';
      d.netInterfaces = [];
    }
  }
  return { devices, domains, release, protect: ['0000:00:1f.6', '0000:00:17.0'], parents };
}

/** @param {string} s */
const xmlEscape = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/'/g, '&apos;');

/** `<address .../>` of a canonical function address. @param {string} a @param {string} [type] */
function addressElement(a, type) {
  const [dom = '', bus = '', slotFn = ''] = a.split(':');
  const [slot = '', fn = ''] = slotFn.split('.');
  return `<address${type ? ` type='${type}'` : ''} domain='0x${dom}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/>`;
}

/**
 * A domain's XML as `virsh dumpxml` prints it (trimmed to what matters, plus the usual devices around it).
 * @param {DomainSpec} d
 * @param {{ type?: string, runstate?: boolean }} [o] `runstate`: the test driver's marker of a shut-off domain
 */
export function domainXml(d, o = {}) {
  const lines = [
    `<domain type='${o.type ?? 'kvm'}'>`,
    `  <name>${xmlEscape(d.name)}</name>`,
    `  <uuid>${d.uuid}</uuid>`,
    `  <memory unit='KiB'>8388608</memory>`,
    `  <currentMemory unit='KiB'>8388608</currentMemory>`,
    `  <vcpu placement='static'>4</vcpu>`,
    `  <os>`,
    `    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>`,
    `    <boot dev='hd'/>`,
    `  </os>`,
    `  <features>`,
    `    <acpi/>`,
    `    <apic/>`,
    `  </features>`,
    `  <cpu mode='host-passthrough' check='none' migratable='on'/>`,
    `  <clock offset='utc'/>`,
    `  <on_poweroff>destroy</on_poweroff>`,
    `  <on_reboot>restart</on_reboot>`,
    `  <on_crash>destroy</on_crash>`,
    `  <devices>`,
    `    <emulator>/usr/bin/qemu-system-x86_64</emulator>`,
    `    <disk type='file' device='disk'>`,
    `      <driver name='qemu' type='qcow2'/>`,
    `      <source file='/var/lib/libvirt/images/${xmlEscape(d.name)}.qcow2'/>`,
    `      <target dev='vda' bus='virtio'/>`,
    `    </disk>`,
    ...d.nics.flatMap((n) => [
      `    <interface type='${n.type}'>`,
      `      <mac address='${n.mac}'/>`,
      `      <source ${n.type === 'bridge' ? 'bridge' : 'network'}='${n.source}'/>`,
      `      <model type='virtio'/>`,
      `    </interface>`,
    ]),
    ...d.hostdevs
      .filter((h) => h.source === 'interface')
      .flatMap((h) => [
        `    <interface type='hostdev' managed='${h.managed ? 'yes' : 'no'}'>`,
        `      <mac address='${h.mac}'/>`,
        `      <source>`,
        `        ${addressElement(h.address, 'pci')}`,
        `      </source>`,
        `    </interface>`,
      ]),
    `    <serial type='pty'>`,
    `      <target type='isa-serial' port='0'/>`,
    `    </serial>`,
    ...d.hostdevs
      .filter((h) => h.source === 'hostdev')
      .flatMap((h) => [
        `    <hostdev mode='subsystem' type='pci' managed='${h.managed ? 'yes' : 'no'}'>`,
        `      <source>`,
        `        ${addressElement(h.address)}`,
        `      </source>`,
        `    </hostdev>`,
      ]),
    `    <memballoon model='virtio'/>`,
    `  </devices>`,
    ...(o.runstate ? [`  <test:runstate>5</test:runstate>`] : []),
    `</domain>`,
  ];
  return lines.join('\n') + '\n';
}

/** A YAML scalar that never needs thinking about: always double-quoted. @param {string} s */
const q = (s) => JSON.stringify(s);

/**
 * The `passthrough.yaml` of the world: every domain listed with its claims.
 * @param {World} world
 */
export function desiredYaml(world) {
  const out = ['# yaml-language-server: $schema=../schemas/passthrough.schema.json', 'version: 1', 'vms:'];
  for (const d of world.domains) {
    out.push(`  ${q(d.name)}:`);
    if (d.live) out.push('    live: true');
    out.push('    devices:');
    if (d.claims.length === 0) out[out.length - 1] += ' []';
    for (const c of d.claims) {
      if (c.match) {
        out.push(`      - match: { vendor: ${q(c.match.vendor)}, product: ${q(c.match.product)} }`);
        out.push(`        count: ${c.count ?? 1}`);
      } else {
        out.push(`      - address: ${q(c.address ?? '')}`);
        if (c.expect) out.push(`        expect: { vendor: ${q(c.expect.vendor)}, product: ${q(c.expect.product)} }`);
      }
      if (c.managed === false) out.push('        managed: false');
    }
    if (d.removeBridge) out.push('    removeInterfaces:', '      - { type: bridge, source: br0 }');
  }
  /** A list of addresses under `key`, `[]` when empty (a larger world has handed out every VF it could release). */
  const addresses = (/** @type {string} */ key, /** @type {string[]} */ list) =>
    list.length === 0 ? [`${key}: []`] : [`${key}:`, ...list.map((a) => `  - { address: ${q(a)} }`)];
  out.push(...addresses('release', world.release), ...addresses('protect', world.protect));
  return out.join('\n') + '\n';
}

/**
 * A libvirt test-driver file (`test:///ABS/PATH/node.xml`) holding the world's domains; shut-off ones carry
 * `<test:runstate>5</test:runstate>`.
 * @param {World} world
 */
export function testDriverXml(world) {
  const body = world.domains.map((d) =>
    domainXml(d, { type: 'test', runstate: !d.running })
      .split('\n')
      .map((l) => (l === '' ? l : `  ${l}`))
      .join('\n'),
  );
  return `<node xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>\n${body.join('')}</node>\n`;
}
