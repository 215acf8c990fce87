import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import { AiosError, uuidv7, type Logger } from '../core/index.ts';
import type { EventLog } from '../events/index.ts';
import type { Governance } from '../governance/index.ts';
import type { ScheduleStore, WorkflowEngine } from '../workflows/index.ts';
import { createGuard, isPublicPath } from './guard.ts';
import { refuseUnacceptedMediaType, registerContentTypes } from './content-types.ts';
import { createInflightBodies } from './inflight-bodies.ts';
import { problemOnClientError } from './client-errors.ts';
import { methodsAllowed } from './method-not-allowed.ts';
import { completeDocument, type OpenApiDocument } from './openapi.ts';
import { JSON_ONLY, operationRegistry } from './operations.ts';
import { refuseNulInRequest } from './nul-guard.ts';
import { errorHandler, sendProblem, toAiosError } from './problem.ts';
import { healthRoutes } from './routes/health.ts';
import { topicRoutes } from './routes/topics.ts';
import { eventRoutes } from './routes/events.ts';
import { groupRoutes } from './routes/groups.ts';
import { keyRoutes } from './routes/keys.ts';
import { policyRoutes } from './routes/policies.ts';
import { auditRoutes } from './routes/audit.ts';
import { lineageRoutes } from './routes/lineage.ts';
import { secretRoutes } from './routes/secrets.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { scheduleRoutes } from './routes/schedules.ts';

export interface ServerDeps {
  readonly events: EventLog;
  readonly governance: Governance;
  readonly workflows: WorkflowEngine;
  readonly schedules: ScheduleStore;
  /** False only where a benchmark measures the API without authentication and authorization. */
  readonly authEnabled: boolean;
  readonly metrics: Registry;
  readonly logger: Logger;
  readonly limits: ServerLimits;
  /** True once migrations and recovery are done, false again while shutting down. */
  isReady(): boolean;
  /** Live streams (SSE) to end when the process shuts down. */
  readonly streams: Set<AbortController>;
}

/** Bounds of what a client may send and how long it may take; see the config options of the same names. */
export interface ServerLimits {
  readonly bodyLimitBytes: number;
  readonly inflightBodyBytes: number;
  readonly inflightBodyNamespacePercent: number;
  readonly inflightBodyPrincipalPercent: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
}

/**
 * Node's own request timers: the whole request (headers and body) within `requestTimeoutMs`,
 * the headers within `headersTimeoutMs` (never above the request timeout, as Node requires).
 * Node checks them every `connectionsCheckingInterval` (30 s by default, far coarser than the
 * timeouts): a quarter of the shorter one, between 0.1 and 1 s. A request is timed only until it
 * has arrived, so a long response (an event stream) is never cut by them.
 */
function httpTimeouts(l: ServerLimits) {
  const requestTimeout = l.requestTimeoutMs;
  const headersTimeout = requestTimeout > 0 && l.headersTimeoutMs > 0 ? Math.min(l.headersTimeoutMs, requestTimeout) : l.headersTimeoutMs;
  const shorter = Math.min(...[requestTimeout, headersTimeout].filter((t) => t > 0));
  const connectionsCheckingInterval = Number.isFinite(shorter) ? Math.max(100, Math.min(1000, Math.floor(shorter / 4))) : 30_000;
  return { requestTimeout, headersTimeout, connectionsCheckingInterval };
}

export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export const API_PREFIX = '/api/v1';

/** A registered route and the authorization action it declares (none for the open ones). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly action: string | undefined;
}

const inventories = new WeakMap<object, RouteInfo[]>();

/** Every route the app registered, for the route-inventory test and `aios routes`. */
export function routeInventory(app: App): readonly RouteInfo[] {
  return inventories.get(app) ?? [];
}
export { NAMESPACE_HEADER, LINEAGE_HEADER, namespaceOf } from './guard.ts';

/** Builds the HTTP API. Tests drive it with `app.inject()`; `aios start` listens on a port. */
export async function buildServer(deps: ServerDeps): Promise<App> {
  const app = Fastify({
    loggerInstance: deps.logger,
    bodyLimit: deps.limits.bodyLimitBytes,
    requestTimeout: deps.limits.requestTimeoutMs,
    http: httpTimeouts(deps.limits),
    genReqId: () => uuidv7(),
    requestIdHeader: 'x-request-id',
    logController: new LogController({ disableRequestLogging: true }),
    // Router errors (a malformed URL, an over-long parameter) answer problem+json like the rest.
    frameworkErrors: (err, req, reply) => sendProblem(reply, toAiosError(err), req),
    // What Node's HTTP parser refuses (a NUL in a header, headers over the limit) too.
    clientErrorHandler: problemOnClientError(deps.logger),
    ajv: { customOptions: { coerceTypes: 'array', removeAdditional: false, allErrors: false } },
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  app.setErrorHandler(errorHandler);
  const inventory: RouteInfo[] = [];
  inventories.set(app, inventory);
  const allowedAt = methodsAllowed(inventory);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allowed = allowedAt(path);
    if (allowed.length) return sendProblem(reply, new AiosError('AIOS_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; it takes ${allowed.join(', ')}`, { extra: { allowed } }), req);
    return sendProblem(reply, new AiosError('AIOS_NOT_FOUND', `no route ${req.method} ${path}`), req);
  });
  registerContentTypes(app);
  app.addHook('preParsing', refuseUnacceptedMediaType);
  // Every route declares its authorization action, or is one of the few open ones; a route
  // without either fails at start-up, so none can slip through unguarded. Every documented
  // route has a unique operationId and its accepted media types from the operations table.
  const operations = operationRegistry();
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) inventory.push({ method: String(method), url: route.url, action: route.config?.action });
    if (!route.config?.action && !isPublicPath(route.url) && !route.url.startsWith('/docs')) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no authorization action`);
    }
    const documented = !route.schema?.hide && !route.url.startsWith('/docs');
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || !documented) continue;
      const op = operations.route(String(method), route.url, (route.schema as { operationId?: string } | undefined)?.operationId);
      route.config = { ...route.config, accepts: op.accepts ?? JSON_ONLY };
    }
  });
  app.addHook('onSend', async (req, reply) => {
    reply.header('x-request-id', req.id);
  });
  app.addHook('onResponse', async (req, reply) => {
    if (req.url !== '/metrics' && req.url !== '/healthz' && req.url !== '/readyz') {
      req.log.info({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode, ms: Math.round(reply.elapsedTime * 10) / 10 }, 'request');
    }
  });
  // API routes answer 503 until the store is migrated and recovered, and again while draining.
  app.addHook('onRequest', (req, reply, done) => {
    if (req.url.startsWith(API_PREFIX) && !deps.isReady()) {
      sendProblem(reply, new AiosError('AIOS_NOT_READY', 'AIOS is starting or shutting down; retry shortly'), req);
      return;
    }
    done();
  });
  app.addHook('onRequest', refuseNulInRequest);
  const guard = createGuard({ ...deps.governance, audit: deps.governance.audit, logger: deps.logger, metrics: deps.metrics, enabled: deps.authEnabled });
  app.addHook('onRequest', guard.onRequest);
  // After the guard: bodies are counted against the authenticated namespace and principal.
  const bodies = createInflightBodies({ totalBytes: deps.limits.inflightBodyBytes, namespacePercent: deps.limits.inflightBodyNamespacePercent, principalPercent: deps.limits.inflightBodyPrincipalPercent, bodyLimitBytes: deps.limits.bodyLimitBytes }, deps.metrics);
  app.addHook('onRequest', bodies.onRequest);
  app.addHook('onSend', guard.onSend);

  await app.register(swagger, {
    transformObject: (documents) => completeDocument((documents as { openapiObject: OpenApiDocument }).openapiObject) as never,
    openapi: {
      openapi: '3.0.3',
      info: { title: 'AIOS API', version: '0.1.0', description: 'Events, workflows, models, decisions and people: one operating layer.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an AIOS API key (aios_...) or an OIDC access token' } } },
      security: [{ bearer: [] }],
      tags: [
        { name: 'topics', description: 'Event topics and their data contracts' },
        { name: 'events', description: 'Append, read and tail events' },
        { name: 'groups', description: 'Consumer groups: at-least-once delivery and replay' },
        { name: 'keys', description: 'API keys: created once, stored as hashes, revocable' },
        { name: 'policies', description: 'The Cedar policy set: versioned, validated before it is accepted' },
        { name: 'audit', description: 'The tamper-evident audit trail: query, export, verify' },
        { name: 'lineage', description: 'Where a result came from and what it led to; OpenLineage export' },
        { name: 'secrets', description: 'Encrypted secrets: values never listed, every read audited' },
        { name: 'workflows', description: 'Durable workflow runs: start, signal, cancel, retry, read state and history' },
        { name: 'schedules', description: 'Cron schedules that start workflow runs' },
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
  await app.register(keyRoutes(deps), { prefix: API_PREFIX });
  await app.register(policyRoutes(deps), { prefix: API_PREFIX });
  await app.register(auditRoutes(deps), { prefix: API_PREFIX });
  await app.register(lineageRoutes(deps), { prefix: API_PREFIX });
  await app.register(secretRoutes(deps), { prefix: API_PREFIX });
  await app.register(workflowRoutes(deps), { prefix: API_PREFIX });
  await app.register(scheduleRoutes(deps), { prefix: API_PREFIX });
  operations.checkComplete();
  return app;
}
