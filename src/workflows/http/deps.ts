import type { RouteDeps } from '../../http/index.ts';
import type { ScheduleStore, WorkflowEngine } from '../index.ts';

export type ServerDeps = RouteDeps<{ workflows: WorkflowEngine; schedules: ScheduleStore }>;
