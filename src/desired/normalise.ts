/**
 * Turns what the user wrote (schema-valid, everything optional) into the `DesiredState` the planner reads: defaults
 * filled in, addresses and IDs canonical, every entry on a named host and carrying its source position. Host
 * references are resolved here because only here is it known which hosts exist.
 */
import { InternalError } from '../errors.js';
import type { InputDiagnostic } from '../errors.js';
import type {
  AddressClaim,
  DesiredHost,
  DesiredState,
  DesiredVm,
  DeviceClaim,
  DeviceIdentity,
  HostAddress,
  InterfaceSelector,
  SriovPf,
  VfInterface,
} from '../model/desired.js';
import { formatPciAddress, parsePciAddress } from '../model/pci-address.js';
import { closestMatch } from './suggest.js';
import { describePath, keysInOrder, locate } from './source.js';
import type { PathSegment, YamlSource } from './source.js';
import { isLocalUri } from './uri.js';

/** The host a file without `hosts:` describes (SPEC 1). */
export const DEFAULT_HOST: Readonly<DesiredHost> = { name: 'local', uri: 'qemu:///system', local: true };

// What a schema-valid file may hold; the schema has checked every type, so these casts only name the shape.
interface RawIdentity {
  vendor: string;
  product: string;
}
interface RawDevice {
  address?: string;
  expect?: RawIdentity;
  /** A vendor/product selector, or `{ pf }` for the VFs of one PF. */
  match?: RawIdentity | { pf: string };
  vf?: { pf: string; index: number };
  count?: number;
  interface?: { mac?: string; vlan?: number; trust?: boolean };
  managed?: boolean;
  force?: boolean;
}
interface RawVm {
  host?: string;
  live?: boolean;
  devices: RawDevice[];
  removeInterfaces?: { type: string; source?: string; mac?: string }[];
}
interface RawHostAddress {
  host?: string;
  address: string;
}
interface RawFile {
  version: 1;
  hosts?: Record<string, { uri: string }>;
  vms?: Record<string, RawVm>;
  release?: RawHostAddress[];
  protect?: RawHostAddress[];
  sriov?: { host?: string; pf: string; numVfs: number }[];
}

/**
 * Normalises a schema-valid file. Host references that cannot be resolved (undeclared host, or none given while
 * several are declared) are returned as diagnostics; their entries keep the host as written (or `''`), which names
 * no host in `state.hosts`, so later checks pass over them.
 */
export function normalise(source: YamlSource, value: unknown): { state: DesiredState; diagnostics: InputDiagnostic[] } {
  const raw = value as RawFile;
  const diagnostics: InputDiagnostic[] = [];
  const declared = keysInOrder(source, ['hosts']);
  const hosts: DesiredHost[] =
    declared.length === 0
      ? [{ ...DEFAULT_HOST }]
      : declared.map((name) => {
          const uri = (raw.hosts?.[name] as { uri: string }).uri;
          return { name, uri, local: isLocalUri(uri) };
        });
  const hostNames = hosts.map((h) => h.name);

  const resolveHost = (given: string | undefined, entryPath: PathSegment[]): string => {
    if (given === undefined) {
      if (hosts.length === 1) return (hosts[0] as DesiredHost).name;
      diagnostics.push({
        ...locate(source, entryPath, 'key'),
        message: `${describePath(entryPath)} does not say which host it is on, and ${hosts.length} hosts are declared`,
        hint: `add host: with one of ${hostNames.join(', ')}`,
      });
      return '';
    }
    if (hostNames.includes(given)) return given;
    const suggestion = closestMatch(given, hostNames);
    diagnostics.push({
      ...locate(source, [...entryPath, 'host'], 'value'),
      message: `${describePath(entryPath)} is on host "${given}", which is not declared under hosts${
        suggestion ? `; did you mean "${suggestion}"?` : ''
      }`,
      hint:
        declared.length === 0
          ? `declare it (hosts: { ${given}: { uri: qemu+ssh://root@${given}/system } }), ` +
            'or remove host: to use this machine'
          : `declared hosts: ${hostNames.join(', ')}; declare "${given}" under hosts, or use one of them`,
    });
    return given;
  };

  const vms: DesiredVm[] = keysInOrder(source, ['vms']).map((name) => {
    const vm = (raw.vms as Record<string, RawVm>)[name] as RawVm;
    const path = ['vms', name];
    return {
      name,
      host: resolveHost(vm.host, path),
      live: vm.live ?? false,
      devices: vm.devices.map((device, i) => claim(source, device, [...path, 'devices', i], diagnostics)),
      removeInterfaces: (vm.removeInterfaces ?? []).map(
        (nic, i): InterfaceSelector => ({
          type: nic.type,
          source: nic.source ?? null,
          mac: nic.mac?.toLowerCase() ?? null,
          pos: locate(source, [...path, 'removeInterfaces', i], 'key'),
        }),
      ),
      pos: locate(source, path, 'key'),
    };
  });

  const hostAddresses = (list: 'release' | 'protect'): HostAddress[] =>
    (raw[list] ?? []).map((entry, i) => ({
      host: resolveHost(entry.host, [list, i]),
      address: canonical(entry.address),
      pos: locate(source, [list, i], 'key'),
    }));

  const sriov = (raw.sriov ?? []).map(
    (entry, i): SriovPf => ({
      host: resolveHost(entry.host, ['sriov', i]),
      pf: physicalFunction(source, entry.pf, ['sriov', i, 'pf'], diagnostics),
      numVfs: entry.numVfs,
      pos: locate(source, ['sriov', i], 'key'),
    }),
  );
  const state: DesiredState = {
    file: source.file,
    hosts,
    vms,
    release: hostAddresses('release'),
    protect: hostAddresses('protect'),
    ...(raw.sriov === undefined ? {} : { sriov }),
  };
  return { state, diagnostics };
}

// Only called on addresses that passed the schema's range check.
function canonical(address: string): string {
  const parsed = parsePciAddress(address);
  if (!parsed.ok) throw new InternalError(`unchecked address reached normalisation: ${address}`);
  return formatPciAddress(parsed.address);
}

/** A VF's interface; a multicast MAC (the low bit of its first octet set) is refused: no NIC may take it as its own. */
function vfInterface(
  source: YamlSource,
  raw: NonNullable<RawDevice['interface']>,
  path: PathSegment[],
  diagnostics: InputDiagnostic[],
): VfInterface {
  // MACs compare as libvirt prints them: lowercase.
  const mac = raw.mac?.toLowerCase() ?? null;
  if (mac !== null && (Number.parseInt(mac.slice(0, 2), 16) & 1) === 1) {
    diagnostics.push({
      ...locate(source, [...path, 'mac'], 'value'),
      message: `${describePath([...path, 'mac'])} "${mac}" is a multicast address, which no NIC can have as its own`,
      hint: 'use a unicast MAC: the first octet even, e.g. 52:54:00:12:34:56 (52 = locally administered, unicast)',
    });
  }
  return { mac, vlan: raw.vlan ?? null, trust: raw.trust ?? false };
}

/** The canonical address of a PF as written at `path`; a whole slot is refused (a PF is one function). */
function physicalFunction(source: YamlSource, written: string, path: PathSegment[], diagnostics: InputDiagnostic[]): string {
  const address = canonical(written);
  if (!address.includes('.')) {
    diagnostics.push({
      ...locate(source, path, 'value'),
      message: `${describePath(path)} "${written}" is a whole slot; an SR-IOV physical function is one function`,
      hint: `write the PF's function too, e.g. "${address}.0"`,
    });
  }
  return address;
}

const identity = (raw: RawIdentity): DeviceIdentity => ({ vendor: pciId(raw.vendor), product: pciId(raw.product) });
const pciId = (text: string): string => text.replace(/^0[xX]/, '').toLowerCase();

function claim(
  source: YamlSource,
  device: RawDevice,
  path: PathSegment[],
  diagnostics: InputDiagnostic[],
): DeviceClaim {
  const base = {
    managed: device.managed ?? true,
    force: device.force ?? false,
    ...(device.interface ? { interface: vfInterface(source, device.interface, [...path, 'interface'], diagnostics) } : {}),
    pos: locate(source, path, 'key'),
  };
  if (device.match && 'pf' in device.match) {
    const pf = physicalFunction(source, device.match.pf, [...path, 'match', 'pf'], diagnostics);
    return { kind: 'vf-match', pf, count: device.count ?? 1, ...base };
  }
  if (device.match) return { kind: 'match', match: identity(device.match), count: device.count ?? 1, ...base };
  if (device.vf) {
    const pf = physicalFunction(source, device.vf.pf, [...path, 'vf', 'pf'], diagnostics);
    return { kind: 'vf', pf, index: device.vf.index, expect: null, ...base };
  }
  const result: AddressClaim = {
    kind: 'address',
    address: canonical(device.address as string),
    expect: device.expect ? identity(device.expect) : null,
    ...base,
  };
  if (result.expect && !result.address.includes('.')) {
    // The functions of one slot (a GPU and its audio) have different IDs, so a guard on the slot guards nothing.
    diagnostics.push({
      ...locate(source, [...path, 'expect'], 'key'),
      message:
        `${describePath(path)}: expect cannot guard a whole slot (${result.address}): ` +
        'its functions have different IDs',
      hint: `claim the function the IDs belong to (e.g. "${result.address}.0") with expect, and the others without`,
    });
  }
  return result;
}
