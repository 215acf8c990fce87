import type { Command } from 'commander';
import type { Registry } from 'prom-client';
import type { Clock, ConfigOptionSpec, ErrorSpec, Logger } from '../core/index.ts';
import type { Database, Migration } from '../storage/index.ts';

/** An authorization action a capability's routes declare; the Cedar schema is generated from them. */
export interface ActionSpec {
  readonly group: 'read' | 'write' | 'operate' | 'administer';
  /** The Cedar entity type it applies to: one of governance's, or one the capability declares. */
  readonly resource: string;
  readonly description: string;
}

/** A Prometheus metric a capability registers, for the docs and the check that each one is served. */
export interface MetricSpec {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
}

/** What the OpenAPI document and the server say of one operation, beyond its Fastify schema. */
export interface OperationSpec {
  /** The operationId: stable, unique, what generated clients name their method. */
  readonly id: string;
  /** Media types the request body may have (415 for any other); `application/json` when absent. */
  readonly accepts?: readonly string[];
  /** Media type of the success answer when it is not JSON. */
  readonly produces?: string;
}

/**
 * A sample request for one route, so the generic route tests (namespace isolation, the write
 * routes' property test) exercise a capability's routes without knowing them.
 */
export interface RouteFixture {
  /** The URL with its parameters filled in, e.g. `/api/v1/topics/t1`. */
  readonly url: string;
  readonly body?: unknown;
  /** What a principal of another namespace gets: the answer (default), or a 404 for a URL naming nothing. */
  readonly expect?: 'ok' | 'not-found';
}

/**
 * The HTTP side of a capability. `plugin` is a Fastify plugin (the route kit in `src/http/`
 * types it); the contract itself imports no Fastify, so a capability's domain code never does.
 */
export interface HttpSurface {
  /** Builds the routes from the server's deps and the services of the capabilities used. */
  readonly plugin: (deps: never) => unknown;
  /** Mounted under this prefix; `/api/v1` by default. */
  readonly prefix?: string;
  /** Every documented operation, by `METHOD /openapi/path`. */
  readonly operations: Readonly<Record<string, OperationSpec>>;
  /** The OpenAPI tags its routes use, with their descriptions. */
  readonly tags: readonly { readonly name: string; readonly description: string }[];
  /** A sample request per route (`METHOD /path/:param`), for the generic route tests. */
  readonly fixtures?: Readonly<Record<string, RouteFixture>>;
}

/** What the CLI gives each capability's commands: the assembled config loader and migrations. */
export interface CliContext {
  loadConfig(flags: Record<string, string | number | undefined>, env: Record<string, string | undefined>, file?: string): object;
  readonly migrations: readonly Migration[];
}

/** What the runtime gives `create`: the shared resources and the services of the capabilities used. */
export interface CapabilityContext {
  readonly config: object;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** The services of every capability created before this one (its `uses` among them). */
  readonly services: Readonly<Record<string, unknown>>;
  /** Every capability of the runtime, for those that assemble something from all of them. */
  readonly capabilities: readonly Capability[];
  /** Options of `createAios` that concern one capability (e.g. `policyEngine`). */
  readonly options: Readonly<Record<string, unknown>>;
}

/** What a start hook may report: fields for the "AIOS is ready" log line, and facts the runtime exposes. */
export interface StartReport {
  readonly log?: Readonly<Record<string, unknown>>;
  readonly createdAdminKeyFile?: string;
}

/** A created capability: its services, by name, and what it does at start and stop. */
export interface CapabilityInstance<S extends object = object> {
  readonly services: S;
  /** Run in dependency order, after migrations. */
  start?(): Promise<StartReport | void> | StartReport | void;
  /** Run in reverse dependency order; idempotent. */
  stop?(): Promise<void> | void;
}

/**
 * One capability: everything it adds to AIOS, declared in one object. The runtime, the server,
 * the CLI, the error registry, the Cedar schema, the config table and the OpenAPI document are
 * assembled from the list of them (`src/runtime/capabilities.ts`).
 */
export interface Capability<S extends object = object> {
  /** Lower-case, unique: `events`, `governance`. */
  readonly id: string;
  /** Ids of the capabilities whose services `create` uses: created and started before this one. */
  readonly uses?: readonly string[];
  /** Its migrations, numbered in the one global sequence (`0001`...), never edited once shipped. */
  readonly migrations?: readonly Migration[];
  /** Its error codes, each prefixed by the capability (`AIOS_INFO_...`). */
  readonly errors?: Readonly<Record<string, ErrorSpec>>;
  /**
   * The prefixes its codes take, when not `AIOS_<ID>_`: codes that shipped under shorter prefixes
   * (`AIOS_WF_`, `AIOS_AUTH_`) keep them, because clients match on them.
   */
  readonly errorPrefixes?: readonly string[];
  /** Its authorization actions (`info:read`) and the Cedar entity types they apply to. */
  readonly actions?: Readonly<Record<string, ActionSpec>>;
  readonly resourceTypes?: readonly string[];
  /** Its configuration options: flag, environment variable, default, help. */
  readonly config?: readonly ConfigOptionSpec[];
  readonly metrics?: readonly MetricSpec[];
  readonly http?: HttpSurface;
  /** Its `aios` subcommands. */
  readonly cli?: (ctx: CliContext) => readonly Command[];
  /** Builds its services from the shared resources and its deps' services. */
  create?(ctx: CapabilityContext): Promise<CapabilityInstance<S>> | CapabilityInstance<S>;
}

/**
 * Declares a capability. Only a typed identity: nothing registers itself; the capability takes
 * effect where the runtime's list names it.
 *
 * @example
 * export const infoCapability = defineCapability({
 *   id: 'info',
 *   migrations: [m0012InstanceStarts],
 *   actions: { 'info:read': { group: 'read', resource: 'Namespace', description: 'see what runs' } },
 *   create: (ctx) => ({ services: { info: new InstanceInfo(ctx.database) } }),
 * });
 */
export function defineCapability<const C extends Capability<any>>(capability: C): C {
  return Object.freeze(capability);
}
