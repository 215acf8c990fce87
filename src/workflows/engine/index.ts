/**
 * The workflow engine: definitions, the context workflow code uses, and the engine that runs them
 * (WorkflowEngine, the front over a WorkflowClient and a WorkflowWorker, each usable alone).
 */
export { defineWorkflow, DEFAULT_RETRY, isWorkflowDefinition } from './define.ts';
export type { RetryPolicy, SignalResult, StartChildOptions, StepInfo, StepOptions, WorkflowContext, WorkflowDefinition, WorkflowOptions } from './define.ts';
export { CancelledError, ChildRunError, NonDeterminismError, StepError, StepTimeoutError, TerminalError } from './errors.ts';
export type { CancelInfo } from './errors.ts';
export { Saga } from './saga.ts';
export type { CompensationRunner, SagaStepOptions } from './saga.ts';
export { WorkflowEngine } from './workflow-engine.ts';
export { MISSING_VERSION_BACKOFF_MS, WorkflowWorker } from './workflow-worker.ts';
export type { WorkflowWorkerOptions } from './workflow-worker.ts';
export { WorkflowClient } from './workflow-client.ts';
export type { LocalWorker, WorkflowClientOptions } from './workflow-client.ts';
export { DefinitionRegistry } from './registry.ts';
export { compareVersions } from './registry.ts';
export type { WorkflowEngineOptions } from './workflow-engine.ts';
export type { CancelOptions, SignalOptions, StartRunOptions, TerminateOptions } from './workflow-client.ts';
export type { RunChange, RunRecorder } from './recorder.ts';
export type { EmitEvent, EmitResult, EventResult, EventWaitRecord, MatchedEvent, PreparedEmit, WorkflowEventPort } from './event-port.ts';
export { CANCEL_SIGNAL, childSignal, eventSignal, RESERVED_SIGNAL_PREFIX } from './signals.ts';
export type { ChildOutcome } from './signals.ts';
