import type { Kysely } from 'kysely';
import { isAiosError, type Clock, type Logger } from '../../core/index.ts';
import type { Database, DialectFlags } from '../../storage/index.ts';
import type { WorkflowTables } from '../store/tables.ts';
import type { WorkflowEngine } from '../engine/index.ts';
import { isTerminal } from '../store/run-store.ts';
import { claimFire } from './claim-fire.ts';
import { compileCron } from './cron.ts';
import { dueSchedules, followUpSchedules } from './due-schedules.ts';
import { planFire } from './plan-fire.ts';
import { releaseBuffered } from './release-buffered.ts';
import { scheduleColumns, scheduleRunId, type ScheduleRow } from './schedule-rows.ts';
import { settleStart } from './settle-start.ts';

export interface SchedulerOptions {
  readonly database: Database;
  /** Starts the runs; its workflows must include every schedule's workflow. */
  readonly engine: WorkflowEngine;
  readonly clock: Clock;
  readonly logger: Logger;
  /** How often `start()` ticks, in real milliseconds. Default 1000. */
  readonly pollMs?: number;
  /** A tick at most this late counts as on time and fires whatever the catch-up policy. Default 60 s. */
  readonly graceMs?: number;
  /** Most schedules looked at per tick; the rest wait for the next one. Default 100. */
  readonly batch?: number;
}

export interface TickResult {
  /**
   * Runs this scheduler started in this tick, including runs of fires another scheduler claimed
   * and did not start. Run creation is idempotent by id, so when such a repair races the claimer,
   * both may list the run; the database holds it once.
   */
  readonly started: string[];
}

/**
 * Fires cron schedules: each tick, for every schedule whose next tick has come, claims the fire
 * with a compare-and-set on `next_fire_at` and starts the run `sched:<scheduleId>:<tickMs>`.
 * Any number of schedulers may run on one database: each tick fires once across them.
 *
 * @example
 * const scheduler = new Scheduler({ database, engine, clock: systemClock, logger });
 * scheduler.start();
 * // ...
 * await scheduler.stop();
 */
export class Scheduler {
  readonly #db: Kysely<WorkflowTables>;
  readonly #flags: DialectFlags;
  readonly #engine: WorkflowEngine;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #pollMs: number;
  readonly #graceMs: number;
  readonly #batch: number;
  #timer?: ReturnType<typeof setTimeout>;
  #running = false;
  #ticking?: Promise<TickResult>;

  constructor(opts: SchedulerOptions) {
    this.#db = opts.database.db as Kysely<WorkflowTables>;
    this.#flags = opts.database.flags;
    this.#engine = opts.engine;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#pollMs = opts.pollMs ?? 1000;
    this.#graceMs = opts.graceMs ?? 60_000;
    this.#batch = opts.batch ?? 100;
  }

  /** Ticks every `pollMs` until `stop()`. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const loop = (): void => {
      if (!this.#running) return;
      this.tick()
        .catch((e: unknown) => this.#logger.error({ err: e }, 'schedule tick failed; retrying at the next one'))
        .finally(() => {
          if (this.#running) this.#timer = setTimeout(loop, this.#pollMs);
        });
    };
    loop();
  }

  /** Stops ticking and waits for a tick under way. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#ticking?.catch(() => undefined);
  }

  /** One pass at the injected clock's now. Calls within one scheduler do not overlap. */
  tick(): Promise<TickResult> {
    const previous = this.#ticking ?? Promise.resolve({ started: [] });
    const next = previous.catch(() => undefined).then(() => this.#tick());
    this.#ticking = next;
    return next;
  }

  async #tick(): Promise<TickResult> {
    const started: string[] = [];
    // Unfinished business first: a buffered fire released now makes its run the one a due
    // tick's overlap check sees.
    for (const row of await followUpSchedules(this.#db, this.#flags, this.#batch)) {
      if (row.start_pending === 1 && row.last_run_id) {
        // Claimed by a scheduler that has not created the run (yet, or ever: it crashed). The id is
        // deterministic, so starting it here too creates at most one run. Usually the claimer is
        // just between its claim and its start: look before starting, so as not to report it too.
        if (await this.#engine.getRun(row.ns, row.last_run_id)) await settleStart(this.#db, row.ns, row.id, row.last_run_id);
        else if (await this.#start(row, row.last_run_id)) started.push(row.last_run_id);
        continue;
      }
      if (row.buffered !== null && row.paused === 0 && !(await this.#previousActive(row))) {
        const runId = scheduleRunId(row.id, Number(row.buffered));
        if ((await releaseBuffered(this.#db, row.ns, row.id, Number(row.buffered), runId)) && (await this.#start(row, runId))) started.push(runId);
      }
    }
    const now = this.#clock.now();
    for (const due of await dueSchedules(this.#db, this.#flags, now, this.#batch)) {
      let row: ScheduleRow | undefined = due;
      // Work off this schedule's backlog claim by claim; stop when it waits for a future tick or
      // another scheduler moved it. Bounded: each claim moves next_fire_at forward.
      while (row && row.paused === 0 && row.next_fire_at !== null && Number(row.next_fire_at) <= now) {
        const runId = await this.#fireOnce(row, now);
        if (runId) started.push(runId);
        row = await this.#reload(row);
      }
    }
    return { started };
  }

  /** Claims one step of a due schedule; returns the run id it started, if any. */
  async #fireOnce(row: ScheduleRow, now: number): Promise<string | undefined> {
    const read = Number(row.next_fire_at);
    let plan;
    try {
      plan = planFire(compileCron(row.cron, row.timezone), read, now, this.#graceMs, row.catch_up as 'skip' | 'one' | 'all', Number(row.catch_up_limit));
    } catch (e) {
      // A schedule written before a cron library change could stop compiling: park it, say why.
      this.#logger.error({ err: e, ns: row.ns, scheduleId: row.id }, 'schedule cron no longer compiles; it will not fire until updated');
      await claimFire(this.#db, { ns: row.ns, id: row.id, readNextFireAt: read, nextFireAt: null });
      return undefined;
    }
    const claim = { ns: row.ns, id: row.id, readNextFireAt: read, nextFireAt: plan.next };
    if (plan.fireAt === undefined) {
      await claimFire(this.#db, claim);
      return undefined;
    }
    const busy = row.overlap !== 'allow' && (await this.#previousActive(row));
    if (busy && row.overlap === 'skip') {
      await claimFire(this.#db, { ...claim, firedAt: plan.fireAt });
      return undefined;
    }
    if (busy) {
      await claimFire(this.#db, { ...claim, firedAt: plan.fireAt, buffer: plan.fireAt });
      return undefined;
    }
    const runId = scheduleRunId(row.id, plan.fireAt);
    if (!(await claimFire(this.#db, { ...claim, firedAt: plan.fireAt, runId }))) return undefined;
    return (await this.#start(row, runId)) ? runId : undefined;
  }

  async #start(row: ScheduleRow, runId: string): Promise<boolean> {
    try {
      await this.#engine.startRun(row.ns, row.workflow, row.input === null ? undefined : JSON.parse(row.input), { id: runId, createdBy: `schedule:${row.id}` });
    } catch (e) {
      // Left pending: the next tick of any scheduler retries with the same id. A workflow not
      // registered on this engine, or an input its schema refuses, keeps failing until fixed.
      const level = isAiosError(e, 'AIOS_NOT_FOUND') || isAiosError(e, 'AIOS_VALIDATION') ? 'error' : 'warn';
      this.#logger[level]({ err: e, ns: row.ns, scheduleId: row.id, runId }, 'could not start the run of a schedule; retrying at the next tick');
      return false;
    }
    await settleStart(this.#db, row.ns, row.id, runId);
    return true;
  }

  /** Whether the schedule's last run is not finished. A run not created yet counts as under way. */
  async #previousActive(row: ScheduleRow): Promise<boolean> {
    if (!row.last_run_id) return false;
    const run = await this.#engine.getRun(row.ns, row.last_run_id);
    return !run || !isTerminal(run.status);
  }

  async #reload(row: ScheduleRow): Promise<ScheduleRow | undefined> {
    return (await this.#db
      .selectFrom('aios_wf_schedules')
      .select(scheduleColumns(this.#flags))
      .where('ns', '=', row.ns)
      .where('id', '=', row.id)
      .executeTakeFirst()) as ScheduleRow | undefined;
  }
}
