import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { ServerDeps } from '../app.ts';

export function healthRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['system'], security: [], summary: 'Liveness: the process is up (no credentials needed)', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
    app.get(
      '/readyz',
      { schema: { tags: ['system'], security: [], summary: 'Readiness: migrations and recovery are done (no credentials needed)', response: { 200: Type.Object({ status: Type.String() }), 503: Type.Object({ status: Type.String() }) } } },
      async (_req, reply) => (deps.isReady() ? { status: 'ready' } : reply.code(503).send({ status: 'starting' })),
    );
    app.get('/metrics', { config: { action: 'system:metrics', resource: () => ({ type: 'Namespace', id: '*', namespace: '*' }) }, schema: { tags: ['system'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
      reply.type(deps.metrics.contentType);
      return deps.metrics.metrics();
    });
  };
}
