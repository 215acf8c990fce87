/** The workflow engine: definitions, the context workflow code uses, and the engine that runs them. */
export { defineWorkflow, DEFAULT_RETRY } from './define.ts';
export type { RetryPolicy, SignalResult, StepInfo, StepOptions, WorkflowContext, WorkflowDefinition, WorkflowOptions } from './define.ts';
export { NonDeterminismError, StepError, StepTimeoutError, TerminalError } from './errors.ts';
export { WorkflowEngine } from './workflow-engine.ts';
export type { StartRunOptions, WorkflowEngineOptions } from './workflow-engine.ts';
