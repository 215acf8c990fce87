/**
 * npm run bench -- events [--quick]
 *
 * Durable append throughput and latency of the event log through its in-process API (validation,
 * group commit, the backend's durable write), at batch sizes 1/100/1000 and 1/16 concurrent
 * producers, on SQLite, PostgreSQL and NATS JetStream; and, in the same run, raw JetStream
 * publish with the nats client (msgID, file storage, awaiting every ack) as the reference.
 * `workload` names the data contract: `contract` (types only) or `contract+pattern` (the same
 * with a `pattern` on a string field, evaluated by the linear-time engine); `backend: "none"`
 * rows time validation and preparation alone (`prepareBatch`, no write).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createDatabase } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { EventLog, NatsEventStore, SqlEventStore, type EventStore } from '../src/events/index.ts';
import { freshPgSchema, NATS_URL, pgAvailable, natsAvailable, randomName } from '../test/support/services.ts';
import { percentile, report, round } from './_report.ts';

const quick = process.argv.includes('--quick');
const only = process.argv.find((a) => a.startsWith('--backend='))?.slice(10);
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

async function benchRawJetStream() {
  const nc = await connect({ servers: NATS_URL.replace(/^nats:\/\//, '') });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  const name = randomName('BENCH_RAW_');
  await jsm.streams.add({ name, subjects: [`${name}.>`], storage: 'file' as never });
  const out = [];
  for (const batch of BATCHES) {
    for (const producers of PRODUCERS) {
      const r = await drive(batch, producers, (events) =>
        Promise.all(events.map((e) => js.publish(`${name}.${Number(e.data.turbineId.slice(1)) % 4}`, JSON.stringify(e.data), { msgID: e.id }))),
      );
      out.push({ system: 'nats-raw', backend: 'nats', workload: 'none', batch, producers, ...r });
      console.error(`  raw jetstream batch=${batch} producers=${producers}: ${r.eventsPerSec} events/s`);
    }
  }
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

const results: Record<string, unknown>[] = [];
const dir = mkdtempSync(join(tmpdir(), 'aios-bench-'));
try {
  {
    const database = createDatabase({ sqliteFile: join(dir, 'prepare.db') });
    await migrate(database);
    results.push(...(await benchPrepare(database)));
    await database.close();
  }
  if (!only || only === 'sqlite') {
    const database = createDatabase({ sqliteFile: join(dir, 'bench.db') });
    await migrate(database);
    results.push(...(await benchLog('sqlite', new SqlEventStore(database), database)));
    await database.close();
  }
  if ((!only || only === 'postgres') && (await pgAvailable())) {
    const schema = await freshPgSchema();
    const database = createDatabase({ url: schema.url });
    await migrate(database);
    results.push(...(await benchLog('postgres', new SqlEventStore(database), database)));
    await database.close();
    await schema.drop();
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
    results.push(...ours, ...raw);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
report('events', results);
