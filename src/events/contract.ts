import { Ajv, type ErrorObject, type Options, type ValidateFunction } from 'ajv';
import { AiosError } from '../core/index.ts';
import { linearFormats } from './linear-formats.ts';
import { compileLinear, LinearPatternError, linearRegExp } from './linear-regexp.ts';
import { useLinearUniqueItems } from './linear-unique-items.ts';
import { EventsError } from './errors.ts';

/** The largest data contract, as JSON. Validation work per event grows with the schema. */
export const MAX_SCHEMA_BYTES = 64 * 1024;
/** The deepest nesting of objects and arrays in a data contract (each `properties` level is two). */
export const MAX_SCHEMA_DEPTH = 64;

let formats: ReturnType<typeof linearFormats> | undefined;

/**
 * An Ajv for schemas whose data comes from users: every `pattern`, `patternProperties`,
 * `propertyNames` pattern and regex-based `format` runs on RE2, in time linear in the input
 * (linear-regexp.ts, linear-formats.ts), and `uniqueItems` hashes instead of comparing every
 * pair (linear-unique-items.ts). A pattern RE2 cannot run (backreferences, lookaround)
 * makes `compile` throw a LinearPatternError naming it.
 *
 * @example
 * const ajv = createLinearAjv({ allErrors: true });
 * ajv.compile({ type: 'string', pattern: '^(a+)+$' })('a'.repeat(100_000) + '!'); // false, fast
 */
export function createLinearAjv(opts: Options = {}): Ajv {
  const ajv = new Ajv({ strict: false, ...opts, code: { ...opts.code, regExp: linearRegExp } });
  formats ??= linearFormats();
  for (const [name, f] of Object.entries(formats)) ajv.addFormat(name, f);
  useLinearUniqueItems(ajv);
  return ajv;
}

const pointer = (k: string) => `/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`;
/** Keywords whose values are data, not schemas: a "pattern" inside them is not one. */
const DATA_KEYWORDS = new Set(['enum', 'const', 'default', 'examples']);

/**
 * Compiles every `pattern` and `patternProperties` key of the schema for RE2, so that each is
 * refused with its place even where Ajv would never evaluate it (a pattern property whose
 * schema is `{}`).
 */
function checkPatterns(schema: object): void {
  const stack: [unknown, string][] = [[schema, '']];
  while (stack.length) {
    const [node, path] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    for (const [k, v] of Object.entries(node)) {
      const here = path + pointer(k);
      try {
        if (k === 'pattern' && typeof v === 'string') compileLinear(v, 'u');
        if (k === 'patternProperties' && v !== null && typeof v === 'object' && !Array.isArray(v)) {
          for (const p of Object.keys(v)) {
            try {
              compileLinear(p, 'u');
            } catch (e) {
              if (e instanceof LinearPatternError) throw Object.assign(e, { at: here + pointer(p) });
              throw e;
            }
          }
        }
      } catch (e) {
        if (!(e instanceof LinearPatternError)) throw e;
        const at = (e as LinearPatternError & { at?: string }).at ?? here;
        throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', `invalid data contract at ${at}: ${e.message}`, { errors: [{ path: `/schema${at}`, message: e.message }] });
      }
      if (!DATA_KEYWORDS.has(k)) stack.push([v, here]);
    }
  }
}

/** Refuses a schema nested deeper than MAX_SCHEMA_DEPTH or larger than MAX_SCHEMA_BYTES, before anything recurses into it. */
function checkBounds(schema: object): void {
  const stack: [unknown, number][] = [[schema, 1]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > MAX_SCHEMA_DEPTH) {
      throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', `the data contract is nested more than ${MAX_SCHEMA_DEPTH} levels deep`, { errors: [{ path: '/schema', message: `at most ${MAX_SCHEMA_DEPTH} levels of objects and arrays` }] });
    }
    for (const v of Object.values(node)) if (v !== null && typeof v === 'object') stack.push([v, depth + 1]);
  }
  const bytes = Buffer.byteLength(JSON.stringify(schema));
  if (bytes > MAX_SCHEMA_BYTES) {
    throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', `the data contract is ${bytes} bytes of JSON; the limit is ${MAX_SCHEMA_BYTES}`, { errors: [{ path: '/schema', message: `at most ${MAX_SCHEMA_BYTES} bytes` }] });
  }
}

/**
 * Compiles data contracts once per (topic, schema version). Ajv generates a specialised
 * validator function; compiling costs milliseconds, validating costs microseconds. Patterns and
 * formats are evaluated in linear time (createLinearAjv), and contracts are bounded in size and
 * depth, so no event can make validation stall the process.
 */
export class ContractCompiler {
  readonly #ajv: Ajv;
  readonly #cache = new Map<string, { fn: ValidateFunction | null; validate: (data: unknown) => string | null }>();

  constructor() {
    this.#ajv = createLinearAjv({ allErrors: false, validateSchema: true, addUsedSchema: false });
  }

  /** Throws AIOS_EVENTS_SCHEMA_INVALID when the schema is not a valid JSON Schema, too large, or has a pattern RE2 cannot run. */
  check(schema: unknown): void {
    if (typeof schema === 'boolean') return;
    if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
      throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', 'the data contract must be a JSON Schema object (or true)');
    }
    checkBounds(schema);
    try {
      if (!this.#ajv.validateSchema(schema)) {
        throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', `invalid JSON Schema: ${this.#ajv.errorsText(this.#ajv.errors)}`);
      }
      checkPatterns(schema);
      this.#ajv.compile(schema);
    } catch (e) {
      if (e instanceof AiosError) throw e;
      if (e instanceof LinearPatternError) throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', `invalid data contract: ${e.message}`, { errors: [{ path: '/schema', message: e.message }] });
      throw new EventsError('AIOS_EVENTS_SCHEMA_INVALID', `invalid JSON Schema: ${(e as Error).message}`);
    } finally {
      // The check's compilation is not kept: the validator is compiled from the stored schema.
      this.#uncache(schema);
    }
  }

  /**
   * The validator of a contract: null when `data` matches, else what is wrong. A stored contract
   * that this build cannot evaluate (a pattern accepted by an older one) rejects every event
   * with the reason, and the topic stays readable.
   */
  validator(cacheKey: string, schema: unknown): (data: unknown) => string | null {
    let entry = this.#cache.get(cacheKey);
    if (!entry) {
      try {
        const fn = this.#ajv.compile(typeof schema === 'boolean' ? schema : (schema as object));
        entry = { fn, validate: (data) => (fn(data) ? null : describeErrors(fn.errors)) };
      } catch (e) {
        const reason = `the topic's data contract cannot be evaluated (${(e as Error).message}); change the schema to accept events again`;
        entry = { fn: null, validate: () => reason };
      }
      this.#cache.set(cacheKey, entry);
    }
    return entry.validate;
  }

  /**
   * Drops a compiled schema from Ajv's cache. Not `removeSchema`: that also unregisters whatever
   * schema holds the object's `$id`, the meta-schema itself if a contract claims its id.
   */
  #uncache(schema: object): void {
    (this.#ajv as unknown as { _cache?: Map<unknown, unknown> })._cache?.delete(schema);
  }

  forget(prefix: string): void {
    for (const [k, e] of this.#cache) {
      if (!k.startsWith(prefix)) continue;
      this.#cache.delete(k);
      if (e.fn && typeof e.fn.schema === 'object') this.#uncache(e.fn.schema);
    }
  }
}

export function describeErrors(errors: readonly ErrorObject[] | null | undefined): string {
  if (!errors?.length) return 'does not match the schema';
  return errors.map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`).join('; ');
}
