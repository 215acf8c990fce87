import { spawn } from 'node:child_process';
import { beforeAll, expect } from 'vitest';
import { ManualClock } from '../src/core/index.ts';
import { NatsEventStore, type StoredEvent, type Topic } from '../src/events/index.ts';
// The store's own input type and partitioning: what EventLog hands a store, built here by hand.
import { partitionFor, type PreparedEvent } from '../src/events/event.ts';
import { conformance } from './support/conformance.ts';
import { NATS_URL } from './support/services.ts';

/**
 * What the conformance suite (test/events-conformance.test.ts) cannot see on NATS: dedup across
 * a kill -9 inside appends, ids and keys the subject encoding must survive, the msgID path of a
 * re-keyed id, per-partition count retention, and that reads leave no consumers behind.
 */
/** A namespace of this run only, set when the suite starts; its streams are dropped at teardown. */
let ns: string;

function topic(name: string, partitions = 1, retention: Topic['retention'] = { ms: null, count: null }): Topic {
  return { topicId: 0, ns, name, description: null, schema: {}, schemaVersion: 1, keyField: null, partitions, retention, createdAt: 0, updatedAt: 0 };
}

function ev(t: Topic, id: string, data: unknown, key: string | null = null, headers: Record<string, string> = {}): PreparedEvent {
  const headersJson = Object.keys(headers).length ? JSON.stringify(headers) : null;
  return { id, key, partition: partitionFor(key, id, t.partitions), time: 1_700_000_000_000, data, dataJson: JSON.stringify(data), headers, headersJson };
}

async function readAll(store: NatsEventStore, t: Topic): Promise<StoredEvent[]> {
  const out: StoredEvent[] = [];
  for (let p = 0; p < t.partitions; p++) {
    for (let from = 0; ; ) {
      const page = await store.read(t, p, from, 1000);
      if (!page.length) break;
      out.push(...page);
      from = page[page.length - 1].offset + 1;
    }
  }
  return out;
}

const CHILD = `
const { NatsEventStore } = await import(process.env.STORE_URL);
const { partitionFor } = await import(process.env.EVENT_URL);
const t = JSON.parse(process.env.TOPIC);
const store = await NatsEventStore.connect({ url: process.env.NATS_URL });
for (let b = 0; ; b++) {
  const events = Array.from({ length: Number(process.env.BATCH) }, (_, i) => {
    const id = 'c-' + b + '-' + i, key = 'k' + (i % 5), data = { b, i };
    return { id, key, partition: partitionFor(key, id, t.partitions), time: 0, data, dataJson: JSON.stringify(data), headers: {}, headersJson: null };
  });
  await store.append([{ topic: t, events }]);
  process.stdout.write('acked ' + b + '\\n');
}
`;

await conformance('NATS event store', { backends: ['nats'], factory: (env) => env }, (t) => {
  const { it } = t;
  let store: NatsEventStore;
  beforeAll(async () => {
    ns = t.fixture.unique('n');
    store = await NatsEventStore.connect({ url: NATS_URL });
    t.fixture.onTeardown(async () => {
      await store.dropNamespace(ns);
      await store.close();
    });
  });

  it('stores every id once when appends are killed (-9) mid-flight and resent', async () => {
    const t = topic('crash', 3);
    // A 100 ms Nats-Msg-Id window (the server's minimum): the resend comes after it, so only the per-subject guard
    // of the stream stands between a retry and a second copy.
    const shortWindow = await NatsEventStore.connect({ url: NATS_URL, duplicateWindowMs: 100 });
    await shortWindow.ensureTopic(t);
    await shortWindow.close();
    const BATCH = 200;
    let maxAcked = -1;
    for (let kill = 0; kill < 6; kill++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CHILD], {
        env: {
          ...process.env,
          STORE_URL: new URL('../src/events/nats/nats-event-store.ts', import.meta.url).href,
          EVENT_URL: new URL('../src/events/event.ts', import.meta.url).href,
          TOPIC: JSON.stringify(t),
          NATS_URL,
          BATCH: String(BATCH),
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      let acked = -1;
      await new Promise<void>((resolve) => {
        child.stdout!.on('data', (d: Buffer) => {
          for (const m of String(d).matchAll(/acked (\d+)/g)) acked = Math.max(acked, Number(m[1]));
          // Let it run a little past its first acks, then kill it wherever it is: nearly always
          // between publishes and their acks.
          if (acked >= 2 + kill) setTimeout(resolve, Math.random() * 15);
        });
      });
      child.kill('SIGKILL');
      await exited;
      maxAcked = Math.max(maxAcked, acked);
    }
    await new Promise((r) => setTimeout(r, 250));
    // The producer's retry: every batch any child may have started, with the same ids.
    const lastStarted = maxAcked + 1;
    const batches = Array.from({ length: lastStarted + 1 }, (_, b) =>
      Array.from({ length: BATCH }, (_, i) => ev(t, `c-${b}-${i}`, { b, i }, `k${i % 5}`)),
    );
    const results = await store.append(batches.map((events) => ({ topic: t, events })));
    for (let b = 0; b <= maxAcked; b++) expect(results[b].every((r) => r.duplicate)).toBe(true);
    const stored = await readAll(store, t);
    const ids = stored.map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe((lastStarted + 1) * BATCH);
    const byId = new Map(stored.map((e) => [e.id, e]));
    for (const r of results.flat()) expect(byId.get(r.id)).toMatchObject({ partition: r.partition, offset: r.offset });
  });

  it('keeps dedup after the Nats-Msg-Id window has passed', async () => {
    const t = topic('window', 2);
    const short = await NatsEventStore.connect({ url: NATS_URL, duplicateWindowMs: 100 });
    try {
      await short.ensureTopic(t);
      const [[first]] = await short.append([{ topic: t, events: [ev(t, 'late', 1, 'k')] }]);
      await new Promise((r) => setTimeout(r, 250));
      const [[again, twin]] = await short.append([{ topic: t, events: [ev(t, 'late', 2, 'k'), ev(t, 'late', 3, 'k')] }]);
      expect(again).toEqual({ ...first, duplicate: true });
      expect(twin).toEqual({ ...first, duplicate: true });
      expect((await readAll(short, t)).map((e) => e.data)).toEqual([1]);
    } finally {
      await short.close();
    }
  });

  it('round-trips ids, keys and header names the subject and headers must encode', async () => {
    const t = topic('odd', 4);
    await store.ensureTopic(t);
    const ids = ['a.b.c', 'with space', '*', '>', 'ünïcødé 日本', 'x'.repeat(200), 'lone \ud800 surrogate', 'tab\tand\r\nnewline'];
    const events = ids.map((id, n) => ev(t, id, { n }, n % 2 ? `kéy\n${n}` : null, { 'X-Mixed-Case': `v${n}`, lower: 'ünï\r\n' }));
    const [placed] = await store.append([{ topic: t, events }]);
    expect(placed.map((p) => p.duplicate)).toEqual(ids.map(() => false));
    const stored = await readAll(store, t);
    for (const [n, id] of ids.entries()) {
      const e = stored.find((x) => x.id === id);
      expect(e).toMatchObject({ partition: events[n].partition, key: events[n].key, data: { n }, headers: { 'X-Mixed-Case': `v${n}`, lower: 'ünï\r\n' } });
    }
    const [again] = await store.append([{ topic: t, events }]);
    expect(again).toEqual(placed.map((p) => ({ ...p, duplicate: true })));
  });

  it('reports an id re-sent with another key at its first partition (within the Nats-Msg-Id window)', async () => {
    const t = topic('rekey', 8);
    await store.ensureTopic(t);
    const [[first]] = await store.append([{ topic: t, events: [ev(t, 'moved', 1, 'key-a')] }]);
    let other = 'key-b';
    for (let n = 0; partitionFor(other, 'moved', 8) === first.partition; n++) other = `key-${n}`;
    const [[second]] = await store.append([{ topic: t, events: [ev(t, 'moved', 2, other)] }]);
    expect(second).toEqual({ ...first, duplicate: true });
  });

  it('reads long ranges in order, bounded by toOffset, and leaves no consumers behind', async () => {
    const t = topic('ranges', 2);
    await store.ensureTopic(t);
    const events = Array.from({ length: 300 }, (_, n) => ev(t, `r${n}`, n));
    const [placed] = await store.append([{ topic: t, events }]);
    const p0 = placed.filter((p) => p.partition === 0).map((p) => p.offset);
    const reader = await NatsEventStore.connect({ url: NATS_URL });
    try {
      expect((await reader.read(t, 0, 0, 10_000)).map((e) => e.offset)).toEqual(p0);
      expect((await reader.read(t, 0, p0[10], 50, p0[40])).map((e) => e.offset)).toEqual(p0.slice(10, 40));
      expect((await reader.read(t, 0, p0[10], 5, p0[40])).map((e) => e.offset)).toEqual(p0.slice(10, 15));
      // Paging on from where the last page ended reuses the parked read cursor.
      const paged: number[] = [];
      for (let from = 0; ; ) {
        const page = await reader.read(t, 0, from, 17);
        if (!page.length) break;
        paged.push(...page.map((e) => e.offset));
        from = page[page.length - 1].offset + 1;
      }
      expect(paged).toEqual(p0);
      // Events appended after a cursor was parked at the end are read from it too.
      const [more] = await store.append([{ topic: t, events: Array.from({ length: 40 }, (_, n) => ev(t, `s${n}`, n)) }]);
      const tail = await reader.read(t, 0, p0[p0.length - 1] + 1, 1000);
      expect(tail.map((e) => e.offset)).toEqual(more.filter((p) => p.partition === 0).map((p) => p.offset));
    } finally {
      await reader.close();
    }
    expect(await ephemeralConsumers(`AIOS_${ns.length}_${ns}_ranges`)).toEqual([]);
  });

  it('keeps retention.count per partition and purges by AIOS ingestion time', async () => {
    const clock = new ManualClock(Date.now());
    const timed = await NatsEventStore.connect({ url: NATS_URL, clock });
    try {
      const t = topic('retain', 3, { ms: 60_000, count: 4 });
      await timed.ensureTopic(t);
      await timed.append([{ topic: t, events: Array.from({ length: 30 }, (_, n) => ev(t, `old${n}`, n, `k${n % 3}`)) }]);
      clock.advance(120_000);
      const [fresh] = await timed.append([{ topic: t, events: Array.from({ length: 30 }, (_, n) => ev(t, `new${n}`, n, `k${n % 3}`)) }]);
      const deleted = await timed.enforceRetention(t, clock.now());
      const left = await readAll(timed, t);
      expect(left.every((e) => e.id.startsWith('new'))).toBe(true);
      for (let p = 0; p < 3; p++) {
        const want = fresh.filter((f) => f.partition === p).slice(-4).map((f) => f.offset);
        expect(left.filter((e) => e.partition === p).map((e) => e.offset)).toEqual(want);
      }
      expect(deleted).toBe(60 - left.length);
      expect(await timed.seek(t, 0, clock.now() - 1000)).toBe(left.find((e) => e.partition === 0)!.offset);
    } finally {
      await timed.close();
    }
  });

  it('creates the stream again when an append finds it gone, and says topic-not-found on reads meanwhile', async () => {
    const t = topic('lost', 2);
    await store.ensureTopic(t);
    await store.append([{ topic: t, events: [ev(t, 'before', 1)] }]);
    await store.dropTopic(t);
    await expect(store.bounds(t)).rejects.toMatchObject({ code: 'AIOS_EVENTS_TOPIC_NOT_FOUND' });
    const [[placed]] = await store.append([{ topic: t, events: [ev(t, 'after', 2)] }]);
    expect(placed).toMatchObject({ id: 'after', offset: 1, duplicate: false });
    expect((await readAll(store, t)).map((e) => e.id)).toEqual(['after']);
  });

  it('says AIOS_UNAVAILABLE when NATS is not there', async () => {
    await expect(NatsEventStore.connect({ url: 'nats://127.0.0.1:1' })).rejects.toMatchObject({ code: 'AIOS_UNAVAILABLE', status: 503 });
  });

  async function ephemeralConsumers(stream: string): Promise<string[]> {
    const { connect } = await import('@nats-io/transport-node');
    const { jetstreamManager } = await import('@nats-io/jetstream');
    const nc = await connect({ servers: NATS_URL });
    try {
      const jsm = await jetstreamManager(nc);
      const out: string[] = [];
      for await (const ci of jsm.consumers.list(stream)) if (!ci.config.durable_name) out.push(ci.name);
      return out;
    } finally {
      await nc.close();
    }
  }
});
