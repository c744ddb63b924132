import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { validateSnapshot } from './snapshot.validate.js';

const schema = (name: string) => JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as object;

describe('the shipped schemas', () => {
  // The generated validators are compiled without this check (it compiles the meta-schema), so it is done here.
  it.each(['passthrough.schema.json', 'snapshot.schema.json', 'saved-plan.schema.json'])('%s is valid JSON Schema 2020-12', (name) => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    const valid = ajv.validateSchema(schema(name));
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('are what the committed validators were generated from', async () => {
    const script = new URL('../../scripts/build-schema-validators.js', import.meta.url).pathname;
    const run = promisify(execFile)(process.execPath, [script, '--check']);
    await expect(run).resolves.toMatchObject({ stderr: '' });
  });

  it('compile to validators that need no ajv at run time', () => {
    for (const module of ['passthrough', 'snapshot', 'saved-plan']) {
      const code = readFileSync(new URL(`./${module}.validate.ts`, import.meta.url), 'utf8');
      expect(code.match(/^import .*$/gm)).toEqual(["import type { SchemaValidator } from './validator.js';"]);
    }
    expect(validateSnapshot({ format_version: '1' })).toBe(false);
    expect(validateSnapshot.errors?.[0]).toMatchObject({ keyword: expect.any(String), instancePath: expect.any(String) });
  });
});
