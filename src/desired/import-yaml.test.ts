import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { device, domain, hostdev, snapshot } from '../../test/helpers/builders.js';
import { importedDesiredYaml, IMPORTED_SCHEMA_PATH } from './import-yaml.js';
import { loadDesiredState } from './load.js';

// VM names a YAML 1.1 reader would turn into booleans, numbers or null, and one that is a plain word.
const NAMES = ['yes', 'no', 'On', 'null', '~', '1e3', '0x10', '07:00', '1.10', '012', 'rhel7.3'];
const host = snapshot(
  [device('0000:00:02.0', { hostUse: [{ kind: 'boot-vga', detail: 'boot VGA' }] }), ...NAMES.map((_, i) => device(`0000:0${i.toString(16)}:00.0`))],
  NAMES.map((name, i) => domain(name, { uuid: `00000000-0000-4000-8000-0000000000${i.toString().padStart(2, '0')}`, hostdevs: [hostdev(`0000:0${i.toString(16)}:00.0`)] })),
  { host: 'hv2', uri: 'qemu+ssh://root@hv2/system' },
);
const text = importedDesiredYaml([host], new Map([['hv2', 'qemu+ssh://root@hv2/system?keyfile=/k&no_verify=1']]), new Date('2030-01-02T03:04:05Z'));

describe('importedDesiredYaml', () => {
  it('heads the file with the editor schema of the installed package', () => {
    expect(IMPORTED_SCHEMA_PATH).toBe('./node_modules/passthru-vfio/schemas/passthrough.schema.json');
    expect(text.split('\n')[0]).toBe(`# yaml-language-server: $schema=${IMPORTED_SCHEMA_PATH}`);
    expect(text.split('\n')[1]).toContain('2030-01-02T03:04:05.000Z');
  });

  // issue 9, defect 14: addresses were written bare, and YAML 1.1 reads 0000:00:02.0 as a base-60 number.
  it('quotes every address, ID and URI, and every name that is not a plain word', () => {
    expect(text).toContain('  - address: "0000:00:02.0"');
    expect(text).toContain('      - address: "0000:00:00.0"');
    expect(text).toContain('          vendor: "8086"');
    expect(text).toContain('    uri: "qemu+ssh://root@hv2/system?keyfile=/k&no_verify=1"');
    for (const name of NAMES.slice(0, -1)) expect(text).toContain(`  ${JSON.stringify(name)}:\n`);
    expect(text).toContain('  rhel7.3:\n');
    expect(text).toContain('        managed: true');
  });

  it('reads back the same in YAML 1.1, YAML 1.2 and passthru', () => {
    for (const version of ['1.1', '1.2'] as const) {
      const data = parse(text, { version }) as { vms: Record<string, { devices: { address: unknown }[] }>; protect: { address: unknown }[] };
      expect(Object.keys(data.vms)).toEqual(NAMES);
      expect(data.protect).toEqual([{ address: '0000:00:02.0' }]);
      expect(data.vms['07:00']?.devices[0]?.address).toBe('0000:07:00.0');
    }
    const state = loadDesiredState(text, 'imported.yaml');
    expect(state.vms.map((vm) => vm.name)).toEqual(NAMES);
    expect(state.hosts).toEqual([{ name: 'hv2', uri: 'qemu+ssh://root@hv2/system?keyfile=/k&no_verify=1', local: false }]);
  });
});
