import type { OperationSpec } from '../../capability/index.ts';

/** The workflow and schedule routes' operations, by method and OpenAPI path. */
export const WORKFLOWS_OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'POST /api/v1/workflows': { id: 'startWorkflow' },
  'GET /api/v1/workflows': { id: 'listWorkflowRuns' },
  'GET /api/v1/workflows/definitions': { id: 'listWorkflowDefinitions' },
  'GET /api/v1/workflows/{id}': { id: 'getWorkflowRun' },
  'GET /api/v1/workflows/{id}/history': { id: 'getWorkflowHistory' },
  'POST /api/v1/workflows/{id}/signals/{name}': { id: 'signalWorkflowRun' },
  'POST /api/v1/workflows/{id}/cancel': { id: 'cancelWorkflowRun' },
  'POST /api/v1/workflows/{id}/terminate': { id: 'terminateWorkflowRun' },
  'POST /api/v1/workflows/{id}/retry': { id: 'retryWorkflowRun' },
  'POST /api/v1/schedules': { id: 'createSchedule' },
  'GET /api/v1/schedules': { id: 'listSchedules' },
  'GET /api/v1/schedules/{id}': { id: 'getSchedule' },
  'PATCH /api/v1/schedules/{id}': { id: 'updateSchedule' },
  'DELETE /api/v1/schedules/{id}': { id: 'deleteSchedule' },
};

export const WORKFLOWS_TAGS = [
  { name: 'workflows', description: 'Durable workflow runs: start, signal, cancel, retry, read state and history' },
  { name: 'schedules', description: 'Cron schedules that start workflow runs' },
];
