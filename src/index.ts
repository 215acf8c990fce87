/**
 * AIOS public API. Everything a program embedding AIOS may use is exported here; the rest of
 * `src/` is internal.
 */
export { createAios, ERROR_CODES, loadConfig, CONFIG_OPTIONS, migrate } from './runtime/index.ts';
export type { Action, Aios, AiosConfig, CreateAiosOptions, ErrorCode } from './runtime/index.ts';
export { AiosError, isAiosError, ManualClock, systemClock } from './core/index.ts';
export type { Clock } from './core/index.ts';
export { createDatabase } from './storage/index.ts';
export type { Database } from './storage/index.ts';
export { EventLog, SqlEventStore, NatsEventStore, formatCursor, parseCursor } from './events/index.ts';
export type {
  EventInput,
  StoredEvent,
  Topic,
  TopicSpec,
  TopicUpdate,
  AppendResult,
  AcceptedItem,
  ReadQuery,
  ReadResult,
  TailOptions,
  ConsumerHandle,
  ConsumerOptions,
  GroupState,
  ResetTarget,
  EventStore,
} from './events/index.ts';
export { ACTIONS, CedarEngine } from './runtime/index.ts';
export { ROLES, DEFAULT_POLICIES, POLICY_LIMITS, LINEAGE_KINDS, verifyAuditChain, toOpenLineage } from './governance/index.ts';
export type {
  Governance,
  Principal,
  Role,
  PolicyEngine,
  CedarEngineOptions,
  PolicyLimits,
  AuthzDecision,
  AuthzRequest,
  ResourceRef,
  ApiKeyInfo,
  AuditInput,
  AuditRecord,
  AuditRecorder,
  LineageInput,
  LineageNode,
  LineageGraph,
  LineageKind,
  SecretMetadata,
} from './governance/index.ts';
export {
  defineWorkflow,
  isWorkflowDefinition,
  WorkflowEngine,
  SqlRunStore,
  ScheduleStore,
  Scheduler,
  EventWaits,
  createTestWorkflowEnv,
  TerminalError,
  CancelledError,
  NonDeterminismError,
  StepError,
  StepTimeoutError,
  ChildRunError,
  Saga,
  compareVersions,
  compileMatch,
  DEFAULT_RETRY,
} from './workflows/index.ts';
export type {
  WorkflowDefinition,
  WorkflowContext,
  WorkflowOptions,
  StepOptions,
  StepInfo,
  RetryPolicy,
  SignalResult,
  EventResult,
  MatchedEvent,
  EmitEvent,
  EmitResult,
  StartChildOptions,
  WorkflowRun,
  RunStatus,
  JournalEntry,
  Schedule,
  CreateScheduleInput,
  TestWorkflowEnv,
  TestWorkflowEnvOptions,
} from './workflows/index.ts';
