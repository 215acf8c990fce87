/** Test support for workflows: a virtual clock and a throwaway database. */
export { createTestWorkflowEnv } from './test-workflow-env.ts';
export type { TestWorkflowEnv, TestWorkflowEnvOptions } from './test-workflow-env.ts';
