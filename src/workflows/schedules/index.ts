/**
 * Cron schedules of workflows: a ScheduleStore (CRUD, per namespace) and a Scheduler that fires
 * each tick once across any number of processes, with overlap and catch-up policies.
 *
 * @example
 * const schedules = new ScheduleStore({ database, clock });
 * await schedules.create('plant-a', { id: 'shift-report', workflow: 'report', cron: '0 6,14,22 * * *', timezone: 'Europe/Berlin', createdBy: 'user:ana' });
 * const scheduler = new Scheduler({ database, engine, clock, logger });
 * scheduler.start();
 */
export { ScheduleStore, OVERLAP_POLICIES, CATCH_UP_POLICIES, MAX_CATCH_UP_LIMIT } from './schedule-store.ts';
export type { CatchUpPolicy, CreateScheduleInput, OverlapPolicy, Schedule, SchedulePage, SchedulePatch, ScheduleStoreOptions } from './schedule-store.ts';
export { Scheduler } from './scheduler.ts';
export type { SchedulerOptions, TickResult } from './scheduler.ts';
export { compileCron } from './cron.ts';
export type { CronSpec } from './cron.ts';
export { scheduleRunId } from './schedule-rows.ts';
