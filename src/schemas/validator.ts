/**
 * The shape of the generated validators (src/schemas/*.validate.ts, compiled from schemas/ by
 * scripts/build-schema-validators.js): ajv's, restated so that nothing at run time depends on ajv.
 */

/** One schema violation, as ajv reports it (with `verbose`: `data` and `parentSchema` are set). */
export interface SchemaError {
  keyword: string;
  /** JSON pointer to the value at fault: `/vms/a/devices/0`. */
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  /** Set on errors about a property name (`propertyNames`). */
  propertyName?: string;
  message?: string;
  data?: unknown;
  parentSchema?: Record<string, unknown>;
}

/** A generated validator: true when `data` matches; else the errors are in `errors`. */
export interface SchemaValidator {
  (data: unknown): boolean;
  errors?: SchemaError[] | null;
}
