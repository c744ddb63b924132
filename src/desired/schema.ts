/**
 * Checks the plain data of passthrough.yaml against `schemas/passthrough.schema.json` — the same file editors use
 * — and turns ajv's errors into diagnostics a person can act on: each names the key or value at fault, says what is
 * wrong and what to write instead. PCI addresses are also range-checked here, which a pattern cannot do cleanly.
 */
import type { InputDiagnostic } from '../errors.js';
import { MAX_FINDINGS } from './input-limits.js';
import { pointerPath } from './json-source.js';
import { parsePciAddress } from '../model/pci-address.js';
import { validatePassthrough } from '../schemas/passthrough.validate.js';
import type { SchemaError } from '../schemas/validator.js';
import { showString } from './show.js';
import { closestMatch } from './suggest.js';
import { describePath, locate } from './source.js';
import { checkLibvirtUri, URI_HINT } from './uri.js';
import type { PathSegment, Target, YamlSource } from './source.js';

/** What a schema error says, before it is given a position. */
interface Finding {
  path: PathSegment[];
  target: Target;
  message: string;
  hint?: string;
  /** For a missing key: its name. For an unknown key: the allowed key it is probably a typo of. */
  missing?: string;
  typoOf?: string;
  /** The character of a string value at fault, when there is one. */
  charIndex?: number;
}

/**
 * Validates `value` (the YAML as plain data) and returns one diagnostic per problem (the first `MAX_FINDINGS`
 * found, roughly in file order), each at the YAML node it is about. Empty when the data has the shape SPEC 1 describes and
 * every address is in range.
 */
export function schemaDiagnostics(source: YamlSource, value: unknown): InputDiagnostic[] {
  const findings: Finding[] = [];
  const badAddressSpelling = new Set<string>();
  if (!validatePassthrough(value)) {
    for (const error of validatePassthrough.errors ?? []) {
      if (findings.length >= MAX_FINDINGS) break;
      // Errors inside `propertyNames` are restated, with the offending name, by the `propertyNames` error itself.
      if (error.propertyName !== undefined) continue;
      const path = pointerPath(value, error.instancePath);
      if (error.keyword === 'pattern' && isAddressPath(path)) {
        badAddressSpelling.add(JSON.stringify(path));
        continue;
      }
      // The pattern only screens characters (for editors); uriFindings says what is wrong, and where.
      if (error.keyword === 'pattern' && isUriPath(path)) continue;
      const finding = explain(error, path);
      if (finding) findings.push(finding);
    }
  }
  const all = findings.concat(addressFindings(value, badAddressSpelling), uriFindings(value)).slice(0, MAX_FINDINGS);
  return withoutTypoEchoes(all).map((f) => ({
    ...locate(source, f.path, f.target, f.charIndex),
    message: f.message,
    hint: f.hint,
  }));
}

// `adress:` makes both "unknown key adress" and "missing key address"; the first, with its "did you mean", says
// it all.
function withoutTypoEchoes(findings: Finding[]): Finding[] {
  const typos = new Set(
    findings.filter((f) => f.typoOf).map((f) => JSON.stringify([...f.path.slice(0, -1), f.typoOf])),
  );
  return findings.filter((f) => !f.missing || !typos.has(JSON.stringify([...f.path, f.missing])));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// Names under hosts and vms are the user's; everything else in a path is one of the schema's property names.
function propertyName(path: readonly PathSegment[]): string | null {
  const last = path[path.length - 1];
  if (typeof last !== 'string') return null;
  if (path.length === 2 && (path[0] === 'hosts' || path[0] === 'vms')) return null;
  return last;
}

function isAddressPath(path: readonly PathSegment[]): boolean {
  const [top, , field, , deviceField, inner] = path;
  if ((top === 'release' || top === 'protect') && path.length === 3) return field === 'address';
  if (top === 'sriov' && path.length === 3) return field === 'pf';
  if (top !== 'vms' || field !== 'devices') return false;
  // A device's address, or the PF of `vf: { pf }` / `match: { pf }`.
  return path.length === 5 ? deviceField === 'address' : path.length === 6 && (deviceField === 'vf' || deviceField === 'match') && inner === 'pf';
}

function isUriPath(path: readonly PathSegment[]): boolean {
  return path.length === 3 && path[0] === 'hosts' && path[2] === 'uri';
}

function describeValue(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${showString(value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return String(value);
}

const TYPE_WORDS: Record<string, string> = {
  boolean: 'true or false',
  integer: 'a whole number',
  number: 'a number',
  string: 'a string',
  array: 'a list',
  object: 'a mapping',
};

const EXAMPLES = {
  address: '"0000:07:00.0"',
  identity: '{ vendor: "8086", product: "1521" }',
} as const;

const MISSING_HINTS: Record<string, string> = {
  version: 'add "version: 1" as the first line',
  uri: 'add uri: qemu:///system for this machine, or uri: qemu+ssh://root@HOST/system for a remote one',
  devices: 'add devices: with the PCI devices of this VM (devices: [] removes all its passthrough devices)',
  vendor: 'add vendor: as `lspci -nn` shows it: [8086:1521] is vendor "8086", product "1521"',
  product: 'add product: as `lspci -nn` shows it: [8086:1521] is vendor "8086", product "1521"',
  type: 'add type: bridge (or network, direct, user, ...) as the domain XML has it in <interface type=...>',
  pf: 'add pf: with the PCI address of the SR-IOV physical function, e.g. pf: "0000:3b:00.0"',
  index: 'add index: with the VF\'s number N (the PF\'s virtfnN link), from 0',
  numVfs: 'add numVfs: with how many VFs the PF gets (0 for none)',
};

const RANGE_HINTS: Record<string, string> = {
  count: 'count is how many matching devices to pass through; to pass through none, remove the entry',
  vlan: 'an 802.1Q VLAN ID is 0-4095; leave vlan out for untagged traffic',
  index: 'VFs are numbered from 0, as the PF\'s virtfn0, virtfn1, ... links are',
  numVfs: 'numVfs is how many VFs the PF gets, 0 for none; the PF\'s sriov_totalvfs is the most it can have',
};

function explain(error: SchemaError, path: PathSegment[]): Finding | null {
  const schema = (error.parentSchema ?? {}) as { description?: string; properties?: Record<string, unknown> };
  const where = describePath(path);
  const name = propertyName(path);
  switch (error.keyword) {
    case 'additionalProperties':
      return unknownKey(path, String(error.params.additionalProperty), Object.keys(schema.properties ?? {}));
    case 'required':
      return missingKey(path, String(error.params.missingProperty));
    case 'type':
      return wrongType(path, name, error.data, error.params.type as string | string[], schema.properties ?? {});
    case 'const':
      return {
        path,
        target: 'value',
        message: `${where} must be ${JSON.stringify(error.params.allowedValue)}, not ${describeValue(error.data)}`,
        hint: 'this passthru reads version 1 files; if the file was written for a newer passthru, upgrade passthru',
      };
    case 'minimum':
    case 'maximum':
      return {
        path,
        target: 'value',
        message: `${where} must be at ${error.keyword === 'minimum' ? 'least' : 'most'} ${String(error.params.limit)}, not ${describeValue(error.data)}`,
        hint: name === null ? schema.description : (RANGE_HINTS[name] ?? schema.description),
      };
    case 'minLength':
      return { path, target: 'value', message: `${where} must not be empty`, hint: schema.description };
    case 'pattern':
      return badPattern(path, name, error.data);
    case 'propertyNames':
      return badName(path, String(error.params.propertyName));
    case 'if':
      // It only repeats that its `then`/`else` branch failed, which that branch's own errors already say.
      return null;
    default:
      return { path, target: 'value', message: `${where} ${error.message ?? 'is invalid'}`, hint: schema.description };
  }
}

function unknownKey(path: PathSegment[], key: string, allowed: string[]): Finding {
  const at = [...path, key];
  const inWhere = path.length === 0 ? 'at the top level' : `in ${describePath(path)}`;
  const isDevice = path[0] === 'vms' && path[2] === 'devices' && path.length === 4;
  if (isDevice && allowed.includes('match') && (key === 'address' || key === 'expect')) {
    return {
      path: at,
      target: 'key',
      message:
        key === 'address'
          ? `${describePath(path)} has both address and match; a device is claimed by one or the other`
          : `expect in ${describePath(path)} guards an address claim; match already selects by vendor/product`,
      hint:
        key === 'address'
          ? 'keep address to claim that exact device, or match to let passthru pick devices by vendor/product'
          : 'remove expect',
    };
  }
  if (isDevice && allowed.includes('address') && key === 'count') {
    return {
      path: at,
      target: 'key',
      message: `count in ${describePath(path)} only applies to a match selector, not to an address`,
      hint: `remove count, or replace address with match: ${EXAMPLES.identity}`,
    };
  }
  const suggestion = closestMatch(key, allowed);
  return {
    path: at,
    target: 'key',
    message: `unknown key "${key}" ${inWhere}${suggestion ? `; did you mean "${suggestion}"?` : ''}`,
    hint: allowed.length > 0 ? `allowed keys here: ${allowed.join(', ')}` : 'remove it',
    ...(suggestion ? { typoOf: suggestion } : {}),
  };
}

function missingKey(path: PathSegment[], key: string): Finding {
  const inWhere = path.length === 0 ? 'at the top level' : `in ${describePath(path)}`;
  const isDevice = path[0] === 'vms' && path[2] === 'devices' && path.length === 4;
  let hint = MISSING_HINTS[key];
  if (key === 'address') {
    hint = isDevice
      ? `a device needs address: ${EXAMPLES.address}, or match: ${EXAMPLES.identity} to pick by ID`
      : `add address: ${EXAMPLES.address}`;
  }
  return { path, target: 'key', message: `missing key "${key}" ${inWhere}`, hint, missing: key };
}

function wrongType(
  path: PathSegment[],
  name: string | null,
  data: unknown,
  type: string | string[],
  properties: Record<string, unknown>,
): Finding {
  const where = describePath(path);
  if (name === 'vendor' || name === 'product') {
    return {
      path,
      target: 'value',
      message: `${where} must be 4 hex digits such as "8086", not ${describeValue(data)}`,
      hint: 'write the ID as `lspci -nn` shows it: [8086:1521] is vendor "8086", product "1521"',
    };
  }
  if (path.length === 0) {
    return {
      path,
      target: 'value',
      message: data === null ? 'the file is empty' : `the file must be a mapping of keys, not ${describeValue(data)}`,
      hint: 'start it with "version: 1"; see examples/ for a complete file',
    };
  }
  const types = Array.isArray(type) ? type : [type];
  const expected = types.map((t) => TYPE_WORDS[t] ?? t).join(' or ');
  const label = name ?? String(path[path.length - 1]);
  const quoted = typeof data === 'string' ? ' without quotes' : '';
  let hint: string;
  if (types.includes('boolean')) {
    hint = `write ${label}: true or ${label}: false${quoted}`;
  } else if (types.includes('integer')) {
    const digits = typeof data === 'string' && /^\d+$/.test(data.trim()) ? data.trim() : null;
    hint = digits ? `write ${label}: ${digits}${quoted}` : `write a whole number, e.g. ${label}: 2`;
  } else if (types.includes('array')) {
    hint = 'write one entry per line, each starting with "- " (or [] for none)';
  } else if (types.includes('object')) {
    hint =
      path[0] === 'hosts' && path.length === 2
        ? `write ${label}: { uri: ${JSON.stringify(data)} }`
        : `its keys are: ${Object.keys(properties).join(', ')}`;
  } else {
    hint = `write it in quotes: ${label}: "${String(data)}"`;
  }
  return { path, target: 'value', message: `${where} must be ${expected}, not ${describeValue(data)}`, hint };
}

function badPattern(path: PathSegment[], name: string | null, data: unknown): Finding {
  const where = describePath(path);
  const shown = typeof data === 'string' ? showString(data) : JSON.stringify(data);
  switch (name) {
    case 'vendor':
    case 'product':
      return {
        path,
        target: 'value',
        message: `${where} ${shown} is not a PCI ID: it must be 4 hex digits`,
        hint: 'write the ID as `lspci -nn` shows it: [8086:1521] is vendor "8086", product "1521"',
      };
    case 'mac':
      return {
        path,
        target: 'value',
        message: `${where} ${shown} is not a MAC address`,
        hint: 'write six hex pairs separated by ":", e.g. 52:54:00:12:34:56',
      };
    default:
      return { path, target: 'value', message: `${where} ${shown} is not valid here` };
  }
}

function badName(path: PathSegment[], name: string): Finding {
  const at = [...path, name];
  if (path[0] === 'hosts') {
    return {
      path: at,
      target: 'key',
      message: `host name ${showString(name)} is not usable`,
      hint: 'name hosts with letters, digits, "_", "." and "-", starting with a letter, digit or "_"',
    };
  }
  return {
    path: at,
    target: 'key',
    message: `${showString(name)} is not a libvirt domain name`,
    hint: 'libvirt domain names are not empty and contain no "/" and no control character',
  };
}

/** Every address string the file holds, with its path; the values of any other type are the schema's business. */
function addressValues(value: unknown): { path: PathSegment[]; text: string }[] {
  const found: { path: PathSegment[]; text: string }[] = [];
  if (!isRecord(value)) return found;
  const add = (path: PathSegment[], entry: unknown, key = 'address') => {
    const text = isRecord(entry) ? entry[key] : undefined;
    if (typeof text === 'string') found.push({ path: [...path, key], text });
  };
  if (isRecord(value.vms)) {
    for (const [vm, spec] of Object.entries(value.vms)) {
      if (isRecord(spec) && Array.isArray(spec.devices)) {
        spec.devices.forEach((device, i) => {
          const at: PathSegment[] = ['vms', vm, 'devices', i];
          add(at, device);
          // The PF of `vf: { pf, index }` and of `match: { pf }`.
          if (isRecord(device)) for (const key of ['vf', 'match'] as const) add([...at, key], device[key], 'pf');
        });
      }
    }
  }
  for (const list of ['release', 'protect'] as const) {
    const entries = value[list];
    if (Array.isArray(entries)) entries.forEach((entry, i) => add([list, i], entry));
  }
  if (Array.isArray(value.sriov)) value.sriov.forEach((entry, i) => add(['sriov', i], entry, 'pf'));
  return found;
}

/** Every `uri` string under hosts that is not a libvirt URI, pointing at the character at fault. */
function uriFindings(value: unknown): Finding[] {
  if (!isRecord(value) || !isRecord(value.hosts)) return [];
  return Object.entries(value.hosts).flatMap(([name, host]): Finding[] => {
    if (!isRecord(host) || typeof host.uri !== 'string') return [];
    const fault = checkLibvirtUri(host.uri);
    if (!fault) return [];
    const path = ['hosts', name, 'uri'];
    return [
      {
        path,
        target: 'value',
        charIndex: fault.index,
        message: `${describePath(path)} ${showString(host.uri)} is not a libvirt URI: ${fault.reason}`,
        hint: URI_HINT,
      },
    ];
  });
}

const ADDRESS_HINT =
  'addresses are hexadecimal [domain:]bus:slot[.function] as `lspci -D` prints them (slot 00-1f, function 0-7), ' +
  `e.g. ${EXAMPLES.address}, or "0000:01:00" for every function of a slot`;

function addressFindings(value: unknown, badSpelling: ReadonlySet<string>): Finding[] {
  const findings: Finding[] = [];
  for (const { path, text } of addressValues(value)) {
    const parsed = parsePciAddress(text);
    if (!parsed.ok) {
      findings.push({ path, target: 'value', message: `${describePath(path)}: ${parsed.reason}`, hint: ADDRESS_HINT });
    } else if (badSpelling.has(JSON.stringify(path))) {
      findings.push({
        path,
        target: 'value',
        message: `${describePath(path)}: ${JSON.stringify(text)} is not written as a PCI address passthru accepts`,
        hint: ADDRESS_HINT,
      });
    }
  }
  return findings;
}
