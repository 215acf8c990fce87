import type { Ajv, ErrorObject } from 'ajv';
import type { DataValidateFunction } from 'ajv/dist/types/index.js';

/** Deeper items are not compared (the check fails): the canonical form is built by recursion. */
const MAX_ITEM_DEPTH = 1000;

class TooDeep extends Error {}

/** JSON with object keys sorted: two JSON values are equal (as JSON Schema defines it) when these are. */
function canonical(v: unknown, depth: number): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (depth > MAX_ITEM_DEPTH) throw new TooDeep();
  if (Array.isArray(v)) {
    let s = '[';
    for (let i = 0; i < v.length; i++) s += (i ? ',' : '') + canonical(v[i], depth + 1);
    return `${s}]`;
  }
  const o = v as Record<string, unknown>;
  let s = '{';
  let first = true;
  for (const k of Object.keys(o).sort()) {
    s += `${first ? '' : ','}${JSON.stringify(k)}:${canonical(o[k], depth + 1)}`;
    first = false;
  }
  return `${s}}`;
}

/**
 * Replaces Ajv's `uniqueItems`, which compares arrays of objects pair by pair (quadratic: an
 * 86 KB array of small objects took 3.4 s), by a hash of each item's canonical JSON: time
 * linear in the size of the array, up to sorting each object's keys.
 *
 * @example
 * useLinearUniqueItems(ajv);
 * ajv.compile({ type: 'array', uniqueItems: true })([{ a: 1, b: 2 }, { b: 2, a: 1 }]); // false
 */
export function useLinearUniqueItems(ajv: Ajv): void {
  ajv.removeKeyword('uniqueItems');
  const validate: DataValidateFunction = function uniqueItems(this: unknown, unique: unknown, data: unknown): boolean {
    if (unique !== true || !Array.isArray(data) || data.length < 2) return true;
    const seen = new Map<string, number>();
    let message: string | undefined;
    let params: Record<string, unknown> = {};
    try {
      for (let j = 0; j < data.length; j++) {
        const key = canonical(data[j], 0);
        const i = seen.get(key);
        if (i !== undefined) {
          message = `must NOT have duplicate items (items ## ${j} and ${i} are identical)`;
          params = { i: j, j: i };
          break;
        }
        seen.set(key, j);
      }
    } catch (e) {
      if (!(e instanceof TooDeep)) throw e;
      message = `items nested more than ${MAX_ITEM_DEPTH} levels deep cannot be compared`;
    }
    if (message === undefined) return true;
    (validate as { errors?: Partial<ErrorObject>[] }).errors = [{ keyword: 'uniqueItems', message, params }];
    return false;
  } as DataValidateFunction;
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: true, validate });
}
