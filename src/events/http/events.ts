import type { FastifyPluginAsync } from 'fastify';
import { Ajv } from 'ajv';
import { Type } from 'typebox';
import { AiosError, isAiosError, MAX_TIME_MS, MIN_TIME_MS, parseTime } from '../../core/index.ts';
import { fromCloudEvent, governedAppend, type Rejection } from '../index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { auditInput } from '../../http/index.ts';
import { CLOUDEVENTS_BATCH, ndjsonLines } from '../../http/index.ts';
import { ProblemSchema } from '../../http/index.ts';
import { EventOut, eventOut, TopicParams } from './event-schemas.ts';

const EventInputSchema = Type.Object(
  {
    id: Type.Optional(Type.String({ maxLength: 200, description: 'idempotency key; generated (UUIDv7) when absent' })),
    key: Type.Optional(Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], { description: 'partition key; defaults to data[keyField]' })),
    time: Type.Optional(
      Type.Union([Type.String({ format: 'date-time' }), Type.Integer({ minimum: MIN_TIME_MS, maximum: MAX_TIME_MS })], {
        description: 'event time, RFC 3339 or epoch milliseconds, years 0000 to 9999 (UTC); defaults to ingestion time',
      }),
    ),
    data: Type.Unknown({ description: 'must match the topic\'s data contract' }),
    headers: Type.Optional(Type.Record(Type.String(), Type.String())),
  },
  { additionalProperties: false },
);

const Line = Type.Optional(Type.Integer({ minimum: 1, description: 'NDJSON only: the line (1-based, blank lines counted) the event was on' }));
const AppendResponse = Type.Object({
  accepted: Type.Array(Type.Object({ index: Type.Integer(), line: Line, id: Type.String(), partition: Type.Integer(), offset: Type.Integer(), duplicate: Type.Boolean() })),
  rejected: Type.Array(Type.Object({ index: Type.Integer(), line: Line, id: Type.Optional(Type.String()), code: Type.String(), reason: Type.String() })),
});

/** Gives each entry of an NDJSON append's answer its line, the numbering of malformed-line errors. */
function numberLines<T extends { index: number }>(items: readonly T[], lines: readonly number[]): T[] {
  return items.map((it) => ({ ...it, line: lines[it.index] }));
}

/** The same for a refused NDJSON append: its rejected events, each with its line. */
function refusalWithLines(lines: readonly number[] | undefined) {
  return (e: unknown): never => {
    const rejected = isAiosError(e) ? (e.extra?.rejected as Rejection[] | undefined) : undefined;
    if (!lines || !rejected || !isAiosError(e)) throw e;
    throw new AiosError(e.code, e.message, {
      spec: e,
      cause: e,
      errors: rejected.map((r) => ({ path: `/${r.index}`, message: `line ${lines[r.index]}: ${r.code}: ${r.reason}` })),
      extra: { ...e.extra, rejected: numberLines(rejected, lines) },
    });
  };
}

const paramsAjv = new Ajv({ coerceTypes: 'array', useDefaults: true, allErrors: false, strict: false });

export function eventRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const log = deps.events;
    app.post(
      '/topics/:topic/events',
      { config: { action: 'events:append', bodyItemsChecked: true },
        schema: {
          tags: ['events'],
          summary: 'Append one event, a JSON array, NDJSON, or CloudEvents',
          description:
            'Content types: application/json (an event or an array), application/x-ndjson (one event per line), ' +
            'application/cloudevents+json, application/cloudevents-batch+json, and CloudEvents binary mode (ce-* headers). ' +
            'Accepted events are durable before the answer. 200 when all were accepted, 207 when some were rejected ' +
            '(each with index, code and reason), 422 when all were (or, with ?atomic=true, when any was: `detail` names it). ' +
            '`index` counts events from 0; for NDJSON every entry also has `line`, its physical line (from 1, blank lines counted), ' +
            'the numbering of a malformed line\'s error.',
          params: TopicParams,
          querystring: Type.Object({ atomic: Type.Optional(Type.Boolean({ default: false })) }),
          body: Type.Union([EventInputSchema, Type.Array(EventInputSchema)]),
          response: { 200: AppendResponse, 207: AppendResponse, 400: ProblemSchema, 404: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema, 422: ProblemSchema, 429: ProblemSchema },
        },
        // Items are validated one by one by the event log, so that each rejection names its index.
        validatorCompiler: ({ schema, httpPart }) => (httpPart === 'body' ? () => true : paramsAjv.compile(schema as object)),
      },
      async (req, reply) => {
        let body: unknown = req.body;
        if (req.headers['ce-specversion'] !== undefined && !Array.isArray(body)) {
          const attrs: Record<string, unknown> = { data: body };
          for (const [h, v] of Object.entries(req.headers)) if (h.startsWith('ce-') && typeof v === 'string') attrs[h.slice(3)] = v;
          body = [fromCloudEvent(attrs)];
        }
        if (body === undefined || body === null || typeof body !== 'object') {
          throw new AiosError('AIOS_BAD_REQUEST', 'the body must be an event object or an array of events');
        }
        const items = Array.isArray(body) ? body : [body];
        if (items.length === 0) throw new AiosError('AIOS_BAD_REQUEST', 'the body holds no events');
        const single = !Array.isArray(req.body) && !(body as { [CLOUDEVENTS_BATCH]?: boolean })[CLOUDEVENTS_BATCH] && items.length === 1;
        const ns = namespaceOf(req);
        const lines = ndjsonLines(req.body);
        const { result, audited } = await governedAppend(log, deps.governance, {
          ns,
          topic: req.params.topic,
          items,
          atomic: req.query.atomic || single,
          lineageId: req.lineageId,
          audit: deps.authEnabled ? auditInput(req, 'success', null) : undefined,
        }).catch(refusalWithLines(lines));
        if (audited) req.aiosAudited = true;
        const answer = lines ? { accepted: numberLines(result.accepted, lines), rejected: numberLines(result.rejected, lines) } : result;
        return reply.code(result.rejected.length ? 207 : 200).send(answer);
      },
    );

    app.get(
      '/topics/:topic/events',
      { config: { action: 'events:read' },
        schema: {
          tags: ['events'],
          summary: 'Read events by partition and offset range, or from a time; page with `after`',
          params: TopicParams,
          querystring: Type.Object({
            partition: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            fromOffset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
            toOffset: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'exclusive' })),
            fromTime: Type.Optional(Type.String({ description: 'RFC 3339; events ingested at or after it' })),
            after: Type.Optional(Type.String({ maxLength: 8000, description: 'the `next` cursor of the previous page' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })),
          }),
          response: { 200: Type.Object({ events: Type.Array(EventOut), next: Type.String() }), 400: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const q = req.query;
        let fromTime: number | undefined;
        if (q.fromTime !== undefined) {
          fromTime = parseTime(q.fromTime);
          if (fromTime === undefined) throw new AiosError('AIOS_VALIDATION', 'fromTime must be an RFC 3339 timestamp', { errors: [{ path: '/querystring/fromTime', message: 'must be RFC 3339' }] });
        }
        const r = await log.read(namespaceOf(req), req.params.topic, { partition: q.partition, fromOffset: q.fromOffset, toOffset: q.toOffset, fromTime, after: q.after, limit: q.limit });
        return { events: r.events.map(eventOut), next: r.next };
      },
    );

    app.get(
      '/topics/:topic/stream',
      { config: { action: 'events:read' },
        schema: {
          tags: ['events'],
          summary: 'Live tail over Server-Sent Events; resumes from Last-Event-ID',
          description:
            'Each SSE message has `event: event`, `data` the event JSON, and `id` a cursor (`partition:offset,...`, the next offset ' +
            'of every partition) that a reconnecting EventSource sends back as `Last-Event-ID`; the header wins over `?from`. ' +
            '`from` is `earliest`, `latest` (the default) or such a cursor. A partition the cursor does not name starts at its ' +
            'earliest retained event, and an offset removed by retention starts at the first one kept. Refused with 400 ' +
            'AIOS_EVENTS_INVALID_POSITION before the stream starts, so that an EventSource stops instead of reconnecting: a ' +
            'cursor that does not parse, names a partition twice, names a partition the topic does not have, or is beyond the ' +
            'end of a partition (an offset this topic never reached); a `partition` the topic does not have. With `partition`, ' +
            'cursor entries for the other partitions are ignored. HEAD answers the headers of the stream and ends.',
          params: TopicParams,
          querystring: Type.Object({
            from: Type.Optional(Type.String({ maxLength: 8000, description: 'earliest, latest (default) or a cursor' })),
            partition: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })),
          }),
          headers: Type.Object({ 'last-event-id': Type.Optional(Type.String({ maxLength: 8000, description: 'a cursor: the `id` of the last message received' })) }),
        },
      },
      async (req, reply) => {
        const ns = namespaceOf(req);
        const lastId = req.headers['last-event-id'];
        const from = typeof lastId === 'string' && lastId ? lastId : req.query.from;
        const ac = new AbortController();
        // The topic and the cursor are checked before the stream starts: a 4xx here ends an EventSource for good.
        const events = await log.openTail(ns, req.params.topic, { from, partition: req.query.partition, signal: ac.signal });
        const headers = { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'x-accel-buffering': 'no' };
        if (req.method === 'HEAD') {
          await events.return(undefined);
          return reply.code(200).headers(headers).send();
        }
        deps.streams.add(ac);
        reply.hijack();
        const res = reply.raw;
        res.writeHead(200, { ...headers, connection: 'keep-alive' });
        res.write(': connected\n\n');
        const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), 15_000);
        req.raw.on('close', () => ac.abort());
        try {
          for await (const { event, cursor } of events) {
            if (!res.write(`id: ${cursor}\nevent: event\ndata: ${JSON.stringify(eventOut(event))}\n\n`)) {
              await new Promise<void>((r) => {
                const done = () => { res.off('drain', done); res.off('close', done); r(); };
                res.once('drain', done);
                res.once('close', done);
              });
            }
          }
        } catch (e) {
          if (!ac.signal.aborted) res.write(`event: error\ndata: ${JSON.stringify({ code: (e as AiosError).code ?? 'AIOS_INTERNAL', detail: (e as Error).message })}\n\n`);
        } finally {
          clearInterval(heartbeat);
          deps.streams.delete(ac);
          res.end();
        }
      },
    );
  };
}
