import type { Kysely } from 'kysely';
import { AiosError, checkIdentifier, systemClock, type Clock } from '../../core/index.ts';
import { translateDbError, type Database, type DialectFlags } from '../../storage/index.ts';
import type { ScheduleUpdate, WorkflowTables } from '../store/tables.ts';
import { DEFAULT_MAX_PAYLOAD_BYTES, encodePayload } from '../store/payload.ts';
import { compileCron } from './cron.ts';
import { listSchedules } from './list-schedules.ts';
import { scheduleColumns, toSchedule, type ScheduleRow } from './schedule-rows.ts';

/** When the previous run of a schedule is still under way at a tick. */
export type OverlapPolicy = 'skip' | 'buffer_one' | 'allow';
/** What a scheduler does with ticks it missed (it was down, or the schedule was due long ago). */
export type CatchUpPolicy = 'skip' | 'one' | 'all';

export const OVERLAP_POLICIES: readonly OverlapPolicy[] = ['skip', 'buffer_one', 'allow'];
export const CATCH_UP_POLICIES: readonly CatchUpPolicy[] = ['skip', 'one', 'all'];
export const MAX_CATCH_UP_LIMIT = 1000;

export interface Schedule {
  readonly ns: string;
  readonly id: string;
  readonly workflow: string;
  readonly input?: unknown;
  readonly cron: string;
  readonly timezone: string;
  readonly overlap: OverlapPolicy;
  readonly catchUp: CatchUpPolicy;
  readonly catchUpLimit: number;
  readonly paused: boolean;
  /** The next tick, epoch ms; absent when the cron has no further occurrence. */
  readonly nextFireAt?: number;
  readonly lastFireAt?: number;
  readonly lastRunId?: string;
  /** The tick of the fire held back by overlap 'buffer_one'. */
  readonly bufferedAt?: number;
  readonly createdBy: string;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface CreateScheduleInput {
  readonly id: string;
  readonly workflow: string;
  readonly input?: unknown;
  /** 5 to 7 fields (seconds and years optional), as croner reads them; or a nickname such as "@daily". */
  readonly cron: string;
  /** IANA time zone the cron is read in. Default "UTC". */
  readonly timezone?: string;
  /** Default 'skip'. */
  readonly overlap?: OverlapPolicy;
  /** Default 'one'. */
  readonly catchUp?: CatchUpPolicy;
  /** Most missed ticks fired by catch-up 'all' (the latest ones). Default 10, at most 1000. */
  readonly catchUpLimit?: number;
  readonly paused?: boolean;
  readonly createdBy: string;
}

export interface SchedulePatch {
  readonly input?: unknown;
  readonly cron?: string;
  readonly timezone?: string;
  readonly overlap?: OverlapPolicy;
  readonly catchUp?: CatchUpPolicy;
  readonly catchUpLimit?: number;
  readonly paused?: boolean;
}

export interface SchedulePage {
  readonly schedules: Schedule[];
  readonly next?: string;
}

export interface ScheduleStoreOptions {
  readonly database: Database;
  readonly clock?: Clock;
  readonly maxPayloadBytes?: number;
}

/**
 * Cron schedules of workflows, per namespace (migration 0008). A Scheduler fires them.
 *
 * @example
 * const schedules = new ScheduleStore({ database, clock });
 * await schedules.create('plant-a', { id: 'daily-report', workflow: 'report', cron: '0 9 * * *', timezone: 'Europe/Berlin', createdBy: 'user:ana' });
 * await schedules.update('plant-a', 'daily-report', { paused: true });
 */
export class ScheduleStore {
  readonly #db: Kysely<WorkflowTables>;
  readonly #flags: DialectFlags;
  readonly #clock: Clock;
  readonly #limit: number;

  constructor(opts: ScheduleStoreOptions) {
    this.#db = opts.database.db as Kysely<WorkflowTables>;
    this.#flags = opts.database.flags;
    this.#clock = opts.clock ?? systemClock;
    this.#limit = opts.maxPayloadBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Creates a schedule; AIOS_CONFLICT when the id exists, AIOS_VALIDATION naming a bad field. */
  async create(ns: string, input: CreateScheduleInput): Promise<Schedule> {
    requireText(ns, 'ns');
    for (const field of ['id', 'workflow', 'createdBy'] as const) checkIdentifier(input[field], field, TEXT_LIMITS[field]);
    const timezone = input.timezone ?? 'UTC';
    const overlap = oneOf(input.overlap ?? 'skip', OVERLAP_POLICIES, 'overlap');
    const catchUp = oneOf(input.catchUp ?? 'one', CATCH_UP_POLICIES, 'catchUp');
    const catchUpLimit = checkLimit(input.catchUpLimit ?? 10);
    const now = this.#clock.now();
    const nextFireAt = firstTick(input.cron, timezone, now);
    const row: ScheduleRow = {
      ns,
      id: input.id,
      workflow: input.workflow,
      input: encodePayload(input.input, this.#limit, `the input of schedule ${ns}/${input.id}`),
      cron: input.cron,
      timezone,
      overlap,
      catch_up: catchUp,
      catch_up_limit: catchUpLimit,
      paused: input.paused ? 1 : 0,
      next_fire_at: nextFireAt,
      last_fire_at: null,
      last_run_id: null,
      start_pending: 0,
      buffered: null,
      created_by: input.createdBy,
      created_at: now,
      updated_at: now,
    };
    const inserted = (await this.#guard(() =>
      this.#db
        .insertInto('aios_wf_schedules')
        .values(row)
        .onConflict((oc) => oc.columns(['ns', 'id']).doNothing())
        .returning(scheduleColumns(this.#flags))
        .executeTakeFirst(),
    )) as ScheduleRow | undefined;
    if (!inserted) throw new AiosError('AIOS_CONFLICT', `schedule ${input.id} already exists in namespace ${ns}; update it, or delete it first`);
    return toSchedule(inserted);
  }

  async get(ns: string, id: string): Promise<Schedule | undefined> {
    const row = await this.#guard(() => this.#db.selectFrom('aios_wf_schedules').select(scheduleColumns(this.#flags)).where('ns', '=', ns).where('id', '=', id).executeTakeFirst());
    return row ? toSchedule(row as ScheduleRow) : undefined;
  }

  /** A page of the namespace's schedules in id order; pass `next` back as `after`. */
  async list(ns: string, opts: { limit?: number; after?: string } = {}): Promise<SchedulePage> {
    const page = await this.#guard(() => listSchedules(this.#db, this.#flags, ns, { limit: opts.limit ?? 100, ...(opts.after !== undefined ? { after: opts.after } : {}) }));
    return { schedules: page.rows.map(toSchedule), ...(page.next ? { next: page.next } : {}) };
  }

  /**
   * Changes a schedule. A new cron or time zone, and a resume, recompute the next tick from now
   * (the ticks of a pause are not caught up); a pause keeps it, and no tick fires until resumed.
   */
  async update(ns: string, id: string, patch: SchedulePatch): Promise<Schedule> {
    const current = await this.get(ns, id);
    if (!current) throw new AiosError('AIOS_NOT_FOUND', `no schedule ${id} in namespace ${ns}`);
    const now = this.#clock.now();
    const set: ScheduleUpdate = { updated_at: now };
    if ('input' in patch) set.input = encodePayload(patch.input, this.#limit, `the input of schedule ${ns}/${id}`);
    if (patch.overlap !== undefined) set.overlap = oneOf(patch.overlap, OVERLAP_POLICIES, 'overlap');
    if (patch.catchUp !== undefined) set.catch_up = oneOf(patch.catchUp, CATCH_UP_POLICIES, 'catchUp');
    if (patch.catchUpLimit !== undefined) set.catch_up_limit = checkLimit(patch.catchUpLimit);
    if (patch.cron !== undefined) set.cron = patch.cron;
    if (patch.timezone !== undefined) set.timezone = patch.timezone;
    if (patch.paused !== undefined) set.paused = patch.paused ? 1 : 0;
    const resumed = patch.paused === false && current.paused;
    if (patch.cron !== undefined || patch.timezone !== undefined || resumed) {
      set.next_fire_at = firstTick(patch.cron ?? current.cron, patch.timezone ?? current.timezone, now);
    }
    const row = await this.#guard(() =>
      this.#db.updateTable('aios_wf_schedules').set(set).where('ns', '=', ns).where('id', '=', id).returning(scheduleColumns(this.#flags)).executeTakeFirst(),
    );
    if (!row) throw new AiosError('AIOS_NOT_FOUND', `no schedule ${id} in namespace ${ns}`);
    return toSchedule(row as ScheduleRow);
  }

  /** Deletes a schedule; runs it started are left as they are. Returns whether it existed. */
  async delete(ns: string, id: string): Promise<boolean> {
    const r = await this.#guard(() => this.#db.deleteFrom('aios_wf_schedules').where('ns', '=', ns).where('id', '=', id).executeTakeFirst());
    return Number(r.numDeletedRows) > 0;
  }

  async #guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw translateDbError(e);
    }
  }
}

function firstTick(cron: string, timezone: string, now: number): number | null {
  const next = compileCron(cron, timezone).next(now);
  if (next === null) throw validation('cron', `"${cron}" has no occurrence after ${new Date(now).toISOString()}`);
  return next;
}

function oneOf<T extends string>(value: T, allowed: readonly T[], field: string): T {
  if (!allowed.includes(value)) throw validation(field, `must be one of ${allowed.join(', ')}, got "${String(value)}"`);
  return value;
}

function checkLimit(n: number): number {
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_CATCH_UP_LIMIT) throw validation('catchUpLimit', `must be an integer from 1 to ${MAX_CATCH_UP_LIMIT}, got ${n}`);
  return n;
}

/**
 * Longest text each field takes, in UTF-16 code units: ids name the runs a schedule starts
 * (`sched:<id>:<tick>`), which must stay within the run ids' own limit.
 */
const TEXT_LIMITS = { id: 200, workflow: 200, createdBy: 300 } as const;

function requireText(value: unknown, field: string): void {
  if (typeof value !== 'string' || value.length === 0) throw validation(field, 'must be a non-empty string');
}

function validation(field: string, message: string): AiosError {
  return new AiosError('AIOS_VALIDATION', `schedule ${field} ${message}`, { errors: [{ path: `/${field}`, message }] });
}
