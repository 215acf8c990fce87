import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AiosError, parseTime, toRfc3339 } from '../../core/index.ts';
import { ROLES, type ApiKeyInfo } from '../index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { PageQuery, ProblemSchema } from '../../http/index.ts';
import { pageOf, pagedList, pageSchema } from '../../http/index.ts';

const KeyOut = Type.Object({
  id: Type.String({ description: 'the visible prefix that names the key' }),
  namespace: Type.String(),
  name: Type.String(),
  principal: Type.Object({ type: Type.String(), id: Type.String() }),
  roles: Type.Array(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

const KeyParams = Type.Object({ id: Type.String({ pattern: '^aios_[a-z2-9]{12}$' }) });

const iso = (t: number | null) => (t === null ? null : toRfc3339(t));
function keyOut(k: ApiKeyInfo) {
  return { ...k, roles: [...k.roles], createdAt: toRfc3339(k.createdAt), expiresAt: iso(k.expiresAt), revokedAt: iso(k.revokedAt), lastUsedAt: iso(k.lastUsedAt) };
}

export function keyRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const keys = deps.governance.keys;

    app.get(
      '/auth/whoami',
      {
        config: { action: 'auth:whoami' },
        schema: {
          tags: ['keys'],
          summary: 'Who the credentials stand for, and the namespace requests act in',
          response: { 200: Type.Object({ principal: Type.Object({ type: Type.String(), id: Type.String(), namespace: Type.String(), roles: Type.Array(Type.String()), authMethod: Type.String(), keyId: Type.Optional(Type.String()) }), namespace: Type.String() }) },
        },
      },
      async (req) => {
        const p = req.aiosAuth!.principal;
        return { principal: { ...p, roles: [...p.roles] }, namespace: namespaceOf(req) };
      },
    );

    app.post(
      '/keys',
      {
        config: { action: 'keys:create' },
        schema: {
          tags: ['keys'],
          summary: 'Create an API key; the key is in this answer and never again',
          body: Type.Object(
            {
              name: Type.String({ minLength: 1, maxLength: 200 }),
              roles: Type.Array(Type.Union(ROLES.map((r) => Type.Literal(r))), { minItems: 1, maxItems: ROLES.length }),
              type: Type.Optional(Type.Union([Type.Literal('user'), Type.Literal('service')], { default: 'service' })),
              principalId: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'the user or service the key stands for, unique within the namespace: letters, digits and . _ @ + : -; not admin, anonymous, workflow-engine, nor starting aios-, system or key:; default key:<id>' })),
              expiresAt: Type.Optional(Type.String({ format: 'date-time' })),
            },
            { additionalProperties: false },
          ),
          response: { 201: Type.Object({ key: Type.String({ description: 'store it now: it is not shown again' }), info: KeyOut }), 400: ProblemSchema },
        },
      },
      async (req, reply) => {
        const b = req.body;
        const expiresAt = b.expiresAt === undefined ? null : parseTime(b.expiresAt);
        // A time the schema's format takes but no clock reaches (23:59:60) is not "never expires".
        if (expiresAt === undefined) throw new AiosError('AIOS_VALIDATION', 'expiresAt is not a time AIOS can represent', { errors: [{ path: '/body/expiresAt', message: 'must be an RFC 3339 time' }] });
        const { key, info } = await keys.create(namespaceOf(req), {
          name: b.name,
          roles: b.roles,
          type: b.type,
          principalId: b.principalId,
          expiresAt,
          by: req.aiosAuth!.principal,
        });
        return reply.code(201).send({ key, info: keyOut(info) });
      },
    );

    app.get(
      '/keys',
      {
        config: { action: 'keys:list' },
        schema: {
          tags: ['keys'],
          summary: 'API keys of the namespace (never the keys themselves)',
          querystring: PageQuery,
          response: { 200: pageSchema('keys', KeyOut) },
        },
      },
      async (req) => pagedList('keys', req.query.limit, async (limit) => pageOf(await keys.list(namespaceOf(req), { after: req.query.after, limit }), limit, (x) => x.id), keyOut),
    );

    app.get(
      '/keys/:id',
      { config: { action: 'keys:read' }, schema: { tags: ['keys'], summary: 'One API key\'s metadata', params: KeyParams, response: { 200: KeyOut, 404: ProblemSchema } } },
      async (req) => keyOut(await keys.get(namespaceOf(req), req.params.id)),
    );

    app.delete(
      '/keys/:id',
      { config: { action: 'keys:revoke' }, schema: { tags: ['keys'], summary: 'Revoke an API key (at once in this process, within 5 s in others)', params: KeyParams, response: { 200: KeyOut, 404: ProblemSchema } } },
      async (req) => keyOut(await keys.revoke(namespaceOf(req), req.params.id)),
    );
  };
}
