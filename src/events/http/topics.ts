import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import type { Topic } from '../index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { PageQuery, ProblemSchema } from '../../http/index.ts';
import { TopicParams } from './event-schemas.ts';
import { pageOf, pagedList, pageSchema } from '../../http/index.ts';

const Retention = Type.Object(
  {
    ms: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], { description: 'delete events ingested longer ago than this' })),
    count: Type.Optional(Type.Union([Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }), Type.Null()], { description: 'keep at most this many latest offsets per partition' })),
  },
  { additionalProperties: false },
);

const JsonSchema = Type.Union([Type.Object({}, { additionalProperties: true }), Type.Boolean()], { description: 'JSON Schema every event\'s data must match' });

export const TopicSpecSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,99}$', description: 'lower-case letters, digits, _ and -' }),
    description: Type.Optional(Type.String({ maxLength: 2000 })),
    schema: Type.Optional(JsonSchema),
    keyField: Type.Optional(Type.String({ maxLength: 200, description: 'dotted path into data used as the partition key, e.g. "turbineId"' })),
    partitions: Type.Optional(Type.Integer({ minimum: 1, maximum: 256, default: 1 })),
    retention: Type.Optional(Retention),
  },
  { additionalProperties: false },
);

const TopicUpdateSchema = Type.Object(
  { description: Type.Optional(Type.String({ maxLength: 2000 })), schema: Type.Optional(JsonSchema), retention: Type.Optional(Retention) },
  { additionalProperties: false },
);

const PartitionOut = Type.Object({ partition: Type.Integer(), first: Type.Integer(), next: Type.Integer() });

export const TopicOut = Type.Object({
  name: Type.String(),
  namespace: Type.String(),
  description: Type.Union([Type.String(), Type.Null()]),
  schema: JsonSchema,
  schemaVersion: Type.Integer(),
  keyField: Type.Union([Type.String(), Type.Null()]),
  partitions: Type.Integer(),
  retention: Type.Object({ ms: Type.Union([Type.Integer(), Type.Null()]), count: Type.Union([Type.Integer(), Type.Null()]) }),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
  offsets: Type.Optional(Type.Array(PartitionOut)),
});

export function topicOut(t: Topic) {
  return {
    name: t.name,
    namespace: t.ns,
    description: t.description,
    schema: t.schema,
    schemaVersion: t.schemaVersion,
    keyField: t.keyField,
    partitions: t.partitions,
    retention: t.retention,
    createdAt: toRfc3339(t.createdAt),
    updatedAt: toRfc3339(t.updatedAt),
  };
}

export function topicRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const log = deps.events;

    app.post(
      '/topics',
      { config: { action: 'topics:create' },
        schema: {
          tags: ['topics'],
          summary: 'Create a topic (idempotent: the same definition again answers 200)',
          body: TopicSpecSchema,
          response: { 201: TopicOut, 200: TopicOut, 409: ProblemSchema, 400: ProblemSchema },
        },
      },
      async (req, reply) => {
        const { topic, created } = await log.createTopic(namespaceOf(req), req.body);
        return reply.code(created ? 201 : 200).send(topicOut(topic));
      },
    );

    app.get(
      '/topics',
      { config: { action: 'topics:list' },
        schema: {
          tags: ['topics'],
          summary: 'List topics, by name, with a cursor',
          querystring: PageQuery,
          response: { 200: pageSchema('topics', TopicOut) },
        },
      },
      async (req) => pagedList('topics', req.query.limit, async (limit) => pageOf(await log.listTopics(namespaceOf(req), { after: req.query.after, limit }), limit, (x) => x.name), topicOut),
    );

    app.get(
      '/topics/:topic',
      { config: { action: 'topics:read' }, schema: { tags: ['topics'], summary: 'A topic with its partitions\' offsets', params: TopicParams, response: { 200: TopicOut, 404: ProblemSchema } } },
      async (req) => {
        const topic = await log.getTopic(namespaceOf(req), req.params.topic);
        return { ...topicOut(topic), offsets: [...(await log.store.bounds(topic))] };
      },
    );

    app.patch(
      '/topics/:topic',
      { config: { action: 'topics:update' },
        schema: {
          tags: ['topics'],
          summary: 'Change description, retention, or the schema (backward-compatible changes only)',
          params: TopicParams,
          body: TopicUpdateSchema,
          response: { 200: TopicOut, 404: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req) => topicOut(await log.updateTopic(namespaceOf(req), req.params.topic, req.body)),
    );

    app.delete(
      '/topics/:topic',
      { config: { action: 'topics:delete' }, schema: { tags: ['topics'], summary: 'Delete a topic and its events', params: TopicParams, response: { 204: Type.Null(), 404: ProblemSchema } } },
      async (req, reply) => {
        await log.deleteTopic(namespaceOf(req), req.params.topic);
        return reply.code(204).send(null);
      },
    );

    app.get(
      '/topics/:topic/schemas',
      { config: { action: 'topics:read' },
        schema: {
          tags: ['topics'],
          summary: 'Every version of the topic\'s data contract',
          params: TopicParams,
          response: { 200: Type.Object({ versions: Type.Array(Type.Object({ version: Type.Integer(), schema: JsonSchema, createdAt: Type.String() })) }) },
        },
      },
      async (req) => {
        const versions = await log.schemaHistory(namespaceOf(req), req.params.topic);
        return { versions: versions.map((v) => ({ version: v.version, schema: v.schema as object, createdAt: toRfc3339(v.createdAt) })) };
      },
    );
  };
}
