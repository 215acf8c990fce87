import { AiosError } from './errors.ts';

/*
 * One rule for text on both engines: no NUL character (U+0000) anywhere. PostgreSQL cannot store
 * one in text nor in jsonb (not even escaped as \u0000), SQLite can; AIOS refuses it everywhere,
 * so that what one engine accepts the other does too.
 */

export const NUL_MESSAGE = 'holds a NUL character (U+0000), which AIOS does not store';

/** `/a/b~1c`: the JSON Pointer (RFC 6901) of a path. */
export function jsonPointer(parts: readonly (string | number)[]): string {
  return parts.map((p) => `/${String(p).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

/**
 * Where the first NUL character of a JSON-like value is: the JSON Pointer of the string holding
 * it, or of the object whose key holds it (`key` true); undefined when there is none. Iterative,
 * so any depth is safe.
 *
 * @example
 * findNul({ a: ['x', 'y\u0000'] }); // { pointer: '/a/1', key: false }
 */
export function findNul(value: unknown): { pointer: string; key: boolean } | undefined {
  // Each entry links to its parent, so the path is built only for the value found: linear in
  // the size of the value, however deep.
  interface Entry {
    readonly v: unknown;
    readonly parent?: Entry;
    readonly key?: string | number;
  }
  const pointerOf = (e: Entry): string => {
    const parts: (string | number)[] = [];
    for (let x: Entry | undefined = e; x?.parent; x = x.parent) parts.push(x.key!);
    return jsonPointer(parts.reverse());
  };
  const stack: Entry[] = [{ v: value }];
  while (stack.length) {
    const e = stack.pop()!;
    const v = e.v;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return { pointer: pointerOf(e), key: false };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ v: v[i], parent: e, key: i });
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (const [k] of entries) if (k.includes('\u0000')) return { pointer: pointerOf(e), key: true };
      for (let i = entries.length - 1; i >= 0; i--) stack.push({ v: entries[i][1], parent: e, key: entries[i][0] });
    }
  }
  return undefined;
}

/**
 * Whether JSON text (as `JSON.stringify` writes it) may hold a NUL character: a fast test for hot
 * paths, true for every text that does (and for the rare text holding a literal backslash-u0000),
 * so only a true answer needs `findNul`.
 */
export function jsonMayHoldNul(text: string): boolean {
  return text.includes('\\u0000');
}

/** The message naming where a NUL is: "/body/data/label holds a NUL ..." or "/body/data has a key that holds ...". */
export function nulMessage(at: { pointer: string; key: boolean }, base: string): string {
  return `${base}${at.pointer}${at.key ? ' has a key that' : ''} ${NUL_MESSAGE}`;
}

/**
 * Throws AIOS_VALIDATION when a string or JSON value holds a NUL character. `what` names the
 * value in the message and is the JSON Pointer prefix of `errors[].path`.
 *
 * @example
 * refuseNul(input, '/input'); // AIOS_VALIDATION: /input/label holds a NUL character ...
 */
export function refuseNul(value: unknown, what: string): void {
  if (value === undefined || value === null || typeof value === 'number' || typeof value === 'boolean') return;
  if (typeof value === 'string' && !value.includes('\u0000')) return;
  const at = findNul(value);
  if (!at) return;
  const message = nulMessage(at, what);
  throw new AiosError('AIOS_VALIDATION', message, { errors: [{ path: `${what}${at.pointer}`, message: at.key ? `has a key that ${NUL_MESSAGE}` : NUL_MESSAGE }] });
}

/**
 * Checks an identifier a caller gives: a non-empty string without NUL, of at most `maxLength`
 * UTF-16 code units (each at most 3 bytes of UTF-8, so `maxLength` × 3 bytes bound what an index
 * holds). Throws AIOS_VALIDATION naming `field`.
 *
 * @example
 * checkIdentifier(runId, 'id', 400);
 */
export function checkIdentifier(value: unknown, field: string, maxLength: number): asserts value is string {
  let problem: string | undefined;
  if (typeof value !== 'string' || value.length === 0) problem = 'must be a non-empty string';
  else if (value.length > maxLength) problem = `must be at most ${maxLength} characters`;
  else if (value.includes('\u0000')) problem = NUL_MESSAGE;
  if (problem) throw new AiosError('AIOS_VALIDATION', `${field} ${problem}`, { errors: [{ path: `/${field}`, message: problem }] });
}
