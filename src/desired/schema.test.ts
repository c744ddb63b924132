import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

type JsonSchema = { [key: string]: unknown };
const schema = JSON.parse(
  readFileSync(new URL('../../schemas/passthrough.schema.json', import.meta.url), 'utf8'),
) as JsonSchema;

/** Every subschema with its JSON pointer. */
function* subschemas(node: unknown, pointer = '#'): Generator<[string, JsonSchema]> {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return;
  const s = node as JsonSchema;
  yield [pointer, s];
  for (const key of ['properties', '$defs'] as const) {
    for (const [name, child] of Object.entries((s[key] ?? {}) as JsonSchema)) {
      yield* subschemas(child, `${pointer}/${key}/${name}`);
    }
  }
  // `if` is a condition on the data, not a shape the data has, so it is not walked.
  for (const key of ['items', 'additionalProperties', 'propertyNames', 'then', 'else'] as const) {
    yield* subschemas(s[key], `${pointer}/${key}`);
  }
}

describe('schemas/passthrough.schema.json', () => {
  it('is JSON Schema 2020-12 with a stable $id', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toBe('https://passthru.dev/schemas/passthrough.schema.json');
  });

  it('describes every property, for editors', () => {
    const undescribed = [...subschemas(schema)].flatMap(([pointer, s]) =>
      Object.entries((s.properties ?? {}) as JsonSchema)
        .filter(([, p]) => typeof (p as JsonSchema).description !== 'string')
        .map(([name]) => `${pointer}/properties/${name}`),
    );
    expect(undescribed).toEqual([]);
  });

  it('allows no unknown key in any object with fixed properties', () => {
    const open = [...subschemas(schema)]
      .filter(([, s]) => s.properties !== undefined && s.additionalProperties !== false)
      .map(([pointer]) => pointer);
    expect(open).toEqual([]);
  });
});
