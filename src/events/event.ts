import { findNul, hash32, jsonMayHoldNul, jsonPointer, MAX_TIME_MS, MIN_TIME_MS, NUL_MESSAGE, nulMessage, parseTime, toRfc3339, type IdGenerator } from '../core/index.ts';
import { keyFromData, type Topic } from './topic.ts';

/** An event as a producer sends it. `id` is the idempotency key; one is generated when absent. */
export interface EventInput {
  readonly id?: string;
  readonly key?: string | null;
  /** Event time: RFC 3339 string or epoch milliseconds. Defaults to the ingestion time. */
  readonly time?: string | number;
  readonly data: unknown;
  readonly headers?: Record<string, string>;
}

/** An event as stored. Times are epoch milliseconds; the HTTP API renders them as RFC 3339. */
export interface StoredEvent {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly id: string;
  readonly key: string | null;
  readonly time: number;
  readonly ingestedAt: number;
  readonly data: unknown;
  readonly headers: Record<string, string>;
}

/** A validated event, routed to its partition, with its JSON already serialised once. */
export interface PreparedEvent {
  readonly id: string;
  readonly key: string | null;
  readonly partition: number;
  readonly time: number;
  readonly data: unknown;
  readonly dataJson: string;
  readonly headers: Record<string, string>;
  readonly headersJson: string | null;
}

export interface Rejection {
  readonly index: number;
  readonly id?: string;
  readonly code: 'AIOS_EVENTS_SCHEMA_VIOLATION' | 'AIOS_EVENTS_INVALID_EVENT';
  readonly reason: string;
}

export const MAX_ID_LENGTH = 200;
const TIME_RANGE = `${toRfc3339(MIN_TIME_MS)} (${MIN_TIME_MS}) to ${toRfc3339(MAX_TIME_MS)} (${MAX_TIME_MS})`;
/** Not indexed; bounded so that a key stays a key, not a payload. */
export const MAX_KEY_LENGTH = 1024;
const ENVELOPE_FIELDS = new Set(['id', 'key', 'time', 'data', 'headers']);
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** Keys go to partitions by a stable hash; keyless events by their id, so a retry lands in the same place. */
export function partitionFor(key: string | null, id: string, partitions: number): number {
  return partitions === 1 ? 0 : hash32(key ?? id) % partitions;
}

/**
 * Checks the envelope and the data contract of one event and routes it. Returns a Rejection
 * instead of throwing, so a batch can report every bad item with its index.
 */
export function prepareEvent(
  topic: Topic,
  input: unknown,
  index: number,
  ctx: { validate: (data: unknown) => string | null; newId: IdGenerator; now: number; maxEventBytes: number },
): PreparedEvent | Rejection {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) return invalid(index, 'an event must be a JSON object with a "data" field');
  const e = input as Record<string, unknown>;
  for (const k in e) if (!ENVELOPE_FIELDS.has(k)) return invalid(index, `unknown field ${JSON.stringify(k)} (allowed: id, key, time, data, headers)`);
  if (e.id !== undefined && (typeof e.id !== 'string' || e.id.length === 0 || e.id.length > MAX_ID_LENGTH)) {
    return invalid(index, `"id" must be a non-empty string of at most ${MAX_ID_LENGTH} characters`);
  }
  // NUL characters are refused item by item, so that one such event does not fail its batch.
  if (typeof e.id === 'string' && e.id.includes('\u0000')) return invalid(index, `/id ${NUL_MESSAGE}`);
  const id = (e.id as string | undefined) ?? ctx.newId();
  if (!('data' in e) || e.data === undefined) return invalid(index, '"data" is required', id);
  if (e.key !== undefined && e.key !== null && (typeof e.key !== 'string' || e.key.length > MAX_KEY_LENGTH)) return invalid(index, `"key" must be a string of at most ${MAX_KEY_LENGTH} characters`, id);
  if (typeof e.key === 'string' && e.key.includes('\u0000')) return invalid(index, `/key ${NUL_MESSAGE}`, id);
  let time = ctx.now;
  if (e.time !== undefined) {
    const t = parseTime(e.time);
    if (t === undefined) return invalid(index, `"time" must be an RFC 3339 timestamp or epoch milliseconds, from ${TIME_RANGE}`, id);
    time = t;
  }
  let headers: Record<string, string> = NO_HEADERS;
  if (e.headers !== undefined) {
    if (e.headers === null || typeof e.headers !== 'object' || Array.isArray(e.headers)) return invalid(index, '"headers" must be an object of strings', id);
    for (const k in e.headers) {
      const v = (e.headers as Record<string, unknown>)[k];
      if (k.includes('\u0000')) return invalid(index, `/headers has a name that ${NUL_MESSAGE}`, id);
      if (typeof v !== 'string') return invalid(index, `header ${JSON.stringify(k)} must be a string`, id);
      if (v.includes('\u0000')) return invalid(index, `${jsonPointer(['headers', k])} ${NUL_MESSAGE}`, id);
    }
    headers = e.headers as Record<string, string>;
  }
  let problem: string | null;
  let dataJson: string;
  try {
    problem = ctx.validate(e.data);
    dataJson = problem === null ? JSON.stringify(e.data) : '';
  } catch (err) {
    // Validation and serialisation recurse into the data; data nested deeper than the stack allows is refused.
    if (err instanceof RangeError) return invalid(index, '"data" is nested too deeply', id);
    throw err;
  }
  if (problem !== null) return { index, id, code: 'AIOS_EVENTS_SCHEMA_VIOLATION', reason: problem };
  if (jsonMayHoldNul(dataJson)) {
    const at = findNul(e.data);
    if (at) return invalid(index, nulMessage(at, '/data'), id);
  }
  const headersJson = headers === NO_HEADERS ? null : JSON.stringify(headers);
  if (dataJson.length + (headersJson?.length ?? 0) > ctx.maxEventBytes) {
    return invalid(index, `the event is larger than the limit of ${ctx.maxEventBytes} bytes`, id);
  }
  const key = typeof e.key === 'string' ? e.key : keyFromData(e.data, topic.keyField);
  return { id, key, partition: partitionFor(key, id, topic.partitions), time, data: e.data, dataJson, headers, headersJson };
}

// A module-level function, not a closure: tsx (esbuild keepNames) wraps every named closure in a
// __name() call, which costs microseconds per event on this hot path.
function invalid(index: number, reason: string, id?: string): Rejection {
  return { index, id, code: 'AIOS_EVENTS_INVALID_EVENT', reason };
}

export function isRejection(x: PreparedEvent | Rejection): x is Rejection {
  return (x as Rejection).code !== undefined;
}
