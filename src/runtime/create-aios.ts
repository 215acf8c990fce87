import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { inDependencyOrder, type Capability, type CapabilityInstance, type StartReport } from '../capability/index.ts';
import { createLogger, systemClock, type Clock, type ConfigInput, type Logger } from '../core/index.ts';
import { createDatabase, exposedMode, type Database } from '../storage/index.ts';
import type { EventLog } from '../events/index.ts';
import type { Governance, PolicyEngine } from '../governance/index.ts';
import { createMetricsRegistry } from '../observability/index.ts';
import { buildServer, type App } from '../server/index.ts';
import type { ScheduleStore, WorkflowDefinition, WorkflowEngine } from '../workflows/index.ts';
import { loadConfig, migrate, MIGRATIONS, type AiosConfig } from './assembled.ts';
import { CAPABILITIES } from './capabilities.ts';

export interface CreateAiosOptions {
  /** Options not given here come from the environment (AIOS_*), the config file, then defaults. */
  readonly config?: ConfigInput | AiosConfig;
  readonly env?: Record<string, string | undefined>;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Another policy engine, or a Cedar engine built with other options; Cedar by default. */
  readonly policyEngine?: PolicyEngine;
  /**
   * Serve the API without authentication or authorization. Only for measuring what they cost
   * (`npm run bench -- authz`); never for a deployment.
   */
  readonly unsafeDisableAuth?: boolean;
}

/** A running AIOS: its stores, capabilities and HTTP API. */
export interface Aios {
  readonly config: AiosConfig;
  readonly logger: Logger;
  readonly database: Database;
  readonly events: EventLog;
  /** Identities, policies, audit trail, lineage and secrets. */
  readonly governance: Governance;
  readonly metrics: Registry;
  /** The durable workflow engine: start runs, signal, cancel, read history. */
  readonly workflows: WorkflowEngine;
  /** Cron schedules of workflows; this process fires them unless `scheduler` is 0. */
  readonly schedules: ScheduleStore;
  /**
   * Makes workflow definitions runnable in this process (before or after `start`). Nothing
   * registers by import: a definition runs only where it is registered.
   */
  register(...defs: WorkflowDefinition[]): this;
  /** The HTTP API; `http.inject()` drives it without a socket. */
  readonly http: App;
  /** True once migrations and recovery are done. */
  readonly ready: boolean;
  /** Where the first start of a new database wrote the admin API key; undefined otherwise. */
  readonly createdAdminKeyFile: string | undefined;
  /** The address the API listens on, once started with `listen`. */
  readonly url: string | undefined;
  /** Migrates and recovers; with `listen`, serves HTTP first so /healthz answers during start-up. */
  start(opts?: { listen?: boolean }): Promise<void>;
  /** Stops accepting, drains what is in flight, flushes, and closes the stores. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Creates an AIOS runtime: embedded SQLite by default, PostgreSQL with `databaseUrl`, and the
 * event log on NATS JetStream with `natsUrl`.
 *
 * @example
 * const aios = await createAios({ config: { dataDir: './.aios' } });
 * await aios.start();
 * await aios.events.createTopic('default', { name: 'vibration', keyField: 'turbineId' });
 * await aios.events.publish('default', 'vibration', [{ data: { turbineId: 't1', rms: 0.4 } }]);
 * await aios.stop();
 */
export async function createAios(opts: CreateAiosOptions = {}): Promise<Aios> {
  const config = loadConfig((opts.config ?? {}) as ConfigInput, opts.env ?? process.env);
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const clock = opts.clock ?? systemClock;
  // A data directory AIOS creates is 0700; one that exists is the operator's, and left as it is.
  const exposed = exposedMode(config.dataDir);
  if (exposed !== undefined) {
    logger.warn({ dataDir: config.dataDir, mode: `0${exposed.toString(8)}` }, `the data directory is open to other users; AIOS creates its files there 0600, but make the directory private too (chmod 700 ${config.dataDir})`);
  }
  const database = createDatabase({ url: config.databaseUrl, sqliteFile: join(config.dataDir, 'aios.db') });
  const metrics = createMetricsRegistry();
  // Each capability is built from the services of those it uses, in dependency order; one that
  // fails to build closes what was built before it.
  const list: readonly Capability[] = CAPABILITIES;
  const ordered = inDependencyOrder(list);
  const instances: CapabilityInstance[] = [];
  const services: Record<string, unknown> = {};
  try {
    for (const c of ordered) {
      const instance = c.create ? await c.create({ config, env: opts.env ?? process.env, database, clock, logger, metrics, services: { ...services }, capabilities: list, options: { policyEngine: opts.policyEngine } }) : { services: {} };
      instances.push(instance);
      Object.assign(services, instance.services);
    }
  } catch (e) {
    for (const i of [...instances].reverse()) await i.stop?.();
    await database.close();
    throw e;
  }
  const events = services.events as EventLog;
  const governance = services.governance as Governance;
  const workflows = services.workflows as WorkflowEngine;
  const schedules = services.schedules as ScheduleStore;
  let ready = false;
  let url: string | undefined;
  let createdAdminKeyFile: string | undefined;
  let stopping: Promise<void> | undefined;
  const streams = new Set<AbortController>();
  const http = await buildServer({ ...services, governance, authEnabled: !opts.unsafeDisableAuth, metrics, logger, limits: config, isReady: () => ready, streams }, list);

  const aios: Aios = {
    config,
    logger,
    database,
    events,
    governance,
    metrics,
    workflows,
    schedules,
    register(...defs) {
      workflows.register(...defs);
      return aios;
    },
    http,
    get ready() {
      return ready;
    },
    get url() {
      return url;
    },
    get createdAdminKeyFile() {
      return createdAdminKeyFile;
    },
    async start(startOpts = {}) {
      if (startOpts.listen) {
        url = await http.listen({ port: config.port, host: config.host });
      } else {
        await http.ready();
      }
      const m = await migrate(database, MIGRATIONS);
      if (m.applied.length) logger.info({ applied: m.applied, database: database.location }, 'migrations applied');
      const reported: Record<string, unknown> = {};
      for (const i of instances) {
        const report: StartReport = (await i.start?.()) ?? {};
        if (report.createdAdminKeyFile) createdAdminKeyFile = report.createdAdminKeyFile;
        Object.assign(reported, report.log);
      }
      ready = true;
      logger.info({ url, database: database.location, ...reported }, 'AIOS is ready');
    },
    stop() {
      stopping ??= (async () => {
        ready = false;
        for (const s of streams) s.abort();
        // Requests already being handled get half the shutdown budget to finish; then any
        // connection still open is cut, so a stuck client cannot hold the process.
        const closing = http.close();
        // server.close() closes the connections idle at that moment only; a keep-alive connection
        // whose request finishes during the drain would stay open for Fastify's 72 s keep-alive.
        const idle = setInterval(() => http.server.closeIdleConnections(), 50);
        let timer: NodeJS.Timeout | undefined;
        const drained = await Promise.race([closing.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), config.shutdownTimeoutMs / 2)))]);
        clearTimeout(timer);
        clearInterval(idle);
        if (!drained) {
          logger.warn('connections still open after the drain period; closing them');
          http.server.closeAllConnections();
          await closing;
        }
        // In reverse dependency order: workflows release their runs before the event log and governance close.
        for (const i of [...instances].reverse()) await i.stop?.();
        await database.close();
        logger.info('AIOS stopped');
      })();
      return stopping;
    },
  };
  return aios;
}
