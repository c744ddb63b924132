/**
 * Fake host trees for tests: lays out `sys/`, `proc/`, `dev/`, `lib/modules/` and `usr/share/misc/pci.ids` in a
 * temp dir exactly as the kernel does — real device directories under `sys/devices/pci0000:00/...`, and RELATIVE
 * symlinks computed the way the kernel prints them (`iommu_group -> ../../../../kernel/iommu_groups/17`) — so that
 * `--root <tree>` exercises the same code paths as the real `/`.
 *
 * Mutation helpers (`bind`, `setDriverOverride`) only ever touch a tree that `build()` made: they refuse any root
 * without the marker file, so a mistake cannot write to this machine's /sys.
 */
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, realpath, rename, rm, symlink, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { canonicalAddress, pciFunction } from '../../src/model/pci-address.js';

const posix = path.posix;

/** Marker written at the root of every built tree; mutation helpers refuse a root without it. */
export const FAKE_HOST_MARKER = '.passthru-fake-host';

/** A disk behind a storage controller (`nvme0n1`, `sda`, `vda`), with its partitions. */
export interface FakeDisk {
  name: string;
  partitions?: string[];
}

/** One PCI function of the fake host. */
export interface FakeDeviceSpec {
  /** Any accepted spelling; canonicalised. */
  address: string;
  /** Hex without `0x`: `8086`. */
  vendor: string;
  device: string;
  /** 6 hex digits: `020000`. */
  class: string;
  /** Bound driver, or null/absent for none. */
  driver?: string | null;
  /** `driver_override` content; absent/null → `(null)`. */
  driverOverride?: string | null;
  /** IOMMU group; null/absent → no `iommu_group` link. */
  group?: number | null;
  /** The bridge/root port this function sits behind (its directory nests under the bridge's, like the kernel's). */
  parentBridge?: string;
  /** Network interfaces of this function. */
  net?: string[];
  /** Disks behind this controller; the layout follows the name (nvme*, sd*, vd*). */
  disks?: FakeDisk[];
  /** For a VGA function (class 03xx): the `boot_vga` value. */
  bootVga?: boolean;
  /** This is an SR-IOV VF of that PF (`physfn`; the PF gets `virtfnN`). */
  physfn?: string;
  /**
   * This is an SR-IOV PF with these `sriov_*` attributes (its `sriov_numvfs` counts the VFs declared with `physfn`).
   * Its VFs are laid out by offset and stride, as the kernel does, by {@link fakeKernelSetNumVfs}.
   */
  sriov?: FakeSriov;
  /** virtio-pci nests netdevs/disks one level down, in `virtioN/`. */
  virtio?: number;
  /** Secondary bus of a bridge (`pci_bus/DDDD:BB`); default: the bus of its first child, else its own bus + 1. */
  secondaryBus?: number;
  /** Leave `driver_override` out (kernels before 3.16). */
  noDriverOverride?: boolean;
}

/** A fake PF's SR-IOV capability. */
export interface FakeSriov {
  totalVfs: number;
  offset: number;
  stride: number;
  /** The VFs' device ID: `sriov_vf_device`. */
  vfDevice: string;
}

/** A virtual interface stacked on others. */
interface VirtualNet {
  name: string;
  kind: 'bridge' | 'bond' | 'vlan';
  lowers: string[];
}

interface Route4 {
  iface: string;
  dest: string;
  gateway: string;
  mask: string;
  flags: number;
  metric: number;
}

interface Addr4 {
  iface: string;
  address: string;
  prefix: number;
}

interface Addr6 {
  iface: string;
  /** 32 hex digits. */
  hex: string;
  prefix: number;
  scope: number;
}

/** Where vfio-pci is: loaded module, built in, loadable module not loaded, or not shipped. */
export type FakeVfio = 'loaded' | 'builtin' | 'module' | 'absent';

interface Platform {
  dmar: boolean;
  ivrs: boolean;
  groups: boolean;
  cmdline: string;
  cpu: 'intel' | 'amd';
  virtFlag: boolean;
  selinux: { enforce: 0 | 1; virtUseSysfs: 0 | 1 | null } | null;
  vfio: FakeVfio;
  devVfio: boolean;
  devKvm: boolean;
  /** IR in effect (IR- chips in /proc/interrupts) and the DMAR unit's ecap IR bit. */
  interruptRemapping: boolean;
  irCapable: boolean;
  osrelease: string;
  pciIds: string | null;
}

const h2 = (n: number) => n.toString(16).padStart(2, '0');

/** IPv4 text → the 8 hex digits /proc/net/route prints (little-endian word). */
function routeHex(ip: string): string {
  return ip
    .split('.')
    .reverse()
    .map((o) => h2(Number(o)).toUpperCase())
    .join('');
}

function maskOf(prefix: number): string {
  const n = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff].join('.');
}

function networkOf(ip: string, prefix: number): string {
  const m = maskOf(prefix).split('.').map(Number);
  return ip
    .split('.')
    .map((o, i) => Number(o) & (m[i] as number))
    .join('.');
}

function broadcastOf(ip: string, prefix: number): string {
  const m = maskOf(prefix).split('.').map(Number);
  return ip
    .split('.')
    .map((o, i) => (Number(o) | (~(m[i] as number) & 0xff)) & 0xff)
    .join('.');
}

/** Expands an IPv6 text address to 32 hex digits. */
function ipv6Hex(text: string): string {
  const [head = '', tail] = text.split('::');
  const a = head === '' ? [] : head.split(':');
  const b = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? a : [...a, ...Array<string>(8 - a.length - b.length).fill('0'), ...b];
  return groups.map((g) => g.padStart(4, '0')).join('').toLowerCase();
}

/**
 * The target text of a symlink at `link` pointing to `target` (both host paths), as sysfs writes it
 * (kernfs_get_target_path): climb from the link's directory to the nearest STRICT ancestor of the target, then
 * descend. So a netdev's `device` link reads `../../../0000:07:00.0`, not `../..`.
 */
export function kernelLinkText(link: string, target: string): string {
  const from = posix.dirname(link).split('/').filter(Boolean);
  const to = target.split('/').filter(Boolean);
  let i = 0;
  while (i < from.length && i < to.length - 1 && from[i] === to[i]) i++;
  return '../'.repeat(from.length - i) + to.slice(i).join('/');
}

/** Builder of a fake host tree. Every method returns the builder; `build()` writes it. */
export class FakeHost {
  private readonly devices = new Map<string, FakeDeviceSpec>();
  private readonly virtualNets: VirtualNet[] = [];
  private readonly routes: Route4[] = [];
  private readonly addrs4: Addr4[] = [];
  private readonly addrs6: Addr6[] = [];
  private readonly defaults6: { iface: string; gateway: string }[] = [];
  private readonly mounts: { source: string; target: string; fstype: string }[] = [];
  private readonly swaps: { filename: string; type: string }[] = [];
  private readonly dms: { node: string; name: string; slaves: string[] }[] = [];
  private readonly platform: Platform = {
    dmar: true,
    ivrs: false,
    groups: true,
    cmdline: 'BOOT_IMAGE=/vmlinuz-5.14.0-362.el9.x86_64 root=UUID=5d6c1a4e-0000-4000-8000-000000000001 ro quiet intel_iommu=on',
    cpu: 'intel',
    virtFlag: true,
    selinux: null,
    vfio: 'module',
    devVfio: false,
    devKvm: true,
    interruptRemapping: true,
    irCapable: true,
    osrelease: '5.14.0-362.el9.x86_64',
    pciIds: null,
  };

  /** Adds (or replaces) a PCI function. */
  device(spec: FakeDeviceSpec): this {
    const address = canonicalAddress(spec.address);
    this.devices.set(address, { ...spec, address });
    return this;
  }

  /** Changes fields of a function already added (e.g. a seed host with one device rebound). */
  update(address: string, patch: Partial<FakeDeviceSpec>): this {
    const a = canonicalAddress(address);
    const d = this.devices.get(a);
    if (!d) throw new Error(`fake host: no device ${a}`);
    this.devices.set(a, { ...d, ...patch, address: a });
    return this;
  }

  /** Removes a function. */
  remove(address: string): this {
    this.devices.delete(canonicalAddress(address));
    return this;
  }

  /** A Linux bridge with these ports (each port gets `master`/`upper_`/`brport`, the bridge `brif/` and `lower_`). */
  bridge(name: string, ports: string[]): this {
    this.virtualNets.push({ name, kind: 'bridge', lowers: ports });
    return this;
  }

  /** A bond of these slaves (`bonding/slaves`, `lower_*`; each slave `master`/`upper_*`). */
  bond(name: string, slaves: string[]): this {
    this.virtualNets.push({ name, kind: 'bond', lowers: slaves });
    return this;
  }

  /** A VLAN interface on `lower` (`lower_*` only; a VLAN is not the lower's master). */
  vlan(name: string, lower: string): this {
    this.virtualNets.push({ name, kind: 'vlan', lowers: [lower] });
    return this;
  }

  /** An IPv4 address (`10.0.0.5/24`): a connected route in /proc/net/route and a LOCAL leaf in fib_trie. */
  address(iface: string, cidr: string): this {
    const [ip = '', p = '24'] = cidr.split('/');
    const prefix = Number(p);
    this.addrs4.push({ iface, address: ip, prefix });
    if (prefix < 32) {
      this.routes.push({ iface, dest: networkOf(ip, prefix), gateway: '0.0.0.0', mask: maskOf(prefix), flags: 0x1, metric: 0 });
    }
    return this;
  }

  /** An IPv6 address (`2001:db8::5/64`), global scope unless it is link-local. */
  address6(iface: string, cidr: string): this {
    const [ip = '', p = '64'] = cidr.split('/');
    const hex = ipv6Hex(ip);
    this.addrs6.push({ iface, hex, prefix: Number(p), scope: hex.startsWith('fe80') ? 0x20 : 0 });
    return this;
  }

  /** The IPv4 default route via `gateway` on `iface`. */
  defaultRoute(iface: string, gateway = '10.0.0.1'): this {
    this.routes.unshift({ iface, dest: '0.0.0.0', gateway, mask: '0.0.0.0', flags: 0x3, metric: 100 });
    return this;
  }

  /** The IPv6 default route on `iface`. */
  defaultRoute6(iface: string, gateway = 'fe80::1'): this {
    this.defaults6.push({ iface, gateway });
    return this;
  }

  /** A mounted filesystem (`/dev/nvme0n1p2` on `/`). */
  mount(source: string, target: string, fstype = 'ext4'): this {
    this.mounts.push({ source, target, fstype });
    return this;
  }

  /** An active swap area. */
  swap(filename: string, type: 'partition' | 'file' = 'partition'): this {
    this.swaps.push({ filename, type });
    return this;
  }

  /** A device-mapper device (`dm-0` named `vg-root`, an LVM LV) on these block devices. */
  deviceMapper(node: string, name: string, slaves: string[]): this {
    this.dms.push({ node, name, slaves });
    return this;
  }

  /** IOMMU platform: ACPI tables and whether the kernel made groups (`groups: false` = IOMMU off). */
  iommu(options: { dmar?: boolean; ivrs?: boolean; groups?: boolean }): this {
    Object.assign(this.platform, Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)));
    return this;
  }

  /** The kernel command line (`proc/cmdline`). */
  cmdline(text: string): this {
    this.platform.cmdline = text;
    return this;
  }

  /** CPU vendor and whether its virtualisation flag (vmx/svm) is listed. */
  cpu(vendor: 'intel' | 'amd', virtFlag = true): this {
    this.platform.cpu = vendor;
    this.platform.virtFlag = virtFlag;
    return this;
  }

  /** SELinux (`sys/fs/selinux`), or null for none; `virtUseSysfs: null` = a policy without the boolean. */
  selinux(state: { enforce: 0 | 1; virtUseSysfs: 0 | 1 | null } | null): this {
    this.platform.selinux = state;
    return this;
  }

  /** vfio-pci availability, and whether /dev/vfio/vfio exists (default: when loaded or built in). */
  vfio(state: FakeVfio, devVfio = state === 'loaded' || state === 'builtin'): this {
    this.platform.vfio = state;
    this.platform.devVfio = devVfio;
    return this;
  }

  /** Interrupt remapping: in effect (IR- chips in /proc/interrupts) and supported by the DMAR unit's ecap. */
  interruptRemapping(enabled: boolean, capable = enabled): this {
    this.platform.interruptRemapping = enabled;
    this.platform.irCapable = capable;
    return this;
  }

  /** Whether /dev/kvm exists. */
  kvm(present: boolean): this {
    this.platform.devKvm = present;
    return this;
  }

  /** `proc/sys/kernel/osrelease`. */
  kernelRelease(release: string): this {
    this.platform.osrelease = release;
    return this;
  }

  /** Contents of `usr/share/misc/pci.ids`, or null for none. */
  pciIds(text: string | null): this {
    this.platform.pciIds = text;
    return this;
  }

  /**
   * driverctl installed (`usr/sbin/driverctl`, a stand-in that only fails, and its udev rule) with these overrides
   * persisted (`etc/driverctl.d/pci-ADDR`), as SPEC 10 observes them. Steps that run driverctl need the scripted one
   * (fake-driverctl/) as PASSTHRU_DRIVERCTL.
   */
  driverctl(overrides: Record<string, string> = {}): this {
    this.persisted = overrides;
    return this;
  }

  private persisted: Record<string, string> | null = null;

  /** Writes the tree into a new temp dir (under `parent`: a tmpfs is fastest for big trees) and returns its path. */
  async build(parent = tmpdir()): Promise<string> {
    const root = await mkdtemp(path.join(parent, 'passthru-fakehost-'));
    await new TreeWriter(root, this.snapshotSpec()).write();
    if (this.persisted !== null) {
      const files: [string, string][] = [
        ['usr/sbin/driverctl', '#!/bin/sh\necho "driverctl: the fake host\'s stand-in does not run" >&2\nexit 1\n'],
        ['usr/lib/udev/rules.d/89-driverctl.rules', '# driverctl\n'],
        ...Object.entries(this.persisted).map(([a, driver]): [string, string] => [`etc/driverctl.d/pci-${canonicalAddress(a)}`, `${driver}\n`]),
      ];
      for (const [rel, content] of files) {
        await mkdir(path.dirname(path.join(root, rel)), { recursive: true });
        await writeFile(path.join(root, rel), content);
      }
    }
    return root;
  }

  private snapshotSpec(): TreeSpec {
    return {
      devices: [...this.devices.values()],
      virtualNets: this.virtualNets,
      routes: this.routes,
      addrs4: this.addrs4,
      addrs6: this.addrs6,
      defaults6: this.defaults6,
      mounts: this.mounts,
      swaps: this.swaps,
      dms: this.dms,
      platform: this.platform,
    };
  }
}

interface TreeSpec {
  devices: FakeDeviceSpec[];
  virtualNets: VirtualNet[];
  routes: Route4[];
  addrs4: Addr4[];
  addrs6: Addr6[];
  defaults6: { iface: string; gateway: string }[];
  mounts: { source: string; target: string; fstype: string }[];
  swaps: { filename: string; type: string }[];
  dms: { node: string; name: string; slaves: string[] }[];
  platform: Platform;
}

/** Writes one tree. Paths are host paths (`/sys/...`) joined under the root. */
class TreeWriter {
  private readonly devPaths = new Map<string, string>();
  private readonly netDirs = new Map<string, string>();
  private readonly blockDirs = new Map<string, string>();
  private readonly blockNumbers = new Map<string, string>();
  private readonly minors = new Map<number, number>();
  /** 1 is lo's, as on a real host. */
  private ifindex = 2;
  private readonly ifindexes = new Map<string, number>();

  private readonly byAddress: Map<string, FakeDeviceSpec>;

  constructor(
    private readonly root: string,
    private readonly spec: TreeSpec,
  ) {
    this.byAddress = new Map(spec.devices.map((d) => [d.address, d]));
  }

  private local(p: string) {
    return path.join(this.root, p);
  }

  // Synchronous, and each directory made once: a tree of thousands of functions is written in seconds, not minutes.
  private readonly made = new Set<string>();

  private mkdirOnce(local: string) {
    if (this.made.has(local)) return;
    mkdirSync(local, { recursive: true });
    this.made.add(local);
  }

  private async file(p: string, content: string) {
    this.mkdirOnce(path.dirname(this.local(p)));
    writeFileSync(this.local(p), content);
  }

  private async dir(p: string) {
    this.mkdirOnce(this.local(p));
  }

  /** A symlink at host path `link` to host path `target`, relative like the kernel's. */
  private async link(link: string, target: string) {
    this.mkdirOnce(path.dirname(this.local(link)));
    symlinkSync(kernelLinkText(link, target), this.local(link));
  }

  private children: Map<string, FakeDeviceSpec> | null = null;

  /** The first function behind each bridge, by the bridge's address. */
  private firstChild(): Map<string, FakeDeviceSpec> {
    if (this.children === null) {
      this.children = new Map();
      for (const c of this.spec.devices) {
        const parent = c.parentBridge === undefined ? undefined : canonicalAddress(c.parentBridge);
        if (parent !== undefined && !this.children.has(parent)) this.children.set(parent, c);
      }
    }
    return this.children;
  }

  private devicePath(address: string, seen = new Set<string>()): string {
    const cached = this.devPaths.get(address);
    if (cached) return cached;
    if (seen.has(address)) throw new Error(`fake host: bridge loop at ${address}`);
    seen.add(address);
    const d = this.byAddress.get(address);
    let p: string;
    if (d?.parentBridge) {
      p = `${this.devicePath(canonicalAddress(d.parentBridge), seen)}/${address}`;
    } else {
      p = `/sys/devices/pci${address.slice(0, 7)}/${address}`;
    }
    this.devPaths.set(address, p);
    return p;
  }

  private blockNumber(major: number): string {
    const minor = this.minors.get(major) ?? 0;
    this.minors.set(major, minor + (major === 8 ? 16 : 1));
    return `${major}:${minor}`;
  }

  async write(): Promise<void> {
    const { platform } = this.spec;
    await this.file(`/${FAKE_HOST_MARKER}`, 'built by test/helpers/fake-host.ts\n');
    for (const d of ['/sys/bus/pci/devices', '/sys/bus/pci/drivers', '/sys/kernel/iommu_groups', '/sys/class/net', '/sys/class/block', '/sys/class/iommu', '/sys/module', '/dev']) {
      await this.dir(d);
    }
    await this.writeDevices();
    await this.writeNet();
    await this.writeBlock();
    await this.writePlatform(platform);
  }

  private async writeDevices() {
    const devices = this.spec.devices;
    const vfIndex = new Map<string, number>();
    for (const d of devices) {
      const p = this.devicePath(d.address);
      const cls = d.class.toLowerCase().padStart(6, '0');
      await this.file(`${p}/vendor`, `0x${d.vendor.toLowerCase()}\n`);
      await this.file(`${p}/device`, `0x${d.device.toLowerCase()}\n`);
      await this.file(`${p}/class`, `0x${cls}\n`);
      await this.file(`${p}/subsystem_vendor`, `0x${d.vendor.toLowerCase()}\n`);
      await this.file(`${p}/enable`, '1\n');
      await this.file(`${p}/numa_node`, '0\n');
      if (!d.noDriverOverride) await this.file(`${p}/driver_override`, `${d.driverOverride ?? '(null)'}\n`);
      if (cls.startsWith('03')) await this.file(`${p}/boot_vga`, d.bootVga ? '1\n' : '0\n');
      await this.link(`${p}/subsystem`, '/sys/bus/pci');
      await this.link(`/sys/bus/pci/devices/${d.address}`, p);
      if (d.driver) await this.bindDriver(d.address, p, d.driver);
      if (d.group !== undefined && d.group !== null && this.spec.platform.groups) {
        const g = `/sys/kernel/iommu_groups/${d.group}`;
        if (!this.made.has(this.local(g))) {
          await this.file(`${g}/type`, 'DMA\n');
          await this.file(`${g}/reserved_regions`, '0x00000000fee00000 0x00000000feefffff msi\n');
        }
        await this.link(`${g}/devices/${d.address}`, p);
        await this.link(`${p}/iommu_group`, g);
      }
      if (d.physfn) {
        const pf = canonicalAddress(d.physfn);
        const n = vfIndex.get(pf) ?? 0;
        vfIndex.set(pf, n + 1);
        await this.link(`${p}/physfn`, this.devicePath(pf));
        await this.link(`${this.devicePath(pf)}/virtfn${n}`, p);
      }
      const isBridge = /^060[479]/.test(cls);
      if (isBridge) {
        const child = this.firstChild().get(d.address);
        const own = pciFunction(d.address);
        const bus = d.secondaryBus ?? (child ? pciFunction(child.address).bus : own.bus + 1);
        await this.dir(`${p}/pci_bus/${d.address.slice(0, 4)}:${h2(bus)}`);
      }
      const sub = d.virtio === undefined ? p : `${p}/virtio${d.virtio}`;
      for (const ifname of d.net ?? []) {
        const nd = `${sub}/net/${ifname}`;
        await this.netdev(ifname, nd);
        await this.link(`${nd}/device`, d.virtio === undefined ? p : sub);
      }
      for (const disk of d.disks ?? []) await this.disk(disk, p, sub);
    }
    for (const d of devices.filter((f) => f.sriov !== undefined && !vfIndex.has(f.address))) vfIndex.set(d.address, 0);
    for (const [pf, n] of vfIndex) {
      const p = this.devicePath(pf);
      const sriov = this.byAddress.get(pf)?.sriov;
      await this.file(`${p}/sriov_numvfs`, `${n}\n`);
      await this.file(`${p}/sriov_totalvfs`, `${sriov?.totalVfs ?? Math.max(n, 7)}\n`);
      if (sriov) {
        await this.file(`${p}/sriov_offset`, `${sriov.offset}\n`);
        await this.file(`${p}/sriov_stride`, `${sriov.stride}\n`);
        await this.file(`${p}/sriov_vf_device`, `${sriov.vfDevice}\n`);
      }
    }
  }

  private async bindDriver(address: string, devPath: string, driver: string) {
    const drv = `/sys/bus/pci/drivers/${driver}`;
    if (!this.made.has(this.local(drv))) for (const f of ['bind', 'unbind', 'new_id']) await this.file(`${drv}/${f}`, '');
    await this.link(`${drv}/${address}`, devPath);
    await this.link(`${devPath}/driver`, drv);
  }

  private async netdev(name: string, dir: string) {
    this.netDirs.set(name, dir);
    const index = name === 'lo' ? 1 : this.ifindex++;
    this.ifindexes.set(name, index);
    await this.file(`${dir}/ifindex`, `${index}\n`);
    await this.file(`${dir}/address`, `52:54:00:00:00:${h2(index)}\n`);
    await this.file(`${dir}/operstate`, 'up\n');
    await this.link(`/sys/class/net/${name}`, dir);
  }

  private async blockdev(name: string, dir: string, major: number, partition?: number) {
    this.blockDirs.set(name, dir);
    const num = this.blockNumber(major);
    this.blockNumbers.set(name, num);
    await this.file(`${dir}/dev`, `${num}\n`);
    await this.file(`${dir}/size`, '1000215216\n');
    if (partition !== undefined) await this.file(`${dir}/partition`, `${partition}\n`);
    await this.link(`/sys/class/block/${name}`, dir);
  }

  private async disk(disk: FakeDisk, devPath: string, sub: string) {
    let diskDir: string;
    let major: number;
    if (disk.name.startsWith('nvme')) {
      const ctrl = /^(nvme\d+)/.exec(disk.name)?.[1] ?? 'nvme0';
      await this.file(`${devPath}/nvme/${ctrl}/model`, 'Samsung SSD 970 EVO Plus 1TB\n');
      diskDir = `${devPath}/nvme/${ctrl}/${disk.name}`;
      major = 259;
    } else if (disk.name.startsWith('sd')) {
      diskDir = `${devPath}/ata1/host0/target0:0:0/0:0:0:0/block/${disk.name}`;
      major = 8;
    } else {
      diskDir = `${sub}/block/${disk.name}`;
      major = 252;
    }
    await this.blockdev(disk.name, diskDir, major);
    let n = 1;
    for (const part of disk.partitions ?? []) await this.blockdev(part, `${diskDir}/${part}`, major, n++);
  }

  private async writeNet() {
    await this.netdev('lo', '/sys/devices/virtual/net/lo');
    for (const v of this.spec.virtualNets) await this.netdev(v.name, `/sys/devices/virtual/net/${v.name}`);
    for (const v of this.spec.virtualNets) {
      const upper = this.netDirs.get(v.name) as string;
      if (v.kind === 'bridge') await this.dir(`${upper}/bridge`);
      if (v.kind === 'bond') await this.file(`${upper}/bonding/slaves`, `${v.lowers.join(' ')}\n`);
      for (const port of v.lowers) {
        const lower = this.netDirs.get(port);
        if (!lower) throw new Error(`fake host: ${v.name} stacks on unknown interface ${port}`);
        await this.link(`${upper}/lower_${port}`, lower);
        await this.link(`${lower}/upper_${v.name}`, upper);
        if (v.kind !== 'vlan') await this.link(`${lower}/master`, upper);
        if (v.kind === 'bridge') {
          await this.dir(`${lower}/brport`);
          await this.link(`${upper}/brif/${port}`, `${lower}/brport`);
        }
      }
    }

    const { routes, addrs4, addrs6, defaults6 } = this.spec;
    const hdr = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT                                                       \n';
    const routeLines = routes.map(
      (r) =>
        `${r.iface}\t${routeHex(r.dest)}\t${routeHex(r.gateway)}\t${r.flags.toString(16).padStart(4, '0').toUpperCase()}\t0\t0\t${r.metric}\t${routeHex(r.mask)}\t0\t0\t0                                                                               \n`,
    );
    await this.file('/proc/net/route', hdr + routeLines.join(''));

    // fib_trie: a flattened but well-formed trie; each table lists the same leaves, as the kernel's does.
    const leaves = new Map<string, string[]>();
    const leaf = (ip: string, line: string) => leaves.set(ip, [...(leaves.get(ip) ?? []), line]);
    if (routes.some((r) => r.dest === '0.0.0.0' && r.mask === '0.0.0.0')) leaf('0.0.0.0', '/0 universe UNICAST');
    leaf('127.0.0.0', '/8 host LOCAL');
    leaf('127.0.0.1', '/32 host LOCAL');
    leaf('127.255.255.255', '/32 link BROADCAST');
    for (const a of addrs4) {
      if (a.prefix < 32) leaf(networkOf(a.address, a.prefix), `/${a.prefix} link UNICAST`);
      leaf(a.address, '/32 host LOCAL');
      if (a.prefix < 31) leaf(broadcastOf(a.address, a.prefix), '/32 link BROADCAST');
    }
    const ipNum = (ip: string) => ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    const sorted = [...leaves.entries()].sort((a, b) => ipNum(a[0]) - ipNum(b[0]));
    const table = sorted.map(([ip, lines]) => `     |-- ${ip}\n${lines.map((l) => `        ${l}\n`).join('')}`).join('');
    const trie = `  +-- 0.0.0.0/0 3 0 5\n${table}`;
    await this.file('/proc/net/fib_trie', `Main:\n${trie}Local:\n${trie}`);

    const idx = (iface: string) => h2(this.ifindexes.get(iface) ?? 0);
    const inet6: string[] = ['00000000000000000000000000000001 01 80 10 80       lo'];
    const linkLocal = new Set([...addrs4.map((a) => a.iface), ...addrs6.map((a) => a.iface)]);
    let ll = 1;
    for (const iface of linkLocal) inet6.push(`fe80000000000000000000fffe0000${h2(ll++)} ${idx(iface)} 40 20 80 ${iface.padStart(8)}`);
    for (const a of addrs6) inet6.push(`${a.hex} ${idx(a.iface)} ${h2(a.prefix)} ${h2(a.scope)} 80 ${a.iface.padStart(8)}`);
    await this.file('/proc/net/if_inet6', `${inet6.join('\n')}\n`);

    const zero = '0'.repeat(32);
    const r6: string[] = [];
    for (const d of defaults6) r6.push(`${zero} 00 ${zero} 00 ${ipv6Hex(d.gateway)} 00000400 00000001 00000000 00000003 ${d.iface.padStart(8)}`);
    r6.push(`${zero} 00 ${zero} 00 ${zero} ffffffff 00000001 00000000 00200200       lo`);
    await this.file('/proc/net/ipv6_route', `${r6.join('\n')}\n`);
  }

  private async writeBlock() {
    for (const dm of this.spec.dms) {
      const dir = `/sys/devices/virtual/block/${dm.node}`;
      await this.blockdev(dm.node, dir, 253);
      await this.file(`${dir}/dm/name`, `${dm.name}\n`);
      await this.file(`${dir}/dm/uuid`, `LVM-${dm.name}\n`);
      for (const s of dm.slaves) {
        const sd = this.blockDirs.get(s);
        if (!sd) throw new Error(`fake host: ${dm.node} on unknown block device ${s}`);
        await this.link(`${dir}/slaves/${s}`, sd);
        await this.link(`${sd}/holders/${dm.node}`, dir);
      }
    }
    const pseudo = [
      { source: 'proc', target: '/proc', fstype: 'proc' },
      { source: 'sysfs', target: '/sys', fstype: 'sysfs' },
      { source: 'devtmpfs', target: '/dev', fstype: 'devtmpfs' },
      { source: 'tmpfs', target: '/run', fstype: 'tmpfs' },
    ];
    // Every host has something on /: a diskless one (or a fake without disks) a tmpfs.
    if (!this.spec.mounts.some((m) => m.target === '/')) pseudo.unshift({ source: 'none', target: '/', fstype: 'tmpfs' });
    const all = [...pseudo, ...this.spec.mounts];
    const esc = (s: string) => s.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
    await this.file('/proc/mounts', all.map((m) => `${esc(m.source)} ${esc(m.target)} ${m.fstype} rw,relatime 0 0\n`).join(''));
    let anon = 20;
    const info = all.map((m, i) => {
      const dev = m.source.startsWith('/dev/mapper/')
        ? this.blockNumbers.get(this.spec.dms.find((d) => `/dev/mapper/${d.name}` === m.source)?.node ?? '')
        : this.blockNumbers.get(posix.basename(m.source));
      return `${i + 20} 1 ${dev ?? `0:${anon++}`} / ${esc(m.target)} rw,relatime shared:${i + 1} - ${m.fstype} ${esc(m.source)} rw\n`;
    });
    await this.file('/proc/self/mountinfo', info.join(''));
    await this.file(
      '/proc/swaps',
      `Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n${this.spec.swaps.map((s) => `${esc(s.filename)}\t\t\t\t${s.type}\t8388604\t\t0\t\t-2\n`).join('')}`,
    );
  }

  private async writePlatform(p: Platform) {
    await this.file('/proc/cmdline', `${p.cmdline}\n`);
    // A running host has processes: init, holding nothing of a PCI device (device-busy scans /proc/*/fd).
    await this.file('/proc/1/comm', 'systemd\n');
    await mkdir(this.local('/proc/1/fd'), { recursive: true });
    await symlink('/dev/null', this.local('/proc/1/fd/0'));
    await this.file('/proc/sys/kernel/osrelease', `${p.osrelease}\n`);
    const vendor = p.cpu === 'intel' ? 'GenuineIntel' : 'AuthenticAMD';
    const flag = p.virtFlag ? (p.cpu === 'intel' ? ' vmx' : ' svm') : '';
    const cpu = (n: number) =>
      `processor\t: ${n}\nvendor_id\t: ${vendor}\ncpu family\t: 6\nmodel name\t: Fake CPU\n` +
      `flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov${flag} sse sse2 ht x2apic\n\n`;
    await this.file('/proc/cpuinfo', cpu(0) + cpu(1));

    const chip = p.interruptRemapping ? 'IR-' : '';
    await this.file(
      '/proc/interrupts',
      '           CPU0       CPU1       \n' +
        `  0:         40          0  ${chip}IO-APIC    2-edge      timer\n` +
        `  8:          0          0  ${chip}IO-APIC    8-edge      rtc0\n` +
        ` 24:          0          0  DMAR-MSI    0-edge      dmar0\n` +
        ` 25:       1200          0  ${chip}PCI-MSIX-0000:00:1f.6    0-edge      eth0\n` +
        'NMI:          0          0   Non-maskable interrupts\n',
    );

    for (const t of ['APIC', 'DSDT', 'FACP', 'MCFG', ...(p.dmar ? ['DMAR'] : []), ...(p.ivrs ? ['IVRS'] : [])]) {
      await this.file(`/sys/firmware/acpi/tables/${t}`, '');
    }
    if (p.dmar && p.groups) {
      const unit = '/sys/devices/virtual/iommu/dmar0';
      await this.file(`${unit}/intel-iommu/cap`, 'd2008c40660462\n');
      await this.file(`${unit}/intel-iommu/ecap`, p.irCapable ? 'f050da\n' : 'f050d2\n');
      await this.link('/sys/class/iommu/dmar0', unit);
    }
    if (p.ivrs && p.groups) {
      const unit = '/sys/devices/pci0000:00/0000:00:00.2/iommu/ivhd0';
      await this.file(`${unit}/amd-iommu/features`, '58f77ef22294ade\n');
      await this.link('/sys/class/iommu/ivhd0', unit);
    }

    if (p.selinux) {
      await this.file('/sys/fs/selinux/enforce', `${p.selinux.enforce}`);
      if (p.selinux.virtUseSysfs !== null) {
        await this.file('/sys/fs/selinux/booleans/virt_use_sysfs', `${p.selinux.virtUseSysfs} ${p.selinux.virtUseSysfs}`);
      }
    }

    const modules = `/lib/modules/${p.osrelease}`;
    const vfioDep = 'kernel/drivers/vfio/pci/vfio-pci.ko.xz: kernel/drivers/vfio/pci/vfio-pci-core.ko.xz kernel/drivers/vfio/vfio.ko.xz\n';
    const otherDep = 'kernel/drivers/net/ethernet/intel/igb/igb.ko.xz: kernel/drivers/dca/dca.ko.xz\n';
    await this.file(`${modules}/modules.dep`, otherDep + (p.vfio === 'module' || p.vfio === 'loaded' ? vfioDep : ''));
    await this.file(`${modules}/modules.builtin`, `kernel/drivers/pci/pcieport.ko\n${p.vfio === 'builtin' ? 'kernel/drivers/vfio/pci/vfio-pci.ko\n' : ''}`);
    if (p.vfio === 'loaded' || p.vfio === 'builtin') {
      await this.file('/sys/module/vfio_pci/parameters/ids', '\n');
      if (p.vfio === 'loaded') await this.file('/sys/module/vfio_pci/initstate', 'live\n');
      await this.file('/sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts', 'N\n');
    }
    if (p.devVfio) await this.file('/dev/vfio/vfio', '');
    if (p.devKvm) await this.file('/dev/kvm', '');
    if (p.pciIds !== null) await this.file('/usr/share/misc/pci.ids', p.pciIds);
  }
}

/** A new, empty fake host (Intel, VT-d on, vfio-pci available as a module, no devices). */
export function fakeHost(): FakeHost {
  return new FakeHost();
}

/** Refuses anything but a tree that `build()` made: the guard that keeps mutations off this machine's /sys. */
async function assertFakeRoot(root: string): Promise<string> {
  const abs = path.resolve(root);
  if (abs === path.parse(abs).root) throw new Error(`refusing to modify ${abs}: not a fake host tree`);
  try {
    await access(path.join(abs, FAKE_HOST_MARKER));
  } catch {
    throw new Error(`refusing to modify ${abs}: no ${FAKE_HOST_MARKER} marker, not a tree built by fake-host.ts`);
  }
  return abs;
}

/** Host path of a device's directory in a fake tree, checked to stay inside it. */
async function fakeDevicePath(root: string, address: string): Promise<string> {
  const a = canonicalAddress(address);
  const real = await realpath(path.join(root, 'sys/bus/pci/devices', a));
  const rel = path.relative(root, real);
  if (rel.startsWith('..') || path.isAbsolute(rel)) throw new Error(`fake host: ${a} resolves outside the tree`);
  return `/${rel.split(path.sep).join('/')}`;
}

/**
 * Rebinds a device in a fake tree, as the kernel's unbind + bind would: moves the `driver` link and the driver
 * directory's entry. `driver: null` leaves it unbound. For scripted fake virsh (nodedev-detach/reattach).
 */
export async function bind(root: string, address: string, driver: string | null): Promise<void> {
  const abs = await assertFakeRoot(root);
  const a = canonicalAddress(address);
  const dev = await fakeDevicePath(abs, a);
  const driverLink = path.join(abs, dev, 'driver');
  const old = await readlink(driverLink).catch(() => null);
  if (old !== null) {
    await rm(path.join(abs, 'sys/bus/pci/drivers', posix.basename(old), a), { force: true });
    await rm(driverLink, { force: true });
  }
  if (driver === null) return;
  const drv = `/sys/bus/pci/drivers/${driver}`;
  await mkdir(path.join(abs, drv), { recursive: true });
  for (const f of ['bind', 'unbind', 'new_id']) await writeFile(path.join(abs, drv, f), '', { flag: 'a' });
  await symlink(kernelLinkText(`${drv}/${a}`, dev), path.join(abs, drv, a));
  await symlink(kernelLinkText(`${dev}/driver`, drv), driverLink);
}

/** Writes a device's `driver_override` in a fake tree (null → `(null)`), as `nodedev-detach` does. */
export async function setDriverOverride(root: string, address: string, value: string | null): Promise<void> {
  const abs = await assertFakeRoot(root);
  const dev = await fakeDevicePath(abs, address);
  await writeFile(path.join(abs, dev, 'driver_override'), `${value ?? '(null)'}\n`);
}

/** Replaces the entry `rel` (root-relative) of a fake tree by a symlink to itself: a loop (ELOOP when followed). */
export async function loopLink(root: string, rel: string): Promise<void> {
  const abs = await assertFakeRoot(root);
  await rm(path.join(abs, rel));
  await symlink(posix.basename(rel), path.join(abs, rel));
}

/** Deletes the entry `rel` (root-relative) of a fake tree, whatever it is. */
export async function removeEntry(root: string, rel: string): Promise<void> {
  await rm(path.join(await assertFakeRoot(root), rel), { recursive: true });
}

/**
 * Turns the seed host's NVMe (01:00.0) into a native-multipath one: nvme0n1 and its partition nvme0n1p2 become a
 * namespace head under /sys/devices/virtual/nvme-subsystem/nvme-subsys0, which links to its controller nvme0; `/` is
 * mounted from nvme0n1p2.
 */
export async function nvmeMultipath(root: string): Promise<void> {
  const abs = await assertFakeRoot(root);
  const subsys = '/sys/devices/virtual/nvme-subsystem/nvme-subsys0';
  const ctrl = '/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/nvme/nvme0';
  await mkdir(path.join(abs, subsys, 'nvme0n1/nvme0n1p2'), { recursive: true });
  await writeFile(path.join(abs, subsys, 'nvme0n1/nvme0n1p2/partition'), '2\n');
  await symlink(posix.relative(subsys, ctrl), path.join(abs, subsys, 'nvme0'));
  for (const b of ['nvme0n1', 'nvme0n1p2']) await rm(path.join(abs, 'sys/class/block', b));
  await symlink('../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1', path.join(abs, 'sys/class/block/nvme0n1'));
  await symlink('../../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1/nvme0n1p2', path.join(abs, 'sys/class/block/nvme0n1p2'));
  await writeFile(path.join(abs, 'proc/mounts'), '/dev/nvme0n1p2 / xfs rw 0 0\n');
}

/** Deletes a fake tree (guarded like the mutations). */
export async function removeFakeHost(root: string): Promise<void> {
  await rm(await assertFakeRoot(root), { recursive: true, force: true });
}

/** The few pci.ids entries of the seed host, so that names show up in plans made against it. */
export const SEED_PCI_IDS = `# pci.ids excerpt for passthru tests
8086  Intel Corporation
\t1521  I350 Gigabit Network Connection
\t\t8086 0001  Ethernet Server Adapter I350-T4
\t15bb  Ethernet Connection (7) I219-LM
\t3e92  CoffeeLake-S GT2 [UHD Graphics 630]
\t3ec2  8th Gen Core Processor Host Bridge/DRAM Registers
\t1901  6th-10th Gen Core Processor PCIe Controller (x16)
\ta290  200 Series PCH PCI Express Root Port #1
144d  Samsung Electronics Co Ltd
\ta808  NVMe SSD Controller SM981/PM981/PM983
ffff  Illegal Vendor ID

# List of known device classes, subclasses and programming interfaces
C 02  Network controller
\t00  Ethernet controller
`;

/**
 * The seed runbook's host: Intel I350 dual port 07:00.0 (igb, group 17, eth1) and 07:00.1 (igb, group 18, eth2 —
 * ACS, separate groups) behind root port 00:1c.0 (group 16); management NIC 00:1f.6 (e1000e, eth0, 10.0.0.5/24 and
 * the default route); NVMe 01:00.0 (group 1, shared with its root port 00:01.0, a bridge) with `/` on nvme0n1p2 and
 * `/boot/efi` on nvme0n1p1; boot GPU 00:02.0 (i915, boot_vga, group 2); host bridge 00:00.0 (group 0, no driver).
 * VT-d on (DMAR, `intel_iommu=on`, interrupt remapping), vfio-pci loaded, /dev/vfio present, SELinux enforcing with
 * virt_use_sysfs on: every doctor check passes. Returns the builder, so tests can change it before `build()`.
 */
export function seedHost(): FakeHost {
  return fakeHost()
    .device({ address: '0000:00:00.0', vendor: '8086', device: '3ec2', class: '060000', group: 0 })
    .device({ address: '0000:00:01.0', vendor: '8086', device: '1901', class: '060400', driver: 'pcieport', group: 1 })
    .device({
      address: '0000:01:00.0',
      vendor: '144d',
      device: 'a808',
      class: '010802',
      driver: 'nvme',
      group: 1,
      parentBridge: '0000:00:01.0',
      disks: [{ name: 'nvme0n1', partitions: ['nvme0n1p1', 'nvme0n1p2'] }],
    })
    .device({ address: '0000:00:02.0', vendor: '8086', device: '3e92', class: '030000', driver: 'i915', group: 2, bootVga: true })
    .device({ address: '0000:00:1c.0', vendor: '8086', device: 'a290', class: '060400', driver: 'pcieport', group: 16 })
    .device({ address: '0000:00:1f.6', vendor: '8086', device: '15bb', class: '020000', driver: 'e1000e', group: 12, net: ['eth0'] })
    .device({
      address: '0000:07:00.0',
      vendor: '8086',
      device: '1521',
      class: '020000',
      driver: 'igb',
      group: 17,
      parentBridge: '0000:00:1c.0',
      net: ['eth1'],
    })
    .device({
      address: '0000:07:00.1',
      vendor: '8086',
      device: '1521',
      class: '020000',
      driver: 'igb',
      group: 18,
      parentBridge: '0000:00:1c.0',
      net: ['eth2'],
    })
    .address('eth0', '10.0.0.5/24')
    .defaultRoute('eth0', '10.0.0.1')
    .mount('/dev/nvme0n1p2', '/', 'xfs')
    .mount('/dev/nvme0n1p1', '/boot/efi', 'vfat')
    .selinux({ enforce: 1, virtUseSysfs: 1 })
    .vfio('loaded')
    .pciIds(SEED_PCI_IDS);
}

/** The seed host with 07:00.1 in 07:00.0's IOMMU group 17 (no ACS between the I350's two ports), still on igb. */
export function sharedGroupHost(): FakeHost {
  return seedHost().update('0000:07:00.1', { group: 17 });
}

/** 07:00.1's directory in a tree of {@link sharedGroupHost}. */
const DEV_07_00_1 = 'sys/devices/pci0000:00/0000:00:1c.0/0000:07:00.1';

/**
 * The ways issue 9 (defect 4) broke 07:00.1's own entries in a tree of {@link sharedGroupHost} while
 * `/sys/kernel/iommu_groups/17/devices` still lists it: [what, edit of a built tree].
 */
export const BROKEN_SIBLING_ENTRIES: [string, (root: string) => Promise<void>][] = [
  ['its iommu_group link deleted', (root) => removeEntry(root, `${DEV_07_00_1}/iommu_group`)],
  ['its iommu_group link a loop', (root) => loopLink(root, `${DEV_07_00_1}/iommu_group`)],
  ['its /sys/bus/pci/devices entry deleted', (root) => removeEntry(root, 'sys/bus/pci/devices/0000:07:00.1')],
  ['its /sys/bus/pci/devices entry a loop', (root) => loopLink(root, 'sys/bus/pci/devices/0000:07:00.1')],
];

/** The seed host with the IOMMU off: no DMAR table, no `intel_iommu=on`, hence no IOMMU groups. */
export function iommuOffHost(): FakeHost {
  return seedHost()
    .iommu({ dmar: false, ivrs: false, groups: false })
    .cmdline('BOOT_IMAGE=/vmlinuz-5.14.0-362.el9.x86_64 root=UUID=5d6c1a4e-0000-4000-8000-000000000001 ro quiet')
    .interruptRemapping(false);
}

/**
 * The fake kernel's side of a write to a PF's `sriov_numvfs` (drivers/pci/iov.c): removes every VF of the PF,
 * then creates `n` — each a directory beside the PF's at the address its `sriov_offset`/`sriov_stride` give, with
 * vendor, device (`sriov_vf_device`), class, a `physfn` link, the PF's `virtfnN` link and an IOMMU group of its
 * own — and records `n` in `sriov_numvfs`. Tests call it (or let a watcher call it) where the real kernel would
 * act on its own, some time after the write.
 */
export async function fakeKernelSetNumVfs(root: string, pf: string, n: number): Promise<string[]> {
  const abs = await assertFakeRoot(root);
  const pfDir = await fakeDevicePath(abs, pf);
  const read = async (name: string) => (await readFile(path.join(abs, pfDir, name), 'utf8')).trim();
  // The count first, replaced whole (a sysfs read is atomic), so that the last change to the tree is the last link:
  // whoever waits for the links never races a late write of the count.
  const numvfs = path.join(abs, pfDir, 'sriov_numvfs');
  await writeFile(`${numvfs}.new`, `${n}\n`);
  await rename(`${numvfs}.new`, numvfs);
  const [offset, stride, vfDevice, vendor, cls] = (await Promise.all(['sriov_offset', 'sriov_stride', 'sriov_vf_device', 'vendor', 'class'].map(read))) as [string, string, string, string, string];
  for (const entry of await readdir(path.join(abs, pfDir))) {
    if (!/^virtfn\d+$/.test(entry)) continue;
    const vf = posix.basename(await readlink(path.join(abs, pfDir, entry)));
    const vfDir = await fakeDevicePath(abs, vf);
    const group = await readlink(path.join(abs, vfDir, 'iommu_group')).catch(() => null);
    if (group !== null) await rm(path.join(abs, 'sys/kernel/iommu_groups', posix.basename(group)), { recursive: true, force: true });
    await rm(path.join(abs, 'sys/bus/pci/devices', vf), { force: true });
    await rm(path.join(abs, vfDir), { recursive: true, force: true });
    await rm(path.join(abs, pfDir, entry), { force: true });
  }
  const groups = await readdir(path.join(abs, 'sys/kernel/iommu_groups'));
  let nextGroup = Math.max(-1, ...groups.map(Number).filter(Number.isInteger)) + 1;
  const a = pciFunction(pf);
  const created: string[] = [];
  for (let i = 0; i < n; i++) {
    const routing = (a.bus << 8) + ((a.slot << 3) | (a.fn ?? 0)) + Number(offset) + Number(stride) * i;
    const vf = `${pf.slice(0, 4)}:${h2(routing >> 8)}:${h2((routing & 0xff) >> 3)}.${routing & 7}`;
    const vfDir = `${posix.dirname(pfDir)}/${vf}`;
    const put = async (name: string, content: string) => {
      await mkdir(path.join(abs, vfDir), { recursive: true });
      await writeFile(path.join(abs, vfDir, name), content);
    };
    await put('vendor', `${vendor}\n`);
    await put('device', `0x${vfDevice.replace(/^0x/, '')}\n`);
    await put('class', `${cls}\n`);
    await put('driver_override', '(null)\n');
    const ln = async (link: string, target: string) => {
      await mkdir(path.join(abs, posix.dirname(link)), { recursive: true });
      await symlink(kernelLinkText(link, target), path.join(abs, link));
    };
    await ln(`${vfDir}/physfn`, pfDir);
    await ln(`${pfDir}/virtfn${i}`, vfDir);
    await ln(`/sys/bus/pci/devices/${vf}`, vfDir);
    const g = `/sys/kernel/iommu_groups/${nextGroup++}`;
    await ln(`${g}/devices/${vf}`, vfDir);
    await ln(`${vfDir}/iommu_group`, g);
    created.push(vf);
  }
  return created;
}

/** The lab's emulated SR-IOV NIC: an igb (82576) PF at 0000:01:00.0 — 7 VFs at most, offset 128, stride 2, VFs 8086:10ca. */
export function sriovHost(): FakeHost {
  return fakeHost()
    .device({ address: '0000:00:00.0', vendor: '8086', device: '29c0', class: '060000', group: 0 })
    .device({
      address: '0000:01:00.0',
      vendor: '8086',
      device: '10c9',
      class: '020000',
      driver: 'igb',
      group: 1,
      net: ['enp1s0'],
      sriov: { totalVfs: 7, offset: 128, stride: 2, vfDevice: '10ca' },
    });
}
