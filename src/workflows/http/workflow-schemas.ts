import { Type } from 'typebox';
import { AiosError, parseTime, toRfc3339 } from '../../core/index.ts';
import type { JournalEntry, Schedule, WorkflowRun } from '../index.ts';

/*
 * Schemas and output shapes of the workflow and schedule routes. Times are epoch ms inside AIOS
 * and RFC 3339 strings over HTTP, as on every other route.
 */

/** Run ids a client may choose: what upstream systems use (`mes:order-4711`), short enough for a path segment. */
export const RUN_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$';

/**
 * `:id` of a run. Lenient (runs started in-process may have any id); the router caps a path
 * parameter at 100 characters anyway.
 */
export const RunParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });
export const SignalParams = Type.Object({
  id: Type.String({ minLength: 1, maxLength: 200 }),
  name: Type.String({ minLength: 1, maxLength: 200, description: 'the name the workflow waits for; names starting with "aios." are reserved' }),
});

/** Schedule ids: the runs they start are named `sched:<id>:<tick ms>`, so ids stay short and colon-free. */
export const SCHEDULE_ID_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$';
export const ScheduleParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

const Status = Type.Union([
  Type.Literal('pending'),
  Type.Literal('running'),
  Type.Literal('waiting'),
  Type.Literal('completed'),
  Type.Literal('failed'),
  Type.Literal('cancelled'),
  Type.Literal('terminated'),
]);

const WorkflowName = Type.String({ minLength: 1, maxLength: 200, description: 'a registered workflow name' });
const Version = Type.String({ minLength: 1, maxLength: 100 });
const Json = Type.Unknown({ description: 'any JSON value' });
const Iso = Type.String({ format: 'date-time' });
const IsoOrNull = Type.Union([Iso, Type.Null()]);

export const StartBody = Type.Object(
  {
    name: WorkflowName,
    input: Type.Optional(Json),
    id: Type.Optional(Type.String({ pattern: RUN_ID_PATTERN, description: 'the idempotency key: starting an existing id returns that run (200). Default: a UUIDv7' })),
    version: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'a registered version; default the highest' })),
  },
  { additionalProperties: false },
);

export const ReasonBody = Type.Object({ reason: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });

export const RunListQuery = Type.Object(
  {
    name: Type.Optional(WorkflowName),
    status: Type.Optional(Status),
    from: Type.Optional(Type.String({ maxLength: 64, description: 'created at or after: RFC 3339 or epoch ms' })),
    to: Type.Optional(Type.String({ maxLength: 64, description: 'created before: RFC 3339 or epoch ms' })),
    after: Type.Optional(Type.String({ maxLength: 1000, description: 'the `next` of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

export const ScheduleListQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ maxLength: 1000, description: 'the `next` of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
  },
  { additionalProperties: false },
);

/** `from`/`to` of a run listing: RFC 3339, or epoch milliseconds as digits. */
export function timeParam(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d{1,16}$/.test(v) ? parseTime(Number(v)) : parseTime(v);
  if (t === undefined) throw new AiosError('AIOS_VALIDATION', `${name} must be an RFC 3339 timestamp or epoch milliseconds`, { errors: [{ path: `/querystring/${name}`, message: 'must be RFC 3339 or epoch ms' }] });
  return t;
}

const RunError = Type.Object({ name: Type.String(), message: Type.String(), code: Type.Optional(Type.String()), retryable: Type.Optional(Type.Boolean()) });

const runSummaryProps = {
  id: Type.String(),
  namespace: Type.String(),
  name: Type.String(),
  version: Type.String({ description: 'the definition version the run is pinned to' }),
  status: Status,
  error: Type.Union([RunError, Type.Null()]),
  parent: Type.Union([Type.Object({ namespace: Type.String(), id: Type.String() }), Type.Null()]),
  lineageId: Type.String(),
  createdBy: Type.String(),
  createdAt: Iso,
  updatedAt: Iso,
  completedAt: IsoOrNull,
  wakeAt: Type.Union([Iso, Type.Null()], { description: 'when a released run is looked at again (a timer, a signal)' }),
  cancelRequested: Type.Boolean(),
};

/** A run in a listing: no input, output or state (they may be large); GET the run for those. */
export const RunSummaryOut = Type.Object(runSummaryProps);
export const RunOut = Type.Object({
  ...runSummaryProps,
  input: Type.Optional(Json),
  output: Type.Optional(Json),
  state: Type.Optional(Type.Unknown({ description: 'live state the workflow set with ctx.setState' })),
});

export function runSummaryOut(r: WorkflowRun) {
  return {
    id: r.id,
    namespace: r.ns,
    name: r.name,
    version: r.version,
    status: r.status,
    error: r.error ?? null,
    parent: r.parent ? { namespace: r.parent.ns, id: r.parent.id } : null,
    lineageId: r.lineageId,
    createdBy: r.createdBy,
    createdAt: toRfc3339(r.createdAt),
    updatedAt: toRfc3339(r.updatedAt),
    completedAt: r.completedAt === undefined ? null : toRfc3339(r.completedAt),
    wakeAt: r.wakeAt === undefined ? null : toRfc3339(r.wakeAt),
    cancelRequested: r.cancelRequested,
  };
}

export function runOut(r: WorkflowRun) {
  return { ...runSummaryOut(r), input: r.input, output: r.output, state: r.state };
}

export const HistoryOut = Type.Object({
  entries: Type.Array(
    Type.Object({
      seq: Type.Integer(),
      kind: Type.String({ description: 'what was journaled: step, sleep, wait, signal, child, now, random, ...' }),
      name: Type.String(),
      status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
      result: Type.Optional(Json),
      error: Type.Optional(RunError),
      createdAt: Iso,
    }),
  ),
});

export function historyOut(entries: readonly JournalEntry[]) {
  return { entries: entries.map((e) => ({ ...e, createdAt: toRfc3339(e.createdAt) })) };
}

const Overlap = Type.Union([Type.Literal('skip'), Type.Literal('buffer_one'), Type.Literal('allow')], { description: 'when the previous run is still under way at a tick' });
const CatchUp = Type.Union([Type.Literal('skip'), Type.Literal('one'), Type.Literal('all')], { description: 'what to do with ticks missed while no scheduler ran' });
const Cron = Type.String({ minLength: 1, maxLength: 200, description: '5 to 7 fields (seconds and years optional) or a nickname such as "@daily"' });
const Timezone = Type.String({ minLength: 1, maxLength: 100, description: 'IANA time zone, e.g. "Europe/Berlin"; default "UTC"' });
const CatchUpLimit = Type.Integer({ minimum: 1, maximum: 1000, description: 'most missed ticks fired by catch-up "all"' });

export const ScheduleCreateBody = Type.Object(
  {
    id: Type.String({ pattern: SCHEDULE_ID_PATTERN }),
    workflow: WorkflowName,
    input: Type.Optional(Json),
    cron: Cron,
    timezone: Type.Optional(Timezone),
    overlap: Type.Optional(Overlap),
    catchUp: Type.Optional(CatchUp),
    catchUpLimit: Type.Optional(CatchUpLimit),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const SchedulePatchBody = Type.Object(
  {
    input: Type.Optional(Json),
    cron: Type.Optional(Cron),
    timezone: Type.Optional(Timezone),
    overlap: Type.Optional(Overlap),
    catchUp: Type.Optional(CatchUp),
    catchUpLimit: Type.Optional(CatchUpLimit),
    paused: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);

export const ScheduleOut = Type.Object({
  id: Type.String(),
  namespace: Type.String(),
  workflow: Type.String(),
  input: Type.Optional(Json),
  cron: Type.String(),
  timezone: Type.String(),
  overlap: Overlap,
  catchUp: CatchUp,
  catchUpLimit: Type.Integer(),
  paused: Type.Boolean(),
  nextFireAt: Type.Union([Iso, Type.Null()], { description: 'the next tick; null when the cron has no further one' }),
  lastFireAt: IsoOrNull,
  lastRunId: Type.Union([Type.String(), Type.Null()]),
  bufferedAt: Type.Union([Iso, Type.Null()], { description: 'the tick held back by overlap "buffer_one"' }),
  createdBy: Type.String(),
  createdAt: Iso,
  updatedAt: Iso,
});

const isoOrNull = (t: number | undefined) => (t === undefined ? null : toRfc3339(t));

export function scheduleOut(s: Schedule) {
  return {
    id: s.id,
    namespace: s.ns,
    workflow: s.workflow,
    input: s.input,
    cron: s.cron,
    timezone: s.timezone,
    overlap: s.overlap,
    catchUp: s.catchUp,
    catchUpLimit: s.catchUpLimit,
    paused: s.paused,
    nextFireAt: isoOrNull(s.nextFireAt),
    lastFireAt: isoOrNull(s.lastFireAt),
    lastRunId: s.lastRunId ?? null,
    bufferedAt: isoOrNull(s.bufferedAt),
    createdBy: s.createdBy,
    createdAt: toRfc3339(s.createdAt),
    updatedAt: toRfc3339(s.updatedAt),
  };
}
