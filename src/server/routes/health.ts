import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import type { Governance } from '../../governance/index.ts';
import type { RouteDeps } from '../../http/index.ts';

type ServerDeps = RouteDeps<{ governance: Governance }>;

export function healthRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', { schema: { tags: ['system'], security: [], summary: 'Liveness: the process is up (no credentials needed)', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({ status: 'ok' as const }));
    app.get(
      '/readyz',
      { schema: { tags: ['system'], security: [], summary: 'Readiness: migrations and recovery are done, and authorization can decide (no credentials needed)', response: { 200: Type.Object({ status: Type.String() }), 503: Type.Object({ status: Type.String() }) } } },
      async (_req, reply) => {
        if (!deps.isReady()) return reply.code(503).send({ status: 'starting' });
        if (deps.authEnabled && !deps.governance.authorizer.ready) return reply.code(503).send({ status: 'authorization unavailable' });
        return { status: 'ready' };
      },
    );
    app.get('/metrics', { config: { action: 'system:metrics', resource: () => ({ type: 'Namespace', id: '*', namespace: '*' }) }, schema: { tags: ['system'], summary: 'Prometheus metrics' } }, async (_req, reply) => {
      reply.type(deps.metrics.contentType);
      return deps.metrics.metrics();
    });
  };
}
