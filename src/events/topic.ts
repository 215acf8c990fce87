import { AiosError, refuseNul, type FieldError } from '../core/index.ts';
import { EventsError } from './errors.ts';

/** What a caller gives to create a topic. */
export interface TopicSpec {
  readonly name: string;
  readonly description?: string;
  /** JSON Schema (draft-07 / 2019-09 keywords) every event's `data` must match. Default: any JSON. */
  readonly schema?: object | boolean;
  /** Dotted path into `data` whose value is the partition key when an event has no `key`. */
  readonly keyField?: string;
  /** Number of partitions, 1 to 256. Default 1. */
  readonly partitions?: number;
  readonly retention?: { readonly ms?: number | null; readonly count?: number | null };
}

/** What may change after creation. Partitions and key field are fixed: they decide where keys live. */
export interface TopicUpdate {
  readonly description?: string;
  readonly schema?: object | boolean;
  readonly retention?: { readonly ms?: number | null; readonly count?: number | null };
}

export interface Topic {
  readonly topicId: number;
  readonly ns: string;
  readonly name: string;
  readonly description: string | null;
  readonly schema: object | boolean;
  readonly schemaVersion: number;
  readonly keyField: string | null;
  readonly partitions: number;
  readonly retention: { readonly ms: number | null; readonly count: number | null };
  readonly createdAt: number;
  readonly updatedAt: number;
}

export const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,99}$/;
const NAME_HINT = 'lower-case letters, digits, "_" and "-", starting with a letter or digit, at most 100 characters';
export const MAX_PARTITIONS = 256;
const MAX_KEY_FIELD_LENGTH = 200;

export function assertName(kind: string, name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new EventsError('AIOS_EVENTS_INVALID_TOPIC', `${kind} name ${JSON.stringify(name)} is invalid: use ${NAME_HINT}`, {
      errors: [{ path: '/name', message: NAME_HINT }],
    });
  }
}

function checkRetention(r: TopicSpec['retention'], errors: FieldError[]): void {
  if (r === undefined) return;
  if (typeof r !== 'object' || r === null) {
    errors.push({ path: '/retention', message: 'must be an object with ms and/or count' });
    return;
  }
  for (const k of ['ms', 'count'] as const) {
    const v = r[k];
    if (v !== undefined && v !== null && !(Number.isSafeInteger(v) && v > 0)) {
      errors.push({ path: `/retention/${k}`, message: 'must be a positive integer or null' });
    }
  }
}

/** Checks a spec and fills defaults. Throws AIOS_EVENTS_INVALID_TOPIC naming every bad field. */
export type NormalisedSpec = Omit<Topic, 'topicId' | 'ns' | 'createdAt' | 'updatedAt' | 'schemaVersion'>;

export function normaliseSpec(spec: TopicSpec): NormalisedSpec {
  assertName('topic', spec?.name);
  refuseNul(spec.description, '/description');
  refuseNul(spec.schema, '/schema');
  const errors: FieldError[] = [];
  const partitions = spec.partitions ?? 1;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_PARTITIONS) {
    errors.push({ path: '/partitions', message: `must be an integer from 1 to ${MAX_PARTITIONS}` });
  }
  if (spec.keyField !== undefined && (typeof spec.keyField !== 'string' || spec.keyField.length > MAX_KEY_FIELD_LENGTH || !/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(spec.keyField))) {
    errors.push({ path: '/keyField', message: `must be a dotted path of identifiers, e.g. "asset.id", of at most ${MAX_KEY_FIELD_LENGTH} characters` });
  }
  if (spec.description !== undefined && (typeof spec.description !== 'string' || spec.description.length > 2000)) {
    errors.push({ path: '/description', message: 'must be a string of at most 2000 characters' });
  }
  checkRetention(spec.retention, errors);
  if (errors.length) throw new EventsError('AIOS_EVENTS_INVALID_TOPIC', `topic ${spec.name}: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors });
  return {
    name: spec.name,
    description: spec.description ?? null,
    schema: spec.schema ?? {},
    keyField: spec.keyField ?? null,
    partitions,
    retention: { ms: spec.retention?.ms ?? null, count: spec.retention?.count ?? null },
  };
}

export function checkUpdate(update: TopicUpdate): void {
  refuseNul(update?.description, '/description');
  refuseNul(update?.schema, '/schema');
  const errors: FieldError[] = [];
  const extra = Object.keys(update ?? {}).filter((k) => !['description', 'schema', 'retention'].includes(k));
  for (const k of extra) {
    errors.push({ path: `/${k}`, message: k === 'partitions' || k === 'keyField' ? 'cannot change after creation: it decides where keys live' : 'unknown field' });
  }
  checkRetention(update.retention, errors);
  if (errors.length) throw new EventsError('AIOS_EVENTS_INVALID_TOPIC', errors.map((e) => `${e.path} ${e.message}`).join('; '), { errors });
}

/** Reads a dotted path out of event data; the partition key when the event has no explicit key. */
export function keyFromData(data: unknown, keyField: string | null): string | null {
  if (!keyField) return null;
  let v: unknown = data;
  if (!keyField.includes('.')) {
    v = data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[keyField] : undefined;
    return typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : null;
  }
  for (const part of keyField.split('.')) {
    if (v === null || typeof v !== 'object') return null;
    v = (v as Record<string, unknown>)[part];
  }
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return null;
}
