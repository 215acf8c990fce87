import { sql, type AliasedRawBuilder } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import { jsonText } from '../store/run-rows.ts';
import type { CatchUpPolicy, OverlapPolicy, Schedule } from './schedule-store.ts';

/** A row of aios_wf_schedules (migration 0008) as read: JSON as text, booleans as 0/1. */
export interface ScheduleRow {
  ns: string;
  id: string;
  workflow: string;
  input: string | null;
  cron: string;
  timezone: string;
  overlap: string;
  catch_up: string;
  catch_up_limit: number;
  paused: number;
  next_fire_at: number | null;
  last_fire_at: number | null;
  last_run_id: string | null;
  start_pending: number;
  buffered: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

const PLAIN = [
  'ns', 'id', 'workflow', 'cron', 'timezone', 'overlap', 'catch_up', 'catch_up_limit', 'paused', 'next_fire_at', 'last_fire_at',
  'last_run_id', 'start_pending', 'buffered', 'created_by', 'created_at', 'updated_at',
];

export function scheduleColumns(flags: DialectFlags): AliasedRawBuilder<any, string>[] {
  return [...PLAIN.map((c) => sql<any>`${sql.ref(c)}`.as(c)), jsonText(flags, 'input').as('input')];
}

const num = (v: number | null): number | undefined => (v === null ? undefined : Number(v));

export function toSchedule(r: ScheduleRow): Schedule {
  const optional = {
    input: r.input === null ? undefined : JSON.parse(r.input),
    nextFireAt: num(r.next_fire_at),
    lastFireAt: num(r.last_fire_at),
    lastRunId: r.last_run_id ?? undefined,
    bufferedAt: num(r.buffered),
  };
  return {
    ns: r.ns,
    id: r.id,
    workflow: r.workflow,
    cron: r.cron,
    timezone: r.timezone,
    overlap: r.overlap as OverlapPolicy,
    catchUp: r.catch_up as CatchUpPolicy,
    catchUpLimit: Number(r.catch_up_limit),
    paused: Number(r.paused) === 1,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

/** The deterministic run id of a schedule's fire: the same tick always names the same run. */
export function scheduleRunId(scheduleId: string, tickMs: number): string {
  return `sched:${scheduleId}:${tickMs}`;
}
