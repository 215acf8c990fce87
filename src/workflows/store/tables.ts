import type { Generated, UpdateObject } from 'kysely';
import type { JsonColumn, NullableJsonColumn } from '../../storage/index.ts';

/**
 * The workflow tables as migrations 0007 to 0010 create them, for `Kysely<WorkflowTables>`. One
 * type for the whole capability, not one per part: the parts share transactions (an event wait
 * is delivered by locking the run and storing a signal in the wait's transaction; a step's
 * journal transaction writes its event waits and outbox rows), and Kysely's table type is
 * invariant, so a handle typed with the runs alone could not be passed on to the event waits.
 *
 * bigint columns (epoch ms) arrive as numbers: the PostgreSQL pool parses int8. JSON columns are
 * written as text (`JsonColumn`); the stores read them through `jsonText`, as text on both engines.
 * Booleans are integers 0/1 on both engines.
 */
export interface RunsTable {
  ns: string;
  id: string;
  name: string;
  version: string;
  status: string;
  input: NullableJsonColumn;
  output: NullableJsonColumn;
  error: NullableJsonColumn;
  state: NullableJsonColumn;
  parent_ns: string | null;
  parent_id: string | null;
  lineage_id: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  wake_at: number | null;
  owner: string | null;
  epoch: Generated<number>;
  cancel_requested: Generated<number>;
}

export interface JournalTable {
  ns: string;
  run_id: string;
  seq: number;
  kind: string;
  name: string;
  status: string;
  result: NullableJsonColumn;
  error: NullableJsonColumn;
  created_at: number;
}

export interface SignalsTable {
  ns: string;
  run_id: string;
  seq: number;
  name: string;
  payload: NullableJsonColumn;
  created_at: number;
  consumed_by: number | null;
}

export interface WorkersTable {
  id: string;
  started_at: number;
  heartbeat_at: number;
}

/** 0008. */
export interface SchedulesTable {
  ns: string;
  id: string;
  workflow: string;
  input: NullableJsonColumn;
  cron: string;
  timezone: string;
  overlap: string;
  catch_up: string;
  catch_up_limit: number;
  paused: Generated<number>;
  next_fire_at: number | null;
  last_fire_at: number | null;
  last_run_id: string | null;
  start_pending: Generated<number>;
  buffered: number | null;
  created_by: string;
  created_at: number;
  updated_at: number;
}

/** 0009: `after` is JSON { partition: first offset that may match }. */
export interface EventWaitsTable {
  ns: string;
  run_id: string;
  seq: number;
  topic: string;
  match: string;
  after: JsonColumn;
  deadline: number | null;
  created_at: number;
}

/** 0010: `events` is the JSON array of the events as appended. */
export interface OutboxTable {
  ns: string;
  key: string;
  topic: string;
  events: JsonColumn;
  created_at: number;
}

export interface WorkflowTables {
  aios_wf_runs: RunsTable;
  aios_wf_journal: JournalTable;
  aios_wf_signals: SignalsTable;
  aios_wf_workers: WorkersTable;
  aios_wf_schedules: SchedulesTable;
  aios_wf_event_waits: EventWaitsTable;
  aios_wf_outbox: OutboxTable;
}

/** The columns an update of a run sets, built up field by field before the statement. */
export type RunUpdate = UpdateObject<WorkflowTables, 'aios_wf_runs'>;

export type ScheduleUpdate = UpdateObject<WorkflowTables, 'aios_wf_schedules'>;
