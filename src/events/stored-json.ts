/**
 * Stored JSON read back, never throwing: a read must not fail on what is stored, even a payload
 * written around AIOS (directly into the database or onto the stream) that is not JSON. Such a
 * payload reads as its text; headers that are not an object of strings read as `{}`.
 *
 * @example
 * parseStoredData('{"a":1}'); // { a: 1 }
 * parseStoredData('not json'); // 'not json'
 */
export function parseStoredData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export function parseStoredHeaders(text: string | null | undefined): Record<string, string> {
  if (!text) return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return {};
  }
  return asHeaders(v);
}

/** `v` when it is an object of strings, else only its string entries (`{}` for anything else). */
export function asHeaders(v: unknown): Record<string, string> {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return {};
  const o = v as Record<string, unknown>;
  for (const k in o) {
    if (typeof o[k] !== 'string') return Object.fromEntries(Object.entries(o).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
  }
  return o as Record<string, string>;
}
