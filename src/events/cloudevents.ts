import { AiosError } from '../core/index.ts';
import type { EventInput } from './event.ts';

export const CLOUDEVENTS_CONTENT_TYPES = ['application/cloudevents+json', 'application/cloudevents-batch+json'] as const;

const CORE = new Set(['specversion', 'id', 'source', 'type', 'time', 'data', 'data_base64', 'datacontenttype', 'dataschema', 'subject', 'partitionkey']);

/**
 * Maps CloudEvents 1.0 (structured or batch JSON mode) to AIOS events. `id` stays the
 * idempotency key; `partitionkey` (the Partitioning extension) is the key; `source`, `type`,
 * `subject` and extension attributes become `ce-*` headers. An envelope that is not valid
 * CloudEvents 1.0 fails the whole request with 400: it is a protocol error, not bad data.
 */
export function parseCloudEvents(body: unknown, batch: boolean): EventInput[] {
  const items = batch ? body : [body];
  if (!Array.isArray(items)) throw new AiosError('AIOS_BAD_REQUEST', 'a CloudEvents batch must be a JSON array');
  return items.map((ce, i) => fromCloudEvent(ce, batch ? `/${i}` : ''));
}

export function fromCloudEvent(ce: unknown, path = ''): EventInput {
  const bad = (msg: string) => new AiosError('AIOS_BAD_REQUEST', `CloudEvent${path ? ' ' + path : ''}: ${msg}`, { errors: [{ path: path || '/', message: msg }] });
  if (ce === null || typeof ce !== 'object' || Array.isArray(ce)) throw bad('must be a JSON object');
  const e = ce as Record<string, unknown>;
  if (e.specversion !== '1.0') throw bad('specversion must be "1.0"');
  for (const k of ['id', 'source', 'type'] as const) {
    if (typeof e[k] !== 'string' || (e[k] as string).length === 0) throw bad(`"${k}" is required and must be a non-empty string`);
  }
  if (e.data_base64 !== undefined) throw bad('data_base64 (binary data) is not supported; send JSON data');
  const headers: Record<string, string> = { 'ce-source': e.source as string, 'ce-type': e.type as string };
  if (typeof e.subject === 'string') headers['ce-subject'] = e.subject;
  if (typeof e.dataschema === 'string') headers['ce-dataschema'] = e.dataschema;
  for (const [k, v] of Object.entries(e)) {
    if (CORE.has(k)) continue;
    if (!/^[a-z0-9]{1,20}$/.test(k)) throw bad(`extension attribute name "${k}" must be lower-case letters and digits`);
    if (v !== null && v !== undefined) headers[`ce-${k}`] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return {
    id: e.id as string,
    key: typeof e.partitionkey === 'string' ? e.partitionkey : undefined,
    time: typeof e.time === 'string' ? e.time : undefined,
    data: e.data === undefined ? null : e.data,
    headers,
  };
}
