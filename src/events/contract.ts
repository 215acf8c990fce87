import { Ajv, type ValidateFunction, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { AiosError } from '../core/index.ts';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

/**
 * Compiles data contracts once per (topic, schema version). Ajv generates a specialised
 * validator function; compiling costs milliseconds, validating costs microseconds.
 */
export class ContractCompiler {
  readonly #ajv: Ajv;
  readonly #cache = new Map<string, ValidateFunction>();

  constructor() {
    this.#ajv = new Ajv({ strict: false, allErrors: false, validateSchema: true, addUsedSchema: false });
    addFormats(this.#ajv);
  }

  /** Throws AIOS_EVENTS_SCHEMA_INVALID when the schema is not a valid JSON Schema. */
  check(schema: unknown): void {
    if (typeof schema === 'boolean') return;
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      throw new AiosError('AIOS_EVENTS_SCHEMA_INVALID', 'the data contract must be a JSON Schema object (or true)');
    }
    try {
      if (!this.#ajv.validateSchema(schema)) {
        throw new AiosError('AIOS_EVENTS_SCHEMA_INVALID', `invalid JSON Schema: ${this.#ajv.errorsText(this.#ajv.errors)}`);
      }
      this.#ajv.compile(schema);
    } catch (e) {
      if (e instanceof AiosError) throw e;
      throw new AiosError('AIOS_EVENTS_SCHEMA_INVALID', `invalid JSON Schema: ${(e as Error).message}`);
    }
  }

  validator(cacheKey: string, schema: unknown): ValidateFunction {
    let fn = this.#cache.get(cacheKey);
    if (!fn) {
      fn = this.#ajv.compile(typeof schema === 'boolean' ? schema : (schema as object));
      this.#cache.set(cacheKey, fn);
    }
    return fn;
  }

  forget(prefix: string): void {
    for (const k of this.#cache.keys()) if (k.startsWith(prefix)) this.#cache.delete(k);
  }
}

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors?.length) return 'does not match the schema';
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}
