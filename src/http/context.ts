import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, RawServerDefault } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Registry } from 'prom-client';
import type { Logger } from '../core/index.ts';

/** The Fastify instance every route plugin registers on. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export const API_PREFIX = '/api/v1';
export const NAMESPACE_HEADER = 'x-aios-namespace';
export { LINEAGE_HEADER } from '../governance/lineage/lineage.ts';

/** Bounds of what a client may send and how long it may take; see the config options of the same names. */
export interface ServerLimits {
  readonly bodyLimitBytes: number;
  readonly inflightBodyBytes: number;
  readonly inflightBodyNamespacePercent: number;
  readonly inflightBodyPrincipalPercent: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
}

/** What the server gives every route plugin, whichever capability it belongs to. */
export interface HttpDeps {
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

/**
 * The deps of a capability's routes: the server's own, and the services of the capabilities
 * they use, by name (`events`, `governance`, ...), as the runtime assembled them.
 *
 * @example
 * type Deps = RouteDeps<{ events: EventLog }>;
 * export function topicRoutes(deps: Deps): FastifyPluginAsync { ... deps.events.listTopics(ns) ... }
 */
export type RouteDeps<S extends object = object> = HttpDeps & Readonly<S>;

/** A registered route and the authorization action it declares (none for the open ones). */
export interface RouteInfo {
  readonly method: string;
  readonly url: string;
  readonly action: string | undefined;
}
