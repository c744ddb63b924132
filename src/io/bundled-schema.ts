/**
 * The JSON Schemas passthru ships in schemas/ (editors and other tools read the same files), compiled on first use.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type Options, type ValidateFunction } from 'ajv/dist/2020.js';

/** Reads schemas/NAME: two levels above both src/io and dist/io (and dist/bundle, where the CLI is bundled). */
export function readBundledSchema(name: string): object {
  return JSON.parse(readFileSync(new URL(`../../schemas/${name}`, import.meta.url), 'utf8')) as object;
}

/**
 * A validator for schemas/NAME, compiled once, when first called: a command that never validates that kind of
 * input does not pay for it. The schema itself is not checked against the draft 2020-12 meta-schema here
 * (`validateSchema: false`): compiling the meta-schema took ~45 ms of every start, and the shipped files are checked
 * against it by a unit test instead.
 */
export function bundledSchemaValidator(name: string, options: Options): () => ValidateFunction {
  let compiled: ValidateFunction | undefined;
  return () => (compiled ??= new Ajv2020({ ...options, validateSchema: false }).compile(readBundledSchema(name)));
}
