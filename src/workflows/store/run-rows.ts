import { sql, type AliasedRawBuilder } from 'kysely';
import type { DialectFlags } from '../../storage/index.ts';
import type { JournalEntry, RunError, RunStatus, Signal, WorkflowRun } from './run-store.ts';

/**
 * Row shapes of migration 0007 as the store reads them. JSON columns are always read as text:
 * on PostgreSQL a jsonb `null` and an SQL NULL both arrive as `null` through the driver, and a
 * step that returned `null` must replay as `null`, not as `undefined`.
 */
export interface RunRow {
  ns: string;
  id: string;
  name: string;
  version: string;
  status: string;
  input: string | null;
  output: string | null;
  error: string | null;
  state: string | null;
  parent_ns: string | null;
  parent_id: string | null;
  lineage_id: string;
  created_by: string;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  wake_at: number | null;
  owner: string | null;
  epoch: number;
  cancel_requested: number;
}

export interface JournalRow {
  ns: string;
  run_id: string;
  seq: number;
  kind: string;
  name: string;
  status: string;
  result: string | null;
  error: string | null;
  created_at: number;
}

export interface SignalRow {
  seq: number;
  name: string;
  payload: string | null;
  created_at: number;
  consumed_by: number | null;
}

const RUN_PLAIN = ['ns', 'id', 'name', 'version', 'status', 'parent_ns', 'parent_id', 'lineage_id', 'created_by', 'created_at', 'updated_at', 'completed_at', 'wake_at', 'owner', 'epoch', 'cancel_requested'];
const RUN_JSON = ['input', 'output', 'error', 'state'];

/** `column` as JSON text on either engine. Column names are literals of this module, never input. */
export function jsonText(flags: DialectFlags, column: string) {
  return flags.jsonType === 'jsonb' ? sql<any>`${sql.ref(column)}::text` : sql<any>`${sql.ref(column)}`;
}

/** The columns of a run row, qualified by `table` when given (for a select, a returning, raw SQL). */
export function runColumns(flags: DialectFlags, table?: string): AliasedRawBuilder<any, string>[] {
  const q = (c: string) => (table ? `${table}.${c}` : c);
  return [...RUN_PLAIN.map((c) => sql<any>`${sql.ref(q(c))}`.as(c)), ...RUN_JSON.map((c) => jsonText(flags, q(c)).as(c))];
}

export function journalColumns(flags: DialectFlags): AliasedRawBuilder<any, string>[] {
  return [...['ns', 'run_id', 'seq', 'kind', 'name', 'status', 'created_at'].map((c) => sql<any>`${sql.ref(c)}`.as(c)), jsonText(flags, 'result').as('result'), jsonText(flags, 'error').as('error')];
}

export function signalColumns(flags: DialectFlags): AliasedRawBuilder<any, string>[] {
  return [...['seq', 'name', 'created_at', 'consumed_by'].map((c) => sql<any>`${sql.ref(c)}`.as(c)), jsonText(flags, 'payload').as('payload')];
}

const parse = (text: string | null): unknown => (text === null ? undefined : JSON.parse(text));

export function toRun(r: RunRow): WorkflowRun {
  const optional = {
    input: parse(r.input),
    output: parse(r.output),
    error: parse(r.error) as RunError | undefined,
    state: parse(r.state),
    parent: r.parent_id === null ? undefined : { ns: r.parent_ns ?? r.ns, id: r.parent_id },
    // PostgreSQL's int8 is parsed as a number by the pool; Number() also covers a driver that does not.
    completedAt: r.completed_at === null ? undefined : Number(r.completed_at),
    wakeAt: r.wake_at === null ? undefined : Number(r.wake_at),
    owner: r.owner ?? undefined,
  };
  return {
    ns: r.ns,
    id: r.id,
    name: r.name,
    version: r.version,
    status: r.status as RunStatus,
    lineageId: r.lineage_id,
    createdBy: r.created_by,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    epoch: Number(r.epoch),
    cancelRequested: Number(r.cancel_requested) === 1,
    // Absent rather than `undefined`, so that runs compare equal whatever the backend.
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

export function toEntry(r: JournalRow): JournalEntry {
  const e: JournalEntry = { seq: Number(r.seq), kind: r.kind, name: r.name, status: r.status as JournalEntry['status'], createdAt: Number(r.created_at) };
  const result = parse(r.result);
  const error = parse(r.error) as RunError | undefined;
  return { ...e, ...(result === undefined ? {} : { result }), ...(error === undefined ? {} : { error }) };
}

export function toSignal(r: SignalRow): Signal {
  const payload = parse(r.payload);
  return {
    seq: Number(r.seq),
    name: r.name,
    createdAt: Number(r.created_at),
    ...(payload === undefined ? {} : { payload }),
    ...(r.consumed_by === null ? {} : { consumedBy: Number(r.consumed_by) }),
  };
}
