/**
 * npm run bench -- events [--quick] [--backend=sqlite|postgres|nats] [--rounds N]
 *
 * Durable append throughput and latency of the event log through its in-process API (validation,
 * group commit, the backend's durable write), at batch sizes 1/100/1000 and 1/16 concurrent
 * producers, on SQLite, PostgreSQL and NATS JetStream. In the same run, each engine's limit here
 * is measured as a reference, with the same events, batches and producers: `sqlite-raw` (a
 * better-sqlite3 prepared insert, one transaction per batch), `pg-raw` (one `pg` insert from
 * `unnest` per batch) and `nats-raw` (`js.publish` with a msgID, file storage, every ack awaited).
 * `ratioVsRaw` = AIOS / the raw reference of its engine for the same batch and producers.
 * `workload` names the data contract: `contract` (types only) or `contract+pattern` (the same
 * with a `pattern` on a string field, evaluated by the linear-time engine); `backend: "none"`
 * rows time validation and preparation alone (`prepareBatch`, no write). With `--rounds N` all the
 * cases run N times over, one round after another, and each figure is the median over the rounds,
 * events/s with its min and max.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createDatabase } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { EventLog, NatsEventStore, SqlEventStore, type EventStore } from '../src/events/index.ts';
import { freshPgSchema, NATS_URL, pgAvailable, natsAvailable, randomName } from '../test/support/services.ts';
import { percentile, report, round, roundsArg, summarize } from './_report.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--backend='))?.slice(10);
const ROUNDS = roundsArg();
const SECONDS = quick ? 1.2 : 5;
const BATCHES = [1, 100, 1000];
const PRODUCERS = [1, 16];
const SCHEMA = { type: 'object', required: ['turbineId', 'rms'], properties: { turbineId: { type: 'string' }, rms: { type: 'number' }, temp: { type: 'number' } } };
const PATTERN_SCHEMA = { ...SCHEMA, properties: { ...SCHEMA.properties, turbineId: { type: 'string', pattern: '^t[0-9]{1,4}$' } } };

let seq = 0;
function makeBatch(n: number) {
  return Array.from({ length: n }, () => {
    const i = seq++;
    return { id: `e-${i}`, data: { turbineId: `t${i % 64}`, rms: (i % 1000) / 100, temp: 40 + (i % 7) } };
  });
}

/** Runs `producers` loops, each awaiting `send(batch)` back to back, for SECONDS. */
async function drive(batch: number, producers: number, send: (events: ReturnType<typeof makeBatch>) => Promise<unknown>) {
  const latencies: number[] = [];
  let events = 0;
  const deadline = performance.now() + SECONDS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (performance.now() < deadline) {
        const b = makeBatch(batch);
        const t0 = performance.now();
        await send(b);
        latencies.push(performance.now() - t0);
        events += batch;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { eventsPerSec: Math.round(events / elapsed), p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
}

async function benchLog(backend: string, store: EventStore, database: ReturnType<typeof createDatabase>) {
  const log = new EventLog({ database, store, limits: { maxEventsPerRequest: 10_000, appendQueueEvents: 1_000_000, commitBatchEvents: 20_000 } });
  const ns = randomName('bench');
  await log.createTopic(ns, { name: 'telemetry', schema: SCHEMA, keyField: 'turbineId', partitions: 4 });
  await log.createTopic(ns, { name: 'telemetry-pattern', schema: PATTERN_SCHEMA, keyField: 'turbineId', partitions: 4 });
  const out = [];
  for (const batch of BATCHES) {
    for (const producers of PRODUCERS) {
      const r = await drive(batch, producers, (events) => log.append(ns, 'telemetry', events));
      out.push({ system: 'aios', backend, workload: 'contract', batch, producers, ...r });
      console.error(`  aios/${backend} batch=${batch} producers=${producers}: ${r.eventsPerSec} events/s`);
    }
  }
  for (const producers of PRODUCERS) {
    const r = await drive(1000, producers, (events) => log.append(ns, 'telemetry-pattern', events));
    out.push({ system: 'aios', backend, workload: 'contract+pattern', batch: 1000, producers, ...r });
    console.error(`  aios/${backend} pattern batch=1000 producers=${producers}: ${r.eventsPerSec} events/s`);
  }
  if (store instanceof NatsEventStore) await store.dropNamespace(ns);
  await log.close();
  return out;
}

/**
 * The event log's table and indexes (migration 0001: clustered primary key on topic, partition and
 * offset, WITHOUT ROWID on SQLite; the unique (topic_id, id) idempotency index; jsonb on
 * PostgreSQL), without the offset bookkeeping rows and sparse time index AIOS also writes.
 */
function rawEventsDdl(json: 'text' | 'jsonb'): string[] {
  return [
    `create table raw_events (topic_id bigint not null, partition integer not null, "offset" bigint not null, id text not null, key text,
       time bigint not null, ingested_at bigint not null, data ${json} not null, headers ${json},
       constraint raw_events_pk primary key (topic_id, partition, "offset"))${json === 'text' ? ' without rowid' : ''}`,
    'create unique index raw_events_id on raw_events (topic_id, id)',
  ];
}

/** Offsets handed out per partition in memory, as the raw references have no queue to do it. */
function rawRows(events: ReturnType<typeof makeBatch>, next: number[]) {
  const now = Date.now();
  return events.map((e) => {
    const partition = Number(e.data.turbineId.slice(1)) % 4;
    return { partition, offset: next[partition]++, id: e.id, key: e.data.turbineId, time: now, data: JSON.stringify(e.data) };
  });
}

async function benchRawCases(system: string, backend: string, send: (events: ReturnType<typeof makeBatch>) => Promise<unknown> | unknown) {
  const out = [];
  for (const batch of BATCHES) {
    for (const producers of PRODUCERS) {
      const r = await drive(batch, producers, async (events) => send(events));
      out.push({ system, backend, workload: 'none', batch, producers, ...r });
      console.error(`  ${system} batch=${batch} producers=${producers}: ${r.eventsPerSec} events/s`);
    }
  }
  return out;
}

/**
 * better-sqlite3 alone: one prepared single-row insert per event inside one BEGIN IMMEDIATE
 * transaction per batch, on a connection with the pragmas of src/storage/database.ts (WAL,
 * synchronous=FULL, 64 MiB page cache).
 */
async function benchRawSqlite(file: string) {
  const db = new BetterSqlite3(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('busy_timeout = 5000');
  db.pragma('cache_size = -65536');
  for (const ddl of rawEventsDdl('text')) db.exec(ddl);
  const insert = db.prepare('insert into raw_events (topic_id, partition, "offset", id, key, time, ingested_at, data, headers) values (1, ?, ?, ?, ?, ?, ?, ?, null)');
  const next = [0, 0, 0, 0];
  const write = db.transaction((events: ReturnType<typeof makeBatch>) => {
    const ingestedAt = Date.now();
    for (const r of rawRows(events, next)) insert.run(r.partition, r.offset, r.id, r.key, r.time, ingestedAt, r.data);
  });
  try {
    return await benchRawCases('sqlite-raw', 'sqlite', (events) => write.immediate(events));
  } finally {
    db.close();
  }
}

/**
 * pg alone: one `insert ... select from unnest(...)` per batch (one round trip, its own commit,
 * synchronous_commit as the server sets it), over a pool of the size AIOS uses (10).
 */
async function benchRawPostgres(url: string) {
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  for (const ddl of rawEventsDdl('jsonb')) await pool.query(ddl);
  const next = [0, 0, 0, 0];
  const insert = `insert into raw_events (topic_id, partition, "offset", id, key, time, ingested_at, data, headers)
    select 1, p, o, i, k, tm, $7::bigint, d, null
    from unnest($1::int[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::jsonb[]) as u(p, o, i, k, tm, d)`;
  try {
    return await benchRawCases('pg-raw', 'postgres', (events) => {
      const rows = rawRows(events, next);
      const col = <K extends keyof (typeof rows)[number]>(k: K) => rows.map((r) => r[k]);
      return pool.query(insert, [col('partition'), col('offset'), col('id'), col('key'), col('time'), col('data'), Date.now()]);
    });
  } finally {
    await pool.end();
  }
}

async function benchRawJetStream() {
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = randomName('BENCH_RAW_');
  await jsm.streams.add({ name, subjects: [`${name}.>`], storage: 'file' as never });
  const out = await benchRawCases('nats-raw', 'nats', (events) =>
    Promise.all(events.map((e) => js.publish(`${name}.${Number(e.data.turbineId.slice(1)) % 4}`, JSON.stringify(e.data), { msgID: e.id }))),
  );
  await jsm.streams.delete(name);
  await nc.close();
  return out;
}

/** Validation and preparation alone, no write: what a data contract costs per event. */
async function benchPrepare(database: ReturnType<typeof createDatabase>) {
  const log = new EventLog({ database, store: new SqlEventStore(database), limits: { maxEventsPerRequest: 10_000 } });
  const ns = randomName('bench');
  const out = [];
  for (const [workload, schema] of [['contract', SCHEMA], ['contract+pattern', PATTERN_SCHEMA]] as const) {
    const name = workload === 'contract' ? 'prep' : 'prep-pattern';
    await log.createTopic(ns, { name, schema, keyField: 'turbineId', partitions: 4 });
    const r = await drive(1000, 1, async (events) => log.prepareBatch(ns, name, events));
    out.push({ system: 'aios', backend: 'none', workload, batch: 1000, producers: 1, eventsPerSec: r.eventsPerSec, p50Ms: r.p50Ms, p99Ms: r.p99Ms });
    console.error(`  prepare ${workload} batch=1000: ${r.eventsPerSec} events/s`);
  }
  await log.close();
  return out;
}

/** Each AIOS row's throughput over its engine's raw reference for the same batch and producers. */
function withRatioVsRaw(ours: Record<string, unknown>[], raw: Record<string, unknown>[]) {
  return ours.map((r) => {
    const ref = raw.find((x) => x.batch === r.batch && x.producers === r.producers);
    return ref ? { ...r, ratioVsRaw: round((r.eventsPerSec as number) / (ref.eventsPerSec as number)) } : r;
  });
}

/** One round of every case, on the backends asked for and reachable; SQLite files go in `dir`. */
async function benchRound(dir: string): Promise<Record<string, unknown>[]> {
  const results: Record<string, unknown>[] = [];
  {
    const database = createDatabase({ sqliteFile: join(dir, 'prepare.db') });
    await migrate(database);
    results.push(...(await benchPrepare(database)));
    await database.close();
  }
  if (!only || only === 'sqlite') {
    const raw = await benchRawSqlite(join(dir, 'raw.db'));
    const database = createDatabase({ sqliteFile: join(dir, 'bench.db') });
    await migrate(database);
    const ours = await benchLog('sqlite', new SqlEventStore(database), database);
    await database.close();
    results.push(...withRatioVsRaw(ours, raw), ...raw);
  }
  if ((!only || only === 'postgres') && (await pgAvailable())) {
    const rawSchema = await freshPgSchema();
    let raw;
    try {
      raw = await benchRawPostgres(rawSchema.url);
    } finally {
      await rawSchema.drop();
    }
    const schema = await freshPgSchema();
    const database = createDatabase({ url: schema.url });
    await migrate(database);
    const ours = await benchLog('postgres', new SqlEventStore(database), database);
    await database.close();
    await schema.drop();
    results.push(...withRatioVsRaw(ours, raw), ...raw);
  }
  if ((!only || only === 'nats') && (await natsAvailable())) {
    const raw = await benchRawJetStream();
    const database = createDatabase({ sqliteFile: join(dir, 'nats-topics.db') });
    await migrate(database);
    const store = await NatsEventStore.connect({ url: NATS_URL });
    const ours = await benchLog('nats', store, database);
    await database.close();
    for (const r of ours) {
      const peer = raw.find((x) => x.batch === r.batch && x.producers === r.producers)!;
      if (r.workload === 'contract') (r as Record<string, unknown>).ratioVsPeer = round(r.eventsPerSec / peer.eventsPerSec);
    }
    results.push(...withRatioVsRaw(ours, raw), ...raw);
  }
  return results;
}

const rounds: Record<string, unknown>[][] = [];
for (let n = 1; n <= ROUNDS; n++) {
  if (ROUNDS > 1) console.error(`round ${n}/${ROUNDS}`);
  const dir = mkdtempSync(join(tmpdir(), 'aios-bench-'));
  try {
    rounds.push(await benchRound(dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
report('events', summarize(rounds, ['system', 'backend', 'workload', 'batch', 'producers'], ['eventsPerSec']), { rounds: ROUNDS });
