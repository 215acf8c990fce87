/**
 * Durable workflows: definitions and the engine that runs them (engine/), the run store it is
 * built on (runs, journals, signals, worker leases on SQLite or PostgreSQL), and a test kit with
 * a virtual clock (testing/).
 *
 * @example
 * import { SqlRunStore, WorkflowEngine, defineWorkflow } from './workflows/index.ts';
 * const engine = new WorkflowEngine({ store: new SqlRunStore({ database, clock }), clock, logger });
 * engine.register(defineWorkflow('hello', { version: '1' }, async (ctx) => ctx.step('greet', () => 'hi')));
 * engine.start();
 */
export { SqlRunStore } from './store/sql-run-store.ts';
export type { SqlRunStoreOptions } from './store/sql-run-store.ts';
export type { WorkflowTables } from './store/tables.ts';
export { DEFAULT_MAX_PAYLOAD_BYTES } from './store/payload.ts';
export { TERMINAL_STATUSES, isTerminal } from './store/run-store.ts';
export type {
  AppendJournalOptions,
  ClaimOptions,
  CreateRunInput,
  JournalEntry,
  JournalEntryInput,
  JournalStatus,
  ListRunsOptions,
  RunError,
  RunPage,
  RunPatch,
  RunRef,
  RunStatus,
  RunStore,
  Signal,
  WorkflowRun,
} from './store/run-store.ts';
export { CancelledError, ChildRunError, childSignal, eventSignal, RESERVED_SIGNAL_PREFIX, compareVersions, defineWorkflow, isWorkflowDefinition, MISSING_VERSION_BACKOFF_MS, DEFAULT_RETRY, NonDeterminismError, Saga, StepError, StepTimeoutError, TerminalError, WorkflowEngine } from './engine/index.ts';
export type { EmitEvent, EmitResult, EventResult, EventWaitRecord, MatchedEvent, PreparedEmit, WorkflowEventPort, RunChange, RunRecorder, SignalOptions, CancelInfo, CancelOptions, ChildOutcome, StartChildOptions, CompensationRunner, RetryPolicy, SagaStepOptions, SignalResult, StartRunOptions, TerminateOptions, StepInfo, StepOptions, WorkflowContext, WorkflowDefinition, WorkflowEngineOptions, WorkflowOptions } from './engine/index.ts';
export { createTestWorkflowEnv } from './testing/index.ts';
export type { TestWorkflowEnv, TestWorkflowEnvOptions } from './testing/index.ts';
export { CATCH_UP_POLICIES, MAX_CATCH_UP_LIMIT, OVERLAP_POLICIES, ScheduleStore, Scheduler, compileCron, scheduleRunId } from './schedules/index.ts';
export type { CatchUpPolicy, CreateScheduleInput, CronSpec, OverlapPolicy, Schedule, SchedulePage, SchedulePatch, ScheduleStoreOptions, SchedulerOptions, TickResult } from './schedules/index.ts';
export { EventWaits, compileMatch, MAX_MATCH_LENGTH } from './event-waits/index.ts';
export type { EventWaitInput, EventWaitsOptions, MatchableEvent } from './event-waits/index.ts';
export { OutboxRelay } from './outbox/index.ts';
export type { OutboxRelayOptions } from './outbox/index.ts';
export { WORKFLOWS_MIGRATIONS } from './migrations/index.ts';
export { WorkflowsError } from './errors.ts';
