import Fastify, { LogController, type FastifyPluginAsync } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { collectOperations, type Capability } from '../capability/index.ts';
import { AiosError, uuidv7 } from '../core/index.ts';
import { API_PREFIX, type App, type HttpDeps, type RouteInfo, type ServerLimits } from '../http/index.ts';
import type { Governance } from '../governance/index.ts';
import { createGuard, isPublicPath } from './guard.ts';
import { refuseUnacceptedMediaType, registerContentTypes } from './content-types.ts';
import { createInflightBodies } from './inflight-bodies.ts';
import { problemOnClientError } from './client-errors.ts';
import { methodsAllowed } from './method-not-allowed.ts';
import { completeDocument, type OpenApiDocument } from './openapi.ts';
import { JSON_ONLY, OPERATIONS, operationRegistry } from './operations.ts';
import { refuseNulInRequest } from './nul-guard.ts';
import { errorHandler, sendProblem, toAiosError } from './problem.ts';
import { healthRoutes } from './routes/health.ts';

/** The server's deps: its own, and the services of every capability, by name. */
export type ServerDeps = HttpDeps & { readonly governance: Governance } & Readonly<Record<string, unknown>>;

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


const inventories = new WeakMap<object, RouteInfo[]>();

/** Every route the app registered, for the route-inventory test and `aios routes`. */
export function routeInventory(app: App): readonly RouteInfo[] {
  return inventories.get(app) ?? [];
}
export { API_PREFIX, NAMESPACE_HEADER, LINEAGE_HEADER, namespaceOf } from '../http/index.ts';
export type { App, RouteInfo, ServerLimits } from '../http/index.ts';

/**
 * Builds the HTTP API from the capabilities: each one's routes under its prefix, its operations
 * and tags in the OpenAPI document. Tests drive it with `app.inject()`; `aios start` listens.
 */
export async function buildServer(deps: ServerDeps, capabilities: readonly Capability[]): Promise<App> {
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
  const operationTable = collectOperations(OPERATIONS, capabilities);
  const operations = operationRegistry(operationTable);
  const actions = deps.governance.actionTable.actions;
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) inventory.push({ method: String(method), url: route.url, action: route.config?.action });
    if (!route.config?.action && !isPublicPath(route.url) && !route.url.startsWith('/docs')) {
      throw new Error(`route ${String(route.method)} ${route.url} declares no authorization action`);
    }
    if (route.config?.action && !Object.hasOwn(actions, route.config.action)) {
      throw new Error(`route ${String(route.method)} ${route.url} declares the action "${route.config.action}", which no capability declares`);
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
    transformObject: (documents) => completeDocument((documents as { openapiObject: OpenApiDocument }).openapiObject, operationTable) as never,
    openapi: {
      openapi: '3.0.3',
      info: { title: 'AIOS API', version: '0.1.0', description: 'Events, workflows, models, decisions and people: one operating layer.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'an AIOS API key (aios_...) or an OIDC access token' } } },
      security: [{ bearer: [] }],
      tags: [...capabilities.flatMap((c) => c.http?.tags ?? []), { name: 'system', description: 'Health, readiness and metrics' }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  await app.register(healthRoutes(deps));
  for (const c of capabilities) {
    if (!c.http) continue;
    // The contract types the plugin loosely (it imports no Fastify); the route kit types it.
    const plugin = (c.http.plugin as (d: ServerDeps) => FastifyPluginAsync)(deps);
    await app.register(plugin, { prefix: c.http.prefix ?? API_PREFIX });
  }
  operations.checkComplete();
  return app;
}
