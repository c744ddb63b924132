import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { bundledSchemaValidator, readBundledSchema } from './bundled-schema.js';

describe('the shipped schemas', () => {
  // bundledSchemaValidator skips this check at run time to keep every start fast, so it is done here.
  it.each(['passthrough.schema.json', 'snapshot.schema.json'])('%s is valid JSON Schema 2020-12', (name) => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    const valid = ajv.validateSchema(readBundledSchema(name));
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('compiles a validator once, on first use', () => {
    const validator = bundledSchemaValidator('snapshot.schema.json', { strict: true });
    const first = validator();
    expect(validator()).toBe(first);
    expect(first({ format_version: '1' })).toBe(false);
  });
});
