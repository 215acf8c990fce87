import { join } from 'node:path';
import type { Registry } from 'prom-client';
import { createLogger, loadConfig, systemClock, type AiosConfig, type Clock, type ConfigInput, type Logger } from '../core/index.ts';
import { createDatabase, exposedMode, migrate, type Database } from '../storage/index.ts';
import { EventLog, NatsEventStore, SqlEventStore, type EventStore } from '../events/index.ts';
import { createGovernance, type Governance, type PolicyEngine } from '../governance/index.ts';
import { createMetricsRegistry } from '../observability/index.ts';
import { buildServer, type App } from '../server/index.ts';
import { EventWaits, OutboxRelay, ScheduleStore, Scheduler, SqlRunStore, WorkflowEngine, type WorkflowDefinition } from '../workflows/index.ts';
import { loadApp } from './load-app.ts';
import { workflowEvents } from './workflow-events.ts';
import { workflowRecorder } from './workflow-recorder.ts';

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
  const config = loadConfig(opts.config ?? {}, opts.env ?? process.env);
  const logger = opts.logger ?? createLogger({ level: config.logLevel });
  const clock = opts.clock ?? systemClock;
  // A data directory AIOS creates is 0700; one that exists is the operator's, and left as it is.
  const exposed = exposedMode(config.dataDir);
  if (exposed !== undefined) {
    logger.warn({ dataDir: config.dataDir, mode: `0${exposed.toString(8)}` }, `the data directory is open to other users; AIOS creates its files there 0600, but make the directory private too (chmod 700 ${config.dataDir})`);
  }
  const database = createDatabase({ url: config.databaseUrl, sqliteFile: join(config.dataDir, 'aios.db') });
  let store: EventStore;
  try {
    store = config.natsUrl ? await NatsEventStore.connect({ url: config.natsUrl, clock, logger }) : new SqlEventStore(database, { clock });
  } catch (e) {
    await database.close();
    throw e;
  }
  const metrics = createMetricsRegistry();
  let governance: Governance;
  try {
    governance = createGovernance({ config, env: opts.env ?? process.env, database, clock, logger, engine: opts.policyEngine });
  } catch (e) {
    await store.close();
    await database.close();
    throw e;
  }
  const events = new EventLog({
    database,
    store,
    clock,
    logger,
    metrics,
    limits: {
      maxEventsPerRequest: config.maxEventsPerRequest,
      maxEventBytes: config.maxEventBytes,
      appendQueueEvents: config.appendQueueEvents,
      commitBatchEvents: config.commitBatchEvents,
    },
  });
  const runStore = new SqlRunStore({ database, clock, maxPayloadBytes: config.maxWorkflowPayloadBytes });
  // Emitted events on an event log outside the database (NATS) go through the outbox.
  const outbox = new OutboxRelay({ database, events, logger, clock });
  // A match delivered by this process's matcher wakes a wait this process holds at once.
  const eventWaits: EventWaits = new EventWaits({ database, events, clock, logger, onDelivered: (w) => workflows.notify(w.ns, w.runId, w.signal) });
  const workflows = new WorkflowEngine({
    store: runStore,
    clock,
    logger,
    leaseMs: config.workflowLeaseMs,
    maxConcurrent: Math.max(1, config.workflowConcurrency),
    recorder: workflowRecorder(governance, database),
    events: workflowEvents(events, eventWaits, outbox),
    metrics,
  });
  const schedules = new ScheduleStore({ database, clock, maxPayloadBytes: config.maxWorkflowPayloadBytes });
  const scheduler = new Scheduler({ database, engine: workflows, clock, logger });
  let ready = false;
  let url: string | undefined;
  let createdAdminKeyFile: string | undefined;
  let stopping: Promise<void> | undefined;
  const streams = new Set<AbortController>();
  const http = await buildServer({ events, governance, workflows, schedules, authEnabled: !opts.unsafeDisableAuth, metrics, logger, limits: config, isReady: () => ready, streams });

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
      const m = await migrate(database);
      if (m.applied.length) logger.info({ applied: m.applied, database: database.location }, 'migrations applied');
      if ((await governance.start()).adminKeyCreated) createdAdminKeyFile = governance.adminKeyFile;
      events.startRetention(config.retentionIntervalMs);
      if (config.app) {
        const app = await loadApp(config.app);
        workflows.register(...app.workflows);
        logger.info({ app: app.path, workflows: app.workflows.map((d) => `${d.name}@${d.version}`) }, 'app module loaded');
      }
      // Recovery: the worker's first claims take every run whose lease expired while no process held it.
      if (config.workflowConcurrency > 0) workflows.start();
      eventWaits.start();
      if (!events.commitHooks) outbox.start();
      if (config.scheduler) scheduler.start();
      ready = true;
      logger.info({ url, database: database.location, eventLog: store.backend }, 'AIOS is ready');
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
        await scheduler.stop();
        // Steps in flight finish and their runs are released for another worker.
        await workflows.stop();
        await eventWaits.stop();
        await outbox.stop();
        await events.close();
        await governance.close();
        await database.close();
        logger.info('AIOS stopped');
      })();
      return stopping;
    },
  };
  return aios;
}
