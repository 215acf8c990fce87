import type { ConfigOf, ConfigOptionSpec } from '../core/index.ts';

/** The options of workflow runs and schedules: the app module, concurrency, leases, payload size and the scheduler. */
export const WORKFLOWS_CONFIG = [
  { key: 'app', flag: 'app', env: 'AIOS_APP', kind: 'string', description: 'module (.ts or .js, no build step) whose exported workflow definitions this process registers' },
  { key: 'workflowConcurrency', flag: 'workflow-concurrency', env: 'AIOS_WORKFLOW_CONCURRENCY', kind: 'int', default: 200, description: 'most workflow runs this process executes at once (0: start and serve runs, execute none here)' },
  { key: 'workflowLeaseMs', flag: 'workflow-lease-ms', env: 'AIOS_WORKFLOW_LEASE_MS', kind: 'int', default: 10_000, description: 'a worker silent this long loses its runs to another worker' },
  { key: 'maxWorkflowPayloadBytes', flag: 'max-workflow-payload-bytes', env: 'AIOS_MAX_WORKFLOW_PAYLOAD_BYTES', kind: 'int', default: 1024 * 1024, description: 'largest workflow input, step result, state, output or signal payload (JSON bytes)' },
  { key: 'scheduler', flag: 'scheduler', env: 'AIOS_SCHEDULER', kind: 'int', default: 1, description: 'fire cron schedules from this process (1) or not (0); any number of processes may' },
] as const satisfies readonly ConfigOptionSpec[];

/** The resolved values of those options. */
export type WorkflowsConfig = ConfigOf<(typeof WORKFLOWS_CONFIG)[number]>;
