import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AiosError, parseTime } from '../../core/index.ts';
import type { ResetTarget } from '../index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { ProblemSchema } from '../../http/index.ts';
import { EventOut, eventOut, TopicParams } from './event-schemas.ts';

const GroupParams = Type.Object({ topic: Type.String({ maxLength: 100 }), group: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,99}$' }) });
const Position = Type.Object({ partition: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), offset: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }) }, { additionalProperties: false });
const GroupStateOut = Type.Object({
  group: Type.String(),
  topic: Type.String(),
  lag: Type.Integer(),
  partitions: Type.Array(Type.Object({ partition: Type.Integer(), committed: Type.Union([Type.Integer(), Type.Null()]), end: Type.Integer(), lag: Type.Integer() })),
});

/** Fetch and commit take an optional body: no body means the defaults. */
async function noBodyIsEmpty(req: { body: unknown }): Promise<void> {
  if (req.body === undefined || req.body === null) req.body = {};
}

export function groupRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const log = deps.events;

    app.get(
      '/topics/:topic/groups',
      { config: { action: 'groups:read' },
        schema: {
          tags: ['groups'],
          summary: 'Consumer groups of a topic, with their lag',
          params: TopicParams,
          response: { 200: Type.Object({ groups: Type.Array(GroupStateOut) }), 404: ProblemSchema },
        },
      },
      async (req) => {
        const ns = namespaceOf(req);
        const names = await log.listGroups(ns, req.params.topic);
        return { groups: await Promise.all(names.map((g) => log.groupState(ns, req.params.topic, g))) };
      },
    );

    app.get(
      '/topics/:topic/groups/:group',
      { config: { action: 'groups:read' }, schema: { tags: ['groups'], summary: 'Committed offsets and lag of a group', params: GroupParams, response: { 200: GroupStateOut, 404: ProblemSchema } } },
      async (req) => log.groupState(namespaceOf(req), req.params.topic, req.params.group),
    );

    app.post(
      '/topics/:topic/groups/:group/fetch',
      { config: { action: 'groups:consume', audit: false },
        preValidation: noBodyIsEmpty,
        schema: {
          tags: ['groups'],
          summary: 'Fetch the next events for the group (at-least-once: commit them when processed)',
          description: 'Fetched events that are not committed within 30 s are delivered again.',
          params: GroupParams,
          body: Type.Object({ max: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })), waitMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 30000, default: 0 })) }, { additionalProperties: false }),
          response: { 200: Type.Object({ events: Type.Array(EventOut) }), 404: ProblemSchema },
        },
      },
      async (req) => {
        const c = await log.sharedConsumer(namespaceOf(req), req.params.topic, req.params.group);
        const events = await c.fetch({ max: req.body?.max ?? 100, waitMs: req.body?.waitMs ?? 0 });
        return { events: events.map(eventOut) };
      },
    );

    app.post(
      '/topics/:topic/groups/:group/commit',
      { config: { action: 'groups:consume' },
        preValidation: noBodyIsEmpty,
        schema: {
          tags: ['groups'],
          summary: 'Commit processed events: each position covers its offset and all before it in that partition',
          description: 'Without a body, commits everything this process fetched for the group.',
          params: GroupParams,
          body: Type.Object({ offsets: Type.Optional(Type.Array(Position, { maxItems: 256 })) }, { additionalProperties: false }),
          response: { 200: GroupStateOut, 404: ProblemSchema },
        },
      },
      async (req) => {
        const ns = namespaceOf(req);
        const c = await log.sharedConsumer(ns, req.params.topic, req.params.group);
        await c.commit(req.body?.offsets);
        return log.groupState(ns, req.params.topic, req.params.group);
      },
    );

    app.post(
      '/topics/:topic/groups/:group/reset',
      { config: { action: 'groups:reset' },
        schema: {
          tags: ['groups'],
          summary: 'Replay: move the group to earliest, latest, a time, or given offsets',
          params: GroupParams,
          body: Type.Object(
            {
              to: Type.Optional(Type.Union([Type.Literal('earliest'), Type.Literal('latest')])),
              time: Type.Optional(Type.String({ description: 'RFC 3339: replay events ingested at or after it' })),
              offsets: Type.Optional(Type.Array(Position, { minItems: 1, maxItems: 256 })),
            },
            { additionalProperties: false },
          ),
          response: { 200: GroupStateOut, 400: ProblemSchema, 404: ProblemSchema },
        },
      },
      async (req) => {
        const b = req.body;
        const given = [b.to, b.time, b.offsets].filter((x) => x !== undefined).length;
        if (given !== 1) throw new AiosError('AIOS_VALIDATION', 'give exactly one of to, time or offsets');
        let target: ResetTarget;
        if (b.to) target = { to: b.to };
        else if (b.time !== undefined) {
          const t = parseTime(b.time);
          if (t === undefined) throw new AiosError('AIOS_VALIDATION', 'time must be an RFC 3339 timestamp');
          target = { time: t };
        } else target = { offsets: b.offsets! };
        return log.resetGroup(namespaceOf(req), req.params.topic, req.params.group, target);
      },
    );
  };
}
