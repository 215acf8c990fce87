import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyRequest, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import { AiosError, uuidv7, type Logger } from '../core/index.ts';
import type { EventLog } from '../events/index.ts';
import { registerContentTypes } from './content-types.ts';
import { errorHandler, sendProblem } from './problem.ts';
import { healthRoutes } from './routes/health.ts';
import { topicRoutes } from './routes/topics.ts';
import { eventRoutes } from './routes/events.ts';
import { groupRoutes } from './routes/groups.ts';

export interface ServerDeps {
  readonly events: EventLog;
  readonly metrics: Registry;
  readonly logger: Logger;
  readonly limits: { readonly bodyLimitBytes: number };
  /** True once migrations and recovery are done, false again while shutting down. */
  isReady(): boolean;
  /** Live streams (SSE) to end when the process shuts down. */
  readonly streams: Set<AbortController>;
}

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export const API_PREFIX = '/api/v1';
export const NAMESPACE_HEADER = 'x-aios-namespace';

/** The namespace of a request. Authentication (a later capability) will derive it from the principal. */
export function namespaceOf(req: FastifyRequest): string {
  const h = req.headers[NAMESPACE_HEADER];
  return typeof h === 'string' && h.length ? h : 'default';
}

/** Builds the HTTP API. Tests drive it with `app.inject()`; `aios start` listens on a port. */
export async function buildServer(deps: ServerDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.limits.bodyLimitBytes,
    genReqId: () => uuidv7(),
    requestIdHeader: 'x-request-id',
    logController: new LogController({ disableRequestLogging: true }),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => sendProblem(reply, new AiosError('AIOS_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`), req));
  registerContentTypes(app);
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    if (req.url !== '/metrics' && req.url !== '/healthz' && req.url !== '/readyz') {
      req.log.info({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    }
  });
  // API routes answer 503 until the store is migrated and recovered, and again while draining.
  app.addHook('onRequest', async (req, reply) => {
    if (req.url.startsWith(API_PREFIX) && !deps.isReady()) {
      return sendProblem(reply, new AiosError('AIOS_NOT_READY', 'AIOS is starting or shutting down; retry shortly'), req);
    }
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'AIOS API', version: '0.1.0', description: 'Events, workflows, models, decisions and people: one operating layer.' },
      tags: [
        { name: 'topics', description: 'Event topics and their data contracts' },
        { name: 'events', description: 'Append, read and tail events' },
        { name: 'groups', description: 'Consumer groups: at-least-once delivery and replay' },
        { name: 'system', description: 'Health, readiness and metrics' },
      ],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(deps));
  await app.register(topicRoutes(deps), { prefix: API_PREFIX });
  await app.register(eventRoutes(deps), { prefix: API_PREFIX });
  await app.register(groupRoutes(deps), { prefix: API_PREFIX });
  return app;
}
