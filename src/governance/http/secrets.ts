import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import type { SecretMetadata } from '../index.ts';
import { actorOf } from '../../http/index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { PageQuery, ProblemSchema } from '../../http/index.ts';
import { pageOf, pagedList, pageSchema } from '../../http/index.ts';

const SecretParams = Type.Object({ name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$' }) });

const SecretOut = Type.Object({
  name: Type.String(),
  version: Type.Integer(),
  description: Type.Union([Type.String(), Type.Null()]),
  masterKeyId: Type.String({ description: 'fingerprint of the master key wrapping the data key' }),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

function out(m: SecretMetadata) {
  return { ...m, createdAt: toRfc3339(m.createdAt), updatedAt: toRfc3339(m.updatedAt) };
}

export function secretRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const secrets = deps.governance.secrets;

    app.get(
      '/secrets',
      {
        config: { action: 'secrets:list' },
        schema: {
          tags: ['secrets'],
          summary: 'Secrets of the namespace: names and metadata, never values',
          querystring: PageQuery,
          response: { 200: pageSchema('secrets', SecretOut) },
        },
      },
      async (req) => pagedList('secrets', req.query.limit, async (limit) => pageOf(await secrets.list(namespaceOf(req), { after: req.query.after, limit }), limit, (x) => x.name), out),
    );

    app.get(
      '/secrets/:name',
      { config: { action: 'secrets:read' }, schema: { tags: ['secrets'], summary: 'A secret\'s metadata (not its value)', params: SecretParams, response: { 200: SecretOut, 404: ProblemSchema } } },
      async (req) => out(await secrets.get(namespaceOf(req), req.params.name)),
    );

    app.put(
      '/secrets/:name',
      {
        config: { action: 'secrets:write', auditInput: false },
        schema: {
          tags: ['secrets'],
          summary: 'Create or replace a secret (a new version, encrypted under a fresh data key)',
          params: SecretParams,
          body: Type.Object({ value: Type.String({ minLength: 1, maxLength: 65536 }), description: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
          response: { 200: SecretOut, 400: ProblemSchema },
        },
      },
      async (req) => out(await secrets.put(namespaceOf(req), req.params.name, req.body.value, { actor: actorOf(req.aiosAuth!.principal), description: req.body.description })),
    );

    app.post(
      '/secrets/:name/reveal',
      {
        // The store audits every reveal itself (success or failure), so the route does not add a second record.
        config: { action: 'secrets:reveal', audit: false },
        schema: {
          tags: ['secrets'],
          summary: 'Read a secret\'s value; every read is audited',
          params: SecretParams,
          response: { 200: Type.Object({ name: Type.String(), value: Type.String() }), 404: ProblemSchema },
        },
      },
      async (req) => {
        const value = await secrets.reveal(namespaceOf(req), req.params.name, { actor: actorOf(req.aiosAuth!.principal), requestId: req.id, lineageId: req.lineageId });
        return { name: req.params.name, value };
      },
    );

    app.delete(
      '/secrets/:name',
      { config: { action: 'secrets:delete' }, schema: { tags: ['secrets'], summary: 'Delete a secret', params: SecretParams, response: { 204: Type.Null(), 404: ProblemSchema } } },
      async (req, reply) => {
        await secrets.delete(namespaceOf(req), req.params.name);
        return reply.code(204).send(null);
      },
    );
  };
}
