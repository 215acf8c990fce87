import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, isAiosError, systemClock, type Clock } from '../src/core/index.ts';
import { EventLog, NatsEventStore, SqlEventStore, type EventStore } from '../src/events/index.ts';
import type { Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { EventWaits, compileMatch, type EventWaitInput, type MatchableEvent } from '../src/workflows/event-waits/index.ts';
import { SqlRunStore } from '../src/workflows/index.ts';
import { conformance, SQL_BACKENDS, sqlDatabase } from './support/conformance.ts';
import { LIVENESS_MS } from './support/until.ts';

const event = (data: unknown, extra: Partial<MatchableEvent> = {}): MatchableEvent => ({
  id: 'e1', topic: 'vibration', key: 'T-7', partition: 1, offset: 42, time: Date.UTC(2026, 0, 1), data, headers: { source: 'plc-3' }, ...extra,
});

function validationError(expr: string): string {
  try {
    compileMatch(expr);
  } catch (e) {
    if (isAiosError(e) && e.code === 'AIOS_VALIDATION') return e.message;
    throw e;
  }
  throw new Error(`${expr} compiled`);
}

describe('event wait match expressions (CEL)', () => {
  const data = { turbineId: 'T-7', rms: 0.7, count: 3, whole: 1, site: 'north-2', tags: ['hot', 'loud'], nested: { ok: true }, none: null };
  const cases: [string, boolean][] = [
    ["event.data.turbineId == 'T-7' && event.data.rms > 0.5", true],
    ['event.data.rms > 0.7', false],
    ['event.data.count == 3', true],
    ['event.data.count > 2', true],
    ['event.data.count == 3.0', true],
    ['event.data.count < 3.5', true],
    ['event.data.whole * 2.0 == 2.0', true],
    ['event.data.count + 1.0 == 4.0', true],
    ['int(event.data.count) % 2 == 1', true],
    ['event.partition == 1 && event.offset > 41 && event.time >= 1767225600000', true],
    ['event.partition % 2 == 1', true],
    ["event.data.site.startsWith('north') && !event.data.site.endsWith('x')", true],
    ["event.data.site.split('-')[1] == '2' && event.data.site.upperAscii() == 'NORTH-2'", true],
    ["event.headers['source'] == 'plc-3' && !('trace' in event.headers)", true],
    ["event.key == 'T-7' && event.topic == 'vibration' && event.id == 'e1'", true],
    ["'hot' in event.data.tags && event.data.tags.exists(t, t == 'loud') && size(event.data.tags) == 2", true],
    ['event.data.nested.ok && event.data.none == null', true],
    ['has(event.data.missing)', false],
    ['event.data.missing > 1', false],
    ['event.data.missing > 1 || event.data.rms > 0.5', true],
    ["event.headers['trace'] == 'x'", false],
    ['event.data.site > 1', false],
    ['event.data.count', false],
    ["'not a bool'", false],
  ];
  for (const [expr, expected] of cases) {
    it(`${expr} is ${expected}`, () => {
      expect(compileMatch(expr)(event(data))).toBe(expected);
    });
  }

  it('sees a null key and missing headers', () => {
    expect(compileMatch('event.key == null && size(event.headers) == 0')(event({}, { key: null, headers: {} }))).toBe(true);
  });

  it('rejects what cannot be a match with AIOS_VALIDATION, naming the CEL error', () => {
    expect(validationError('event.data.rms >')).toMatch(/not valid CEL: .*found/);
    expect(validationError("evnt.data.turbineId == 'T-7'")).toMatch(/undeclared reference to 'evnt'/);
    expect(validationError("event.data.site.beginsWith('n')")).toMatch(/undeclared function 'beginsWith'/);
    expect(validationError('')).toMatch(/empty/);
    expect(validationError(`event.data.x == '${'a'.repeat(5000)}'`)).toMatch(/limit is 4096/);
  });
});

/** One database with an event log, a run store and event waits on it. */
interface Side {
  readonly database: Database;
  readonly log: EventLog;
  readonly runs: SqlRunStore;
  readonly waits: EventWaits;
  close(): Promise<void>;
}

async function openSide(database: Database, store: EventStore, clock: Clock = systemClock): Promise<Side> {
  await migrate(database);
  const log = new EventLog({ database, store, clock });
  const waits = new EventWaits({ database, events: log, clock, pollMs: 20 });
  return { database, log, runs: new SqlRunStore({ database, clock }), waits, close: async () => { await waits.stop(); await log.close(); await database.close(); } };
}

/** The recipe of the engine: validate, take the position, then register in a transaction. */
async function waitFor(s: Side, w: Omit<EventWaitInput, 'after' | 'deadline'> & { deadline?: number | null }, after?: Record<number, number>): Promise<void> {
  s.waits.validate(w.match);
  const position = after ?? (await s.waits.position(w.ns, w.topic));
  await s.database.db.transaction().execute((trx) => s.waits.register(trx, { ...w, deadline: w.deadline ?? null, after: position }));
}

async function signalsOf(s: Side, ns: string, runId: string) {
  const rows = await s.database.db.selectFrom('aios_wf_signals').select(['name', 'payload']).where('ns', '=', ns).where('run_id', '=', runId).orderBy('seq').execute();
  return rows.map((r) => ({ name: r.name as string, payload: typeof r.payload === 'string' ? JSON.parse(r.payload) : r.payload }));
}

const openWaits = async (s: Side, ns: string) => (await s.database.db.selectFrom('aios_wf_event_waits').select(['run_id', 'seq']).where('ns', '=', ns).execute()).length;

await conformance('event waits', { backends: SQL_BACKENDS, factory: sqlDatabase }, (t) => {
  const { it } = t;
  const ns = 'plant-a';
  const topic = 'vibration';
  let a: Side;
  let n = 0;
  let runId: string;
  const newRun = async (side = a) => (await side.runs.createRun({ ns, id: `run-${++n}`, name: 'inspect', version: '1', createdBy: 'test' })).run.id;
  const append = (side: Side, ...data: object[]) => side.log.publish(ns, topic, data.map((d) => ({ data: d, headers: { source: 'plc' } })));

  beforeAll(async () => {
    const database = await t.fixture.connect();
    a = await openSide(database, new SqlEventStore(database));
    await a.log.createTopic(ns, { name: topic, partitions: 2, keyField: 'turbineId' });
  });
  afterAll(async () => {
    await a?.close();
  });
  beforeEach(async () => {
    await a.database.db.deleteFrom('aios_wf_event_waits').execute();
    runId = await newRun();
  });

  it('delivers the first matching event once, as the signal aios.event:<seq>, and wakes the released run', async () => {
    const [claimed] = (await a.runs.claim('w1', { leaseMs: 30_000, limit: 1000 })).filter((r) => r.id === runId);
    await a.runs.update(ns, runId, claimed.epoch, { status: 'waiting', owner: null, wakeAt: null });
    await waitFor(a, { ns, runId, seq: 3, topic, match: "event.data.turbineId == 'T-7' && event.data.rms > 0.5" });
    await append(a, { turbineId: 'T-7', rms: 0.2 }, { turbineId: 'T-8', rms: 0.9 });
    expect(await a.waits.tick()).toBe(0);
    expect(await signalsOf(a, ns, runId)).toEqual([]);
    const [hit] = await append(a, { turbineId: 'T-7', rms: 0.8, n: 1 }, { turbineId: 'T-7', rms: 0.9, n: 2 });
    expect(await a.waits.tick()).toBe(1);
    await append(a, { turbineId: 'T-7', rms: 0.95 });
    expect(await a.waits.tick()).toBe(0);
    const signals = await signalsOf(a, ns, runId);
    expect(signals).toHaveLength(1);
    expect(signals[0].name).toBe('aios.event:3');
    expect(signals[0].payload.event).toMatchObject({ id: hit.id, topic, key: 'T-7', partition: hit.partition, offset: hit.offset, data: { turbineId: 'T-7', rms: 0.8, n: 1 }, headers: { source: 'plc' } });
    expect(typeof signals[0].payload.event.time).toBe('number');
    expect(await openWaits(a, ns)).toBe(0);
    const run = await a.runs.getRun(ns, runId);
    expect(run?.wakeAt, 'the released waiting run is due again').toBeDefined();
    const [again] = (await a.runs.claim('w2', { leaseMs: 30_000, limit: 1000 })).filter((r) => r.id === runId);
    expect((await a.runs.takeSignal(ns, runId, again.epoch, 'aios.event:3', 3))?.payload).toMatchObject({ event: { id: hit.id } });
  });

  it('does not match an event appended before the position, and does match one appended after it', async () => {
    const before = await append(a, { turbineId: 'T-7', rms: 0.9, when: 'before' });
    const position = await a.waits.position(ns, topic);
    expect(position[before[0].partition]).toBe(before[0].offset + 1);
    const between = await append(a, { turbineId: 'T-7', rms: 0.2, when: 'between' });
    await waitFor(a, { ns, runId, seq: 1, topic, match: 'event.data.rms > 0.1' }, position);
    expect(await a.waits.tick()).toBe(1);
    expect((await signalsOf(a, ns, runId))[0].payload.event.id).toBe(between[0].id);
  });

  it('moves a wait past what it scanned without a match', async () => {
    await waitFor(a, { ns, runId, seq: 1, topic, match: 'event.data.rms > 5.0' });
    const appended = await append(a, { turbineId: 'T-1', rms: 1 }, { turbineId: 'T-2', rms: 1 }, { turbineId: 'T-3', rms: 1 });
    expect(await a.waits.tick()).toBe(0);
    const row = await a.database.db.selectFrom('aios_wf_event_waits').select('after').where('ns', '=', ns).where('run_id', '=', runId).executeTakeFirstOrThrow();
    const after = typeof row.after === 'string' ? JSON.parse(row.after) : row.after;
    for (const e of appended) expect(after[e.partition]).toBeGreaterThan(e.offset);
    await a.waits.cancel(ns, runId, 1);
  });

  // Two connections on PostgreSQL, as two processes would have. SQLite has one writer: a second
  // connection in the same process would block the thread in busy_timeout while the first
  // holds its transaction open, so there the two matchers share the connection.
  it('delivers once when two matchers tick at the same time', async () => {
    const database = t.backend === 'postgres' ? await t.fixture.connect() : undefined;
    const b = database ? await openSide(database, new SqlEventStore(database)) : { waits: new EventWaits({ database: a.database, events: a.log }), close: async () => undefined };
    try {
      const ids = [runId, ...(await Promise.all(Array.from({ length: 14 }, () => newRun())))];
      for (const id of ids) await waitFor(a, { ns, runId: id, seq: 7, topic, match: "event.data.kind == 'trip'" });
      await append(a, { turbineId: 'T-9', kind: 'trip' }, { turbineId: 'T-4', kind: 'trip' });
      const [x, y] = await Promise.all([a.waits.tick(), b.waits.tick()]);
      expect(x + y).toBe(ids.length);
      for (const id of ids) expect((await signalsOf(a, ns, id)).map((s) => s.name)).toEqual(['aios.event:7']);
      expect(await Promise.all([a.waits.tick(), b.waits.tick()])).toEqual([0, 0]);
    } finally {
      await b.close();
    }
  });

  it('cancel removes a wait, and cancelRun all of a run', async () => {
    await waitFor(a, { ns, runId, seq: 1, topic, match: 'true' });
    await waitFor(a, { ns, runId, seq: 2, topic, match: 'true' });
    await waitFor(a, { ns, runId, seq: 3, topic, match: 'true' });
    expect(await a.waits.cancel(ns, runId, 1)).toBe(true);
    expect(await a.waits.cancel(ns, runId, 1)).toBe(false);
    expect(await a.waits.cancelRun(ns, runId)).toBe(2);
    await append(a, { turbineId: 'T-7' });
    expect(await a.waits.tick()).toBe(0);
    expect(await signalsOf(a, ns, runId)).toEqual([]);
  });

  it('cleans up the waits of a finished run and those long past their deadline', async () => {
    const clock = new ManualClock(Date.now());
    const waits = new EventWaits({ database: a.database, events: a.log, clock });
    const [claimed] = (await a.runs.claim('w3', { leaseMs: 30_000, limit: 1000 })).filter((r) => r.id === runId);
    await waitFor(a, { ns, runId, seq: 1, topic, match: 'true' });
    const late = await newRun();
    await waitFor(a, { ns, runId: late, seq: 1, topic, match: 'true', deadline: clock.now() + 1_000 });
    await a.runs.update(ns, runId, claimed.epoch, { status: 'completed', output: 1 });
    clock.advance(2_000);
    await append(a, { turbineId: 'T-7' });
    expect(await waits.tick(), 'a finished run and a wait past its deadline take no event').toBe(0);
    expect(await openWaits(a, ns)).toBe(1);
    clock.advance(60_000);
    expect(await waits.tick()).toBe(0);
    expect(await openWaits(a, ns)).toBe(0);
    expect(await signalsOf(a, ns, runId)).toEqual([]);
    expect(await signalsOf(a, ns, late)).toEqual([]);
  });

  it('matches in the background once started, woken by an append', async () => {
    await waitFor(a, { ns, runId, seq: 5, topic, match: "event.data.turbineId == 'T-5'" });
    a.waits.start();
    try {
      await append(a, { turbineId: 'T-5' });
      await expect.poll(() => signalsOf(a, ns, runId), { timeout: LIVENESS_MS }).toHaveLength(1);
    } finally {
      await a.waits.stop();
    }
  });
});

// The NATS event store under SQL waits: positions come from JetStream, the waits from SQLite.
await conformance('event waits on the event log', { backends: ['nats'], factory: (env) => env }, (t) => {
  const { it } = t;
  let ns: string;
  let side: Side;
  beforeAll(async () => {
    ns = t.fixture.unique('t');
    const store = await NatsEventStore.connect({ url: t.fixture.natsUrl! });
    t.fixture.onTeardown(async () => {
      await store.dropNamespace(ns);
      await side?.close();
    });
    side = await openSide(await (await t.fixture.freshDatabase()).connect({ migrations: false }), store);
    await side.log.createTopic(ns, { name: 'alarms', partitions: 3, keyField: 'site' });
  });

  it('takes the position of every partition and delivers the first matching event', async () => {
    const old = await side.log.publish(ns, 'alarms', [{ data: { site: 'north-1', level: 9 } }]);
    const position = await side.waits.position(ns, 'alarms');
    expect(Object.keys(position).map(Number)).toEqual([0, 1, 2]);
    expect(Math.min(...Object.values(position))).toBeGreaterThan(old[0].offset);
    const runId = (await side.runs.createRun({ ns, id: 'r1', name: 'alarm', version: '1', createdBy: 'test' })).run.id;
    await waitFor(side, { ns, runId, seq: 2, topic: 'alarms', match: "event.data.site.startsWith('north') && event.data.level >= 5" }, position);
    await side.log.publish(ns, 'alarms', [{ data: { site: 'south-1', level: 9 } }, { data: { site: 'north-2', level: 1 } }]);
    expect(await side.waits.tick()).toBe(0);
    const [hit] = await side.log.publish(ns, 'alarms', [{ data: { site: 'north-3', level: 7 } }]);
    expect(await side.waits.tick()).toBe(1);
    const signals = await signalsOf(side, ns, runId);
    expect(signals).toHaveLength(1);
    expect(signals[0].payload.event).toMatchObject({ id: hit.id, partition: hit.partition, offset: hit.offset, data: { site: 'north-3', level: 7 } });
  });
});
