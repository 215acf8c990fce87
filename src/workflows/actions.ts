import type { ActionSpec } from '../capability/index.ts';

/** The authorization actions of workflow runs and schedules. */
export const WORKFLOWS_ACTIONS = {
  'workflows:list': { group: 'read', resource: 'Namespace', description: 'list workflow runs and registered workflows' },
  'workflows:read': { group: 'read', resource: 'Workflow', description: 'read a run, its live state and its history' },
  'workflows:start': { group: 'write', resource: 'Namespace', description: 'start a workflow run' },
  'workflows:signal': { group: 'write', resource: 'Workflow', description: 'send a signal to a run' },
  'workflows:cancel': { group: 'operate', resource: 'Workflow', description: 'cancel a run (its compensations run)' },
  'workflows:terminate': { group: 'operate', resource: 'Workflow', description: 'end a run at once, without compensation' },
  'workflows:retry': { group: 'operate', resource: 'Workflow', description: 'retry a failed run from its failed step' },
  'schedules:list': { group: 'read', resource: 'Namespace', description: 'list schedules' },
  'schedules:read': { group: 'read', resource: 'Schedule', description: 'read a schedule' },
  'schedules:create': { group: 'operate', resource: 'Namespace', description: 'create a schedule' },
  'schedules:update': { group: 'operate', resource: 'Schedule', description: 'change or pause a schedule' },
  'schedules:delete': { group: 'operate', resource: 'Schedule', description: 'delete a schedule' },
} as const satisfies Record<string, ActionSpec>;

/** Its entity types: a run and a schedule, in their namespace. */
export const WORKFLOWS_RESOURCE_TYPES = ['Workflow', 'Schedule'] as const;
