import { headers as natsHeaders, type MsgHdrs } from '@nats-io/transport-node';
import type { PreparedEvent, StoredEvent } from '../event.ts';
import type { Topic } from '../topic.ts';
import { parseStoredData, parseStoredHeaders } from '../stored-json.ts';

/**
 * How a topic maps onto JetStream, and how an event maps onto a message.
 *
 * - Stream `AIOS_<len(ns)>_<ns>_<topic>`: namespace and topic names match
 *   /^[a-z0-9][a-z0-9_-]{0,99}$/, so `_` may occur in both; the length prefix makes the split
 *   unambiguous (`a_b`+`c` and `a`+`b_c` give `AIOS_3_a_b_c` and `AIOS_1_a_b_c`).
 * - Subject `aios.<ns>.<topic>.<partition>.<encodedId>`: one subject per event id, so that the
 *   stream itself can refuse a second write of the id (see nats-append.ts).
 * - Payload: the event data as JSON. Everything else travels in headers, as ASCII-only JSON
 *   (NATS header values may not hold CR/LF, and names are not case-preserving everywhere).
 */
export interface TopicNames {
  readonly stream: string;
  /** `aios.<ns>.<topic>`; events are `<prefix>.<partition>.<encodedId>`. */
  readonly prefix: string;
  /** Every subject of the topic: `<prefix>.>`. */
  readonly all: string;
}

export const STREAM_PREFIX = 'AIOS_';
export const GROUP_PREFIX = 'g_';

/** Event time, epoch ms. */
export const H_TIME = 'Aios-Time';
/** AIOS ingestion time, epoch ms, from the store's clock: what seek and time retention use. */
export const H_INGESTED_AT = 'Aios-Ingested-At';
/** The key as JSON; absent when the event has none. */
export const H_KEY = 'Aios-Key';
/**
 * User headers as one JSON object. NATS header names are canonicalised by some clients, so
 * user header names would not round-trip exactly as separate NATS headers.
 */
export const H_HEADERS = 'Aios-Headers';

export function namespaceStreamPrefix(ns: string): string {
  return `${STREAM_PREFIX}${ns.length}_${ns}_`;
}

export function topicNames(topic: Pick<Topic, 'ns' | 'name'>): TopicNames {
  const prefix = `aios.${topic.ns}.${topic.name}`;
  return { stream: `${namespaceStreamPrefix(topic.ns)}${topic.name}`, prefix, all: `${prefix}.>` };
}

export function partitionFilter(names: TopicNames, partition: number): string {
  return `${names.prefix}.${partition}.>`;
}

export function groupConsumerName(group: string): string {
  return `${GROUP_PREFIX}${group}`;
}

// Lone surrogates do not survive UTF-8; such ids (rare, but legal JS strings) are encoded as
// UTF-16 behind a "~", which base64url never produces.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** An event id as one subject token (and Nats-Msg-Id): base64url, so any string is safe. */
export function encodeId(id: string): string {
  if (LONE_SURROGATE.test(id)) return `~${Buffer.from(id, 'utf16le').toString('base64url')}`;
  return Buffer.from(id, 'utf8').toString('base64url');
}

export function decodeId(token: string): string {
  if (token.startsWith('~')) return Buffer.from(token.slice(1), 'base64url').toString('utf16le');
  return Buffer.from(token, 'base64url').toString('utf8');
}

export function eventSubject(names: TopicNames, partition: number, encodedId: string): string {
  return `${names.prefix}.${partition}.${encodedId}`;
}

/** Partition and id from `aios.<ns>.<topic>.<partition>.<encodedId>`. */
export function parseSubject(subject: string): { partition: number; id: string } {
  const end = subject.lastIndexOf('.');
  const start = subject.lastIndexOf('.', end - 1);
  return { partition: Number(subject.slice(start + 1, end)), id: decodeId(subject.slice(end + 1)) };
}

/** JSON with every non-ASCII character escaped, so it is a valid single-line header value. */
function asciiJson(json: string): string {
  return json.replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function eventHeaders(e: PreparedEvent, ingestedAt: number): MsgHdrs {
  const h = natsHeaders();
  h.set(H_TIME, String(e.time));
  h.set(H_INGESTED_AT, String(ingestedAt));
  if (e.key !== null) h.set(H_KEY, asciiJson(JSON.stringify(e.key)));
  if (e.headersJson !== null) h.set(H_HEADERS, asciiJson(e.headersJson));
  return h;
}

/** An epoch-ms header; 0 (the epoch) when it is missing or not a number, as a message published around AIOS may have. */
function timeHeader(h: MsgHdrs | undefined, name: string): number {
  const t = Number(h?.get(name) || 0);
  return Number.isFinite(t) ? t : 0;
}

export function ingestedAtOf(h: MsgHdrs | undefined): number {
  return timeHeader(h, H_INGESTED_AT);
}

const decoder = new TextDecoder();

/** A message of the topic's stream as a StoredEvent; `seq` is the stream sequence (the offset). */
export function toStoredEvent(topic: Topic, subject: string, seq: number, h: MsgHdrs | undefined, data: Uint8Array): StoredEvent {
  const { partition, id } = parseSubject(subject);
  const key = h?.get(H_KEY) ? parseStoredData(h.get(H_KEY)) : null;
  return {
    topic: topic.name,
    partition,
    offset: seq,
    id,
    key: typeof key === 'string' ? key : null,
    time: timeHeader(h, H_TIME),
    ingestedAt: ingestedAtOf(h),
    data: parseStoredData(decoder.decode(data)),
    headers: parseStoredHeaders(h?.get(H_HEADERS)),
  };
}

/**
 * The stream sequence of a message delivered by a consumer, from its ack subject:
 * `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`, or the v2 form with
 * domain and account hash after `$JS.ACK` and a random token at the end.
 */
export function streamSeqOfReply(reply: string): number {
  const t = reply.split('.');
  return Number(t.length === 9 ? t[5] : t[7]);
}
