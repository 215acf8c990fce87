import { WorkflowsError } from './errors.ts';
import { WORKFLOWS_MIGRATIONS } from './migrations/index.ts';
import { defineCapability } from '../capability/index.ts';
import { WORKFLOWS_ACTIONS, WORKFLOWS_RESOURCE_TYPES } from './actions.ts';
import { WORKFLOWS_CONFIG, type WorkflowsConfig } from './config.ts';
import type { EventLog } from '../events/index.ts';
import type { Governance } from '../governance/index.ts';
import { schedulesCommand } from './cli/schedules.ts';
import { workflowsCommand } from './cli/workflows.ts';
import { WorkflowEngine } from './engine/index.ts';
import { EventWaits } from './event-waits/index.ts';
import type { ServerDeps } from './http/deps.ts';
import { WORKFLOWS_OPERATIONS, WORKFLOWS_TAGS } from './http/operations.ts';
import { scheduleRoutes } from './http/schedules.ts';
import { workflowRoutes } from './http/workflows.ts';
import { loadApp } from './load-app.ts';
import { OutboxRelay } from './outbox/index.ts';
import { ScheduleStore, Scheduler } from './schedules/index.ts';
import { SqlRunStore } from './store/sql-run-store.ts';
import { workflowEvents } from './workflow-events.ts';
import { workflowRecorder } from './workflow-recorder.ts';

/** Durable workflow runs, their event waits and outbox, and cron schedules. */
export const workflowsCapability = defineCapability({
  id: 'workflows',
  errors: WorkflowsError.specs,
  errorPrefixes: ['AIOS_WF_'],
  // Runs are audited with governance; they emit and wait for events on the event log.
  uses: ['governance', 'events'],
  migrations: WORKFLOWS_MIGRATIONS,
  actions: WORKFLOWS_ACTIONS,
  resourceTypes: WORKFLOWS_RESOURCE_TYPES,
  config: WORKFLOWS_CONFIG,
  metrics: [
    { name: 'aios_workflow_runs_started_total', type: 'counter', help: 'Workflow runs started' },
    { name: 'aios_workflow_runs_in_memory', type: 'gauge', help: 'Workflow runs this process holds' },
  ],
  http: {
    plugin: (deps: ServerDeps) => async (app: { register(p: unknown): PromiseLike<unknown> }) => {
      await app.register(workflowRoutes(deps));
      await app.register(scheduleRoutes(deps));
    },
    operations: WORKFLOWS_OPERATIONS,
    tags: WORKFLOWS_TAGS,
  },
  cli: () => [workflowsCommand(), schedulesCommand()],
  create(ctx) {
    const config = ctx.config as WorkflowsConfig;
    const { database, clock, logger, metrics } = ctx;
    const events = ctx.services.events as EventLog;
    const governance = ctx.services.governance as Governance;
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
    return {
      services: { workflows, schedules },
      async start() {
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
      },
      async stop() {
        await scheduler.stop();
        // Steps in flight finish and their runs are released for another worker.
        await workflows.stop();
        await eventWaits.stop();
        await outbox.stop();
      },
    };
  },
});
