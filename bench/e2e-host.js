// @ts-check
/**
 * The end-to-end benchmark's world on disk: the synthetic host (bench/synthetic.js) written as a sysfs tree the way
 * the kernel lays it out — by test/helpers/fake-host.ts, the same writer the tests use (device directories nested
 * under their bridges, relative links, IOMMU groups, `physfn`/`virtfnN`, netdevs, disks, mounts, pci.ids) — plus
 * the test-driver XML of its domains and its passthrough.yaml. `passthru plan --root TREE -c test:///NODE.xml`
 * reads it as it reads a real host.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'rolldown';
import { buildWorld, desiredYaml, testDriverXml } from './synthetic.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * @typedef {object} HostOnDisk
 * @property {string} root the fake host's root (`--root`)
 * @property {string} uri `test:///.../node.xml`
 * @property {string} desiredFile passthrough.yaml
 * @property {string[]} uuids every domain's UUID
 * @property {boolean[]} running whether each domain (same order) runs
 * @property {string[]} addresses every PCI function's address
 * @property {string} summary one line: what was generated
 */

/**
 * What the benchmark uses of test/helpers/fake-host.ts (TypeScript: bundled to plain JS first).
 * @typedef {{
 *   fakeHost: () => FakeHostBuilder,
 * }} FakeHostModule
 * @typedef {{
 *   device: (spec: object) => FakeHostBuilder,
 *   vfio: (state: string) => FakeHostBuilder,
 *   cmdline: (text: string) => FakeHostBuilder,
 *   pciIds: (text: string | null) => FakeHostBuilder,
 *   mount: (source: string, target: string) => FakeHostBuilder,
 *   defaultRoute: (iface: string) => FakeHostBuilder,
 *   address: (iface: string, cidr: string) => FakeHostBuilder,
 *   build: (parent?: string) => Promise<string>,
 * }} FakeHostBuilder
 */

/** @type {Map<string, Promise<FakeHostModule>>} */
const fakeHostModules = new Map();

/**
 * test/helpers/fake-host.ts as an ES module in `dir` (rolldown, a dev dependency, as scripts/bundle-cli.js uses it),
 * bundled once per directory.
 * @param {string} dir
 * @returns {Promise<FakeHostModule>}
 */
function loadFakeHost(dir) {
  const loaded = fakeHostModules.get(dir) ?? bundleFakeHost(dir);
  fakeHostModules.set(dir, loaded);
  return loaded;
}

/** @param {string} dir @returns {Promise<FakeHostModule>} */
async function bundleFakeHost(dir) {
  const file = path.join(dir, 'fake-host.mjs');
  await build({
    input: path.join(here, '../test/helpers/fake-host.ts'),
    platform: 'node',
    logLevel: 'warn',
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    output: { file, format: 'esm' },
  });
  return import(pathToFileURL(file).href);
}

/** The host's pci.ids: this machine's (1.3 MB on Debian, what a real host parses) when it has one. */
function hostPciIds() {
  for (const f of ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids']) if (existsSync(f)) return readFileSync(f, 'utf8');
  return null;
}

/**
 * Generates the world of `functions` PCI functions and `vms` domains under `parent` (a new directory).
 * @param {string} parent
 * @param {{ functions: number, vms: number }} size
 * @returns {Promise<HostOnDisk>}
 */
export async function writeHostOnDisk(parent, size) {
  const dir = await mkdtemp(path.join(parent, `e2e-${size.functions}-`));
  const { fakeHost } = await loadFakeHost(parent);
  const world = buildWorld(size);
  const pciIds = hostPciIds();
  const host = fakeHost()
    .vfio('loaded')
    .cmdline('BOOT_IMAGE=/vmlinuz-6.1.0-27-amd64 root=/dev/sda2 ro quiet intel_iommu=on iommu=pt')
    .pciIds(pciIds)
    .mount('/dev/sda2', '/')
    .mount('/dev/nvme0n1p1', '/var/lib/libvirt')
    .defaultRoute('eno1')
    .address('eno1', '10.0.0.5/24')
    .address('ens0f0', '10.20.0.11/24');
  let nvmes = 0;
  for (const d of world.devices) {
    // The host-critical controllers carry what synthetic.js says the host uses them for; other NVMe drives on
    // their host driver have an empty disk, as an unused drive has.
    const mounted = d.hostUse.find((u) => u.kind === 'mount')?.detail ?? '';
    /** @type {{ name: string, partitions?: string[] }[]} */
    const disks = mounted.startsWith('/dev/sda')
      ? [{ name: 'sda', partitions: ['sda1', 'sda2'] }]
      : mounted.startsWith('/dev/nvme0n1')
        ? [{ name: 'nvme0n1', partitions: ['nvme0n1p1'] }]
        : d.driver === 'nvme'
          ? [{ name: `nvme${++nvmes}n1` }]
          : [];
    host.device({
      address: d.address,
      vendor: d.vendor,
      device: d.product,
      class: d.class,
      driver: d.driver,
      group: d.iommuGroup,
      parentBridge: world.parents.get(d.address),
      net: d.netInterfaces,
      disks,
      bootVga: d.hostUse.some((u) => u.kind === 'boot-vga'),
      ...(d.physFunction === null ? {} : { physfn: d.physFunction }),
    });
  }
  const root = await host.build(dir);
  const nodeXml = path.join(dir, 'node.xml');
  writeFileSync(nodeXml, testDriverXml(world));
  const desiredFile = path.join(dir, 'passthrough.yaml');
  const yaml = desiredYaml(world);
  writeFileSync(desiredFile, yaml);
  const vfs = world.devices.filter((d) => d.physFunction !== null).length;
  const pfs = world.devices.filter((d) => d.virtualFunctions.length > 0).length;
  const segments = new Set(world.devices.map((d) => d.address.slice(0, 4))).size;
  const running = world.domains.filter((d) => d.running).length;
  return {
    root,
    uri: `test://${nodeXml}`,
    desiredFile,
    uuids: world.domains.map((d) => d.uuid),
    running: world.domains.map((d) => d.running),
    addresses: world.devices.map((d) => d.address),
    summary:
      `${world.devices.length} functions (${pfs} SR-IOV PFs, ${vfs} VFs, ${world.parents.size} behind bridges, ` +
      `${segments} PCI segments), ${world.domains.length} domains (${running} running), passthrough.yaml ` +
      `${yaml.split('\n').length - 1} lines (${(yaml.length / 1024).toFixed(0)} KiB)` +
      `${pciIds === null ? ', no pci.ids' : `, pci.ids ${(pciIds.length / 2 ** 20).toFixed(1)} MB`}`,
  };
}
