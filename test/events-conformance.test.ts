import { beforeAll, expect } from 'vitest';
import { isAiosError } from '../src/core/index.ts';
import { connect, headers as natsHeaders } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { encodeId, topicNames } from '../src/events/nats/nats-names.ts';
import { conformance } from './support/conformance.ts';
import { EVENT_LOG_BACKENDS, eventLogFactory, ManualClock, type Opened } from './support/event-log-harness.ts';
import { NATS_URL } from './support/services.ts';
import { LIVENESS_MS, until } from './support/until.ts';

/** The one conformance suite of the event log: the same behaviours against SQLite, PostgreSQL and NATS JetStream. */
await conformance('event log conformance', { backends: EVENT_LOG_BACKENDS, factory: eventLogFactory }, (t) => {
  const { it } = t;
  let ns: string;
  let o: Opened;
  beforeAll(async () => {
    ns = t.fixture.ns;
    o = await t.fixture.open();
  });

  it('appends and reads back an event with every field', async () => {
    await o.log.createTopic(ns, { name: 'basic', schema: { type: 'object', required: ['v'], properties: { v: { type: 'number' } } } });
    const r = await o.log.append(ns, 'basic', [{ id: 'a1', key: 'k', time: '2026-01-02T03:04:05.006Z', data: { v: 1 }, headers: { src: 'test' } }]);
    expect(r.rejected).toEqual([]);
    expect(r.accepted).toHaveLength(1);
    expect(r.accepted[0]).toMatchObject({ index: 0, id: 'a1', partition: 0, duplicate: false });
    const { events } = await o.log.read(ns, 'basic', { partition: 0 });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ topic: 'basic', partition: 0, offset: r.accepted[0].offset, id: 'a1', key: 'k', time: Date.parse('2026-01-02T03:04:05.006Z'), data: { v: 1 }, headers: { src: 'test' } });
    expect(events[0].ingestedAt).toBeGreaterThan(0);
  });

  it('generates a time-ordered id when none is given', async () => {
    await o.log.createTopic(ns, { name: 'noid' });
    const r = await o.log.append(ns, 'noid', [{ data: 1 }, { data: 2 }]);
    expect(r.accepted.map((a) => a.id)[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.accepted[0].id < r.accepted[1].id).toBe(true);
  });

  it('stores an id once when appended twice in sequence', async () => {
    await o.log.createTopic(ns, { name: 'dedup-seq', partitions: 3, keyField: 'site' });
    const first = await o.log.append(ns, 'dedup-seq', [{ id: 'same', data: { site: 'a', n: 1 } }]);
    const second = await o.log.append(ns, 'dedup-seq', [{ id: 'same', data: { site: 'a', n: 2 } }]);
    expect(second.accepted[0]).toMatchObject({ partition: first.accepted[0].partition, offset: first.accepted[0].offset, duplicate: true });
    const { events } = await o.log.read(ns, 'dedup-seq', { limit: 100 });
    expect(events.filter((e) => e.id === 'same')).toHaveLength(1);
    expect(events[0].data).toEqual({ site: 'a', n: 1 });
  });

  it('stores an id once when appended concurrently and twice within one batch', async () => {
    await o.log.createTopic(ns, { name: 'dedup-conc', partitions: 2 });
    const results = await Promise.all(Array.from({ length: 25 }, (_, i) => o.log.append(ns, 'dedup-conc', [{ id: 'race', data: { i } }])));
    const places = new Set(results.map((r) => `${r.accepted[0].partition}:${r.accepted[0].offset}`));
    expect(places.size).toBe(1);
    expect(results.filter((r) => !r.accepted[0].duplicate)).toHaveLength(1);
    const batch = await o.log.append(ns, 'dedup-conc', [{ id: 'twin', data: 1 }, { id: 'twin', data: 2 }]);
    expect(batch.accepted[1]).toMatchObject({ partition: batch.accepted[0].partition, offset: batch.accepted[0].offset, duplicate: true });
    const { events } = await o.log.read(ns, 'dedup-conc', { limit: 100 });
    expect(events.filter((e) => e.id === 'race')).toHaveLength(1);
    expect(events.filter((e) => e.id === 'twin')).toHaveLength(1);
  });

  it('keeps dedup across a restart', async () => {
    await o.log.createTopic(ns, { name: 'dedup-restart' });
    const first = await o.log.append(ns, 'dedup-restart', [{ id: 'persisted', data: 1 }]);
    await o.close();
    o = await t.fixture.open();
    const again = await o.log.append(ns, 'dedup-restart', [{ id: 'persisted', data: 2 }]);
    expect(again.accepted[0]).toMatchObject({ offset: first.accepted[0].offset, duplicate: true });
    const { events } = await o.log.read(ns, 'dedup-restart');
    expect(events).toHaveLength(1);
  });

  it('routes a key to one partition and keeps its order', async () => {
    await o.log.createTopic(ns, { name: 'keyed', partitions: 4, keyField: 'turbine' });
    const input = Array.from({ length: 40 }, (_, i) => ({ data: { turbine: `t${i % 5}`, seq: i } }));
    await o.log.append(ns, 'keyed', input);
    const { events } = await o.log.read(ns, 'keyed', { limit: 1000 });
    expect(events).toHaveLength(40);
    const partitionOf = new Map<string, number>();
    for (const e of events) {
      const t = (e.data as { turbine: string }).turbine;
      expect(partitionOf.get(t) ?? e.partition).toBe(e.partition);
      partitionOf.set(t, e.partition);
      expect(e.key).toBe(t);
    }
    for (let p = 0; p < 4; p++) {
      const { events: part } = await o.log.read(ns, 'keyed', { partition: p, limit: 1000 });
      const seqs = part.map((e) => (e.data as { seq: number }).seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const offsets = part.map((e) => e.offset);
      expect(new Set(offsets).size).toBe(offsets.length);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    expect(new Set(partitionOf.values()).size).toBeGreaterThan(1);
  });

  it('reads by offset range and pages with the cursor', async () => {
    await o.log.createTopic(ns, { name: 'paging' });
    const r = await o.log.append(ns, 'paging', Array.from({ length: 30 }, (_, i) => ({ data: i })));
    const offs = r.accepted.map((a) => a.offset);
    const range = await o.log.read(ns, 'paging', { partition: 0, fromOffset: offs[5], toOffset: offs[10] });
    expect(range.events.map((e) => e.data)).toEqual([5, 6, 7, 8, 9]);
    const seen: unknown[] = [];
    let after: string | undefined;
    for (let i = 0; i < 10; i++) {
      const page = await o.log.read(ns, 'paging', { after, limit: 7 });
      seen.push(...page.events.map((e) => e.data));
      after = page.next;
      if (!page.events.length) break;
    }
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  it('reads from a point in ingestion time', async () => {
    await o.log.createTopic(ns, { name: 'by-time', partitions: 2 });
    await o.log.append(ns, 'by-time', [{ data: 'old1' }, { data: 'old2' }]);
    await new Promise((r) => setTimeout(r, 30));
    const mark = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    await o.log.append(ns, 'by-time', [{ data: 'new1' }, { data: 'new2' }, { data: 'new3' }]);
    const { events } = await o.log.read(ns, 'by-time', { fromTime: mark });
    expect(events.map((e) => e.data).sort()).toEqual(['new1', 'new2', 'new3']);
  });

  it('delivers to a consumer group at least once and resumes after the committed offset', async () => {
    await o.log.createTopic(ns, { name: 'grp', partitions: 2 });
    await o.log.append(ns, 'grp', Array.from({ length: 10 }, (_, i) => ({ id: `g${i}`, data: i })));
    const c1 = await o.log.consumer(ns, 'grp', 'workers');
    const first = await c1.fetch({ max: 4, waitMs: 2000 });
    expect(first.length).toBeGreaterThan(0);
    await c1.commit();
    const notCommitted = await c1.fetch({ max: 100, waitMs: 1000 });
    await c1.close();
    const done = new Set(first.map((e) => e.id));
    expect(first.length + notCommitted.length).toBe(10);
    // A new member resumes after what was committed: the uncommitted events come again.
    const c2 = await o.log.consumer(ns, 'grp', 'workers');
    const again: string[] = [];
    for (let i = 0; i < 5 && again.length < 10 - done.size; i++) again.push(...(await c2.fetch({ max: 100, waitMs: 1000 })).map((e) => e.id));
    expect(again.sort()).toEqual(notCommitted.map((e) => e.id).sort());
    for (const id of again) expect(done.has(id)).toBe(false);
    await c2.commit();
    const state = await o.log.groupState(ns, 'grp', 'workers');
    expect(state.lag).toBe(0);
    await c2.close();
    expect(await o.log.listGroups(ns, 'grp')).toContain('workers');
  });

  it('splits the work between the members of a group: each event to one member', async () => {
    await o.log.createTopic(ns, { name: 'shared-work', partitions: 4 });
    await o.log.append(ns, 'shared-work', Array.from({ length: 40 }, (_, i) => ({ id: `w${i}`, data: i })));
    const members = [await o.log.consumer(ns, 'shared-work', 'pool', { ackWaitMs: 600 }), await o.log.consumer(ns, 'shared-work', 'pool', { ackWaitMs: 600 })];
    const got: string[][] = [[], []];
    for (let round = 0; round < 200 && got[0].length + got[1].length < 40; round++) {
      for (let m = 0; m < 2; m++) {
        const events = await members[m].fetch({ max: 1, waitMs: 50 });
        got[m].push(...events.map((e) => e.id));
        await members[m].commit();
      }
      if (round > 2) await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(members.map((c) => c.close()));
    const all = [...got[0], ...got[1]];
    expect(all.sort()).toEqual(Array.from({ length: 40 }, (_, i) => `w${i}`).sort());
    expect(got[0].length).toBeGreaterThan(0);
    expect(got[1].length).toBeGreaterThan(0);
    expect((await o.log.groupState(ns, 'shared-work', 'pool')).lag).toBe(0);
  });

  it('reports lag and replays from earliest, latest and a time', async () => {
    await o.log.createTopic(ns, { name: 'replay' });
    await o.log.append(ns, 'replay', Array.from({ length: 5 }, (_, i) => ({ id: `r${i}`, data: i })));
    await new Promise((r) => setTimeout(r, 30));
    const mark = Date.now();
    await new Promise((r) => setTimeout(r, 30));
    await o.log.append(ns, 'replay', Array.from({ length: 3 }, (_, i) => ({ id: `s${i}`, data: 10 + i })));
    const c = await o.log.consumer(ns, 'replay', 'readers');
    const all = await c.fetch({ max: 100, waitMs: 2000 });
    expect(all).toHaveLength(8);
    await c.commit();
    await c.close();
    expect((await o.log.groupState(ns, 'replay', 'readers')).lag).toBe(0);

    const drain = async () => {
      const h = await o.log.consumer(ns, 'replay', 'readers');
      const got = await h.fetch({ max: 100, waitMs: 1000 });
      await h.close();
      return got.map((e) => e.data);
    };
    let s = await o.log.resetGroup(ns, 'replay', 'readers', { to: 'earliest' });
    expect(s.lag).toBe(8);
    expect(await drain()).toEqual([0, 1, 2, 3, 4, 10, 11, 12]);
    await o.log.resetGroup(ns, 'replay', 'readers', { time: mark });
    expect(await drain()).toEqual([10, 11, 12]);
    s = await o.log.resetGroup(ns, 'replay', 'readers', { to: 'latest' });
    expect(s.lag).toBe(0);
    expect(await drain()).toEqual([]);
    await o.log.resetGroup(ns, 'replay', 'readers', { offsets: [{ partition: 0, offset: all[6].offset }] });
    expect(await drain()).toEqual([11, 12]);
  });

  it('redelivers fetched events that were not committed within the ack wait', async () => {
    await o.log.createTopic(ns, { name: 'ackwait' });
    await o.log.append(ns, 'ackwait', [{ id: 'w1', data: 1 }]);
    const c = await o.log.consumer(ns, 'ackwait', 'slow', { ackWaitMs: 1000 });
    expect((await c.fetch({ max: 10, waitMs: 2000 })).map((e) => e.id)).toEqual(['w1']);
    await new Promise((r) => setTimeout(r, 1300));
    expect((await c.fetch({ max: 10, waitMs: 2000 })).map((e) => e.id)).toEqual(['w1']);
    await c.commit();
    expect(await c.fetch({ max: 10, waitMs: 300 })).toEqual([]);
    await c.close();
  });

  it('tails live and resumes from a cursor', async () => {
    await o.log.createTopic(ns, { name: 'live', partitions: 2 });
    await o.log.append(ns, 'live', [{ data: 'before' }]);
    const ac = new AbortController();
    const got: { data: unknown; cursor: string }[] = [];
    let pinged = false;
    const reader = (async () => {
      for await (const { event, cursor } of o.log.tail(ns, 'live', { signal: ac.signal })) {
        // Pings until the tail is live (it starts at the latest offsets whenever it gets there).
        if (event.data === 'ping') pinged = true;
        else got.push({ data: event.data, cursor });
        if (got.length === 3) ac.abort();
      }
    })();
    await until(async () => pinged || void (await o.log.append(ns, 'live', [{ data: 'ping' }])), 'the tail to see an event appended after it started', LIVENESS_MS, 50);
    await o.log.append(ns, 'live', [{ data: 'x1' }]);
    await o.log.append(ns, 'live', [{ data: 'x2' }, { data: 'x3' }]);
    await reader;
    expect(got.map((g) => g.data).sort()).toEqual(['x1', 'x2', 'x3']);
    const resumed: unknown[] = [];
    const ac2 = new AbortController();
    const t = setTimeout(() => ac2.abort(), LIVENESS_MS);
    for await (const { event } of o.log.tail(ns, 'live', { from: got[0].cursor, signal: ac2.signal })) {
      if (event.data === 'ping') continue;
      resumed.push(event.data);
      if (resumed.length === 2) ac2.abort();
    }
    clearTimeout(t);
    expect(resumed.sort()).toEqual(got.slice(1).map((g) => g.data).sort());
  });

  it('enforces retention by count without ever reusing an offset', async () => {
    await o.log.createTopic(ns, { name: 'retained', retention: { count: 5 } });
    const r = await o.log.append(ns, 'retained', Array.from({ length: 12 }, (_, i) => ({ id: `e${i}`, data: i })));
    expect(await o.log.enforceRetention()).toBeGreaterThanOrEqual(7);
    const { events } = await o.log.read(ns, 'retained', { limit: 100 });
    expect(events.map((e) => e.data)).toEqual([7, 8, 9, 10, 11]);
    const more = await o.log.append(ns, 'retained', [{ id: 'e12', data: 12 }]);
    expect(more.accepted[0].offset).toBeGreaterThan(r.accepted[11].offset);
    // Dedup holds for retained events.
    const dup = await o.log.append(ns, 'retained', [{ id: 'e11', data: 'again' }]);
    expect(dup.accepted[0].duplicate).toBe(true);
  });

  it('enforces retention by time', async () => {
    const clock = new ManualClock(Date.now());
    const timed = await t.fixture.open({ clock });
    try {
      await timed.log.createTopic(ns, { name: 'aged', retention: { ms: 60_000 } });
      await timed.log.append(ns, 'aged', [{ data: 'old' }]);
      clock.advance(120_000);
      await timed.log.append(ns, 'aged', [{ data: 'fresh' }]);
      await timed.log.enforceRetention();
      const { events } = await timed.log.read(ns, 'aged');
      expect(events.map((e) => e.data)).toEqual(['fresh']);
    } finally {
      await timed.close();
    }
  });

  it('validates the data contract and rejects without appending', async () => {
    await o.log.createTopic(ns, { name: 'strict', schema: { type: 'object', required: ['rpm'], properties: { rpm: { type: 'number' } }, additionalProperties: false } });
    await expect(o.log.append(ns, 'strict', [{ data: { rpm: 'fast' } }])).rejects.toMatchObject({ code: 'AIOS_EVENTS_SCHEMA_VIOLATION', status: 422 });
    await expect(o.log.append(ns, 'strict', [{ data: { rpm: 1 } }, { data: {} }], { atomic: true })).rejects.toMatchObject({ code: 'AIOS_EVENTS_BATCH_REJECTED' });
    const partial = await o.log.append(ns, 'strict', [{ data: { rpm: 1 } }, { data: { rpm: 2, extra: true } }]);
    expect(partial.accepted.map((a) => a.index)).toEqual([0]);
    expect(partial.rejected).toMatchObject([{ index: 1, code: 'AIOS_EVENTS_SCHEMA_VIOLATION' }]);
    const { events } = await o.log.read(ns, 'strict');
    expect(events.map((e) => e.data)).toEqual([{ rpm: 1 }]);
  });

  it('accepts only backward-compatible schema changes and names the incompatibility', async () => {
    await o.log.createTopic(ns, { name: 'evolving', schema: { type: 'object', required: ['rpm'], properties: { rpm: { type: 'number' } } } });
    const t = await o.log.updateTopic(ns, 'evolving', { schema: { type: 'object', required: ['rpm'], properties: { rpm: { type: 'number' }, temp: { type: 'number' } } } });
    expect(t.schemaVersion).toBe(2);
    const err = await o.log.updateTopic(ns, 'evolving', { schema: { type: 'object', required: ['rpm', 'site'], properties: { rpm: { type: 'number' } } } }).catch((e) => e);
    expect(isAiosError(err, 'AIOS_EVENTS_SCHEMA_INCOMPATIBLE')).toBe(true);
    expect(err.message).toContain('site');
    expect((await o.log.getTopic(ns, 'evolving')).schemaVersion).toBe(2);
  });

  it('refuses an event time that RFC 3339 cannot write, on every append path', async () => {
    await o.log.createTopic(ns, { name: 'time-range' });
    for (const time of [9007199254740991, 253402300800000, -62167219200001, '+275760-09-13T00:00:00Z', '9999-12-31T23:59:59-01:00', '2026-02-30T00:00:00Z']) {
      await expect(o.log.append(ns, 'time-range', [{ data: 1, time }])).rejects.toMatchObject({ code: 'AIOS_EVENTS_INVALID_EVENT' });
      await expect(o.log.publish(ns, 'time-range', [{ data: 1, time }])).rejects.toMatchObject({ code: 'AIOS_EVENTS_INVALID_EVENT' });
      await expect(o.log.prepareBatch(ns, 'time-range', [{ data: 1, time }])).rejects.toMatchObject({ code: 'AIOS_EVENTS_INVALID_EVENT' });
    }
    const ok = await o.log.append(ns, 'time-range', [{ id: 'lo', data: 1, time: '0000-01-01T00:00:00Z' }, { id: 'hi', data: 2, time: 253402300799999 }]);
    expect(ok.rejected).toEqual([]);
    const { events } = await o.log.read(ns, 'time-range');
    expect(events.map((e) => [e.id, e.time])).toEqual([['lo', -62167219200000], ['hi', 253402300799999]]);
  });

  it('refuses data nested deeper than validation can recurse, as an invalid event', async () => {
    await o.log.createTopic(ns, { name: 'deep-data', schema: { $defs: { a: { items: { $ref: '#/$defs/a' } } }, $ref: '#/$defs/a' } });
    let deep: unknown[] = [];
    for (let i = 0; i < 200_000; i++) deep = [deep];
    await expect(o.log.append(ns, 'deep-data', [{ data: deep }])).rejects.toMatchObject({ code: 'AIOS_EVENTS_INVALID_EVENT', message: expect.stringMatching(/nested too deeply/) });
    expect((await o.log.append(ns, 'deep-data', [{ data: [[[]]] }])).accepted).toHaveLength(1);
  });

  it('reads what was stored around AIOS without failing: a time out of range, data that is not JSON', async () => {
    const { topic } = await o.log.createTopic(ns, { name: 'stored-around' });
    await o.log.append(ns, 'stored-around', [{ id: 'ok', data: { v: 1 } }]);
    if (t.backend === 'nats') {
      const nc = await connect({ servers: NATS_URL });
      const h = natsHeaders();
      h.set('Aios-Time', 'not a time');
      h.set('Aios-Ingested-At', '9007199254740991');
      h.set('Aios-Headers', '{broken');
      await jetstream(nc).publish(`${topicNames(topic).prefix}.0.${encodeId('raw')}`, 'not json', { headers: h });
      await nc.close();
    } else {
      await o.database.db.updateTable('aios_events').set({ time: 9007199254740991 }).where('topic_id', '=', topic.topicId).execute();
      if (t.backend === 'sqlite') await o.database.db.updateTable('aios_events').set({ data: 'not json', headers: '{broken' }).where('topic_id', '=', topic.topicId).execute();
    }
    const { events } = await o.log.read(ns, 'stored-around');
    expect(events.length).toBe(t.backend === 'nats' ? 2 : 1);
    const odd = events.at(-1)!;
    expect(Number.isFinite(odd.time)).toBe(true);
    if (t.backend !== 'postgres') expect(odd.data).toBe('not json');
    expect(odd.headers).toEqual({});
    const c = await o.log.consumer(ns, 'stored-around', 'g');
    expect((await c.fetch({ max: 10, waitMs: 2000 })).length).toBe(events.length);
    await c.close();
  });

  it('commits only what the member was handed, never past it', async () => {
    await o.log.createTopic(ns, { name: 'commit-bound' });
    const r = await o.log.append(ns, 'commit-bound', Array.from({ length: 6 }, (_, i) => ({ id: `c${i}`, data: i })));
    const c = await o.log.consumer(ns, 'commit-bound', 'g');
    const got = await c.fetch({ max: 2, waitMs: 2000 });
    expect(got.map((e) => e.id)).toEqual(['c0', 'c1']);
    // An offset beyond what was fetched commits only what was fetched.
    await c.commit([{ partition: 0, offset: r.accepted[4].offset }]);
    expect((await o.log.groupState(ns, 'commit-bound', 'g')).lag).toBe(4);
    await c.commit();
    expect((await o.log.groupState(ns, 'commit-bound', 'g')).lag).toBe(4);
    await c.close();
    const c2 = await o.log.consumer(ns, 'commit-bound', 'g');
    const rest: string[] = [];
    for (let i = 0; i < 5 && rest.length < 4; i++) rest.push(...(await c2.fetch({ max: 10, waitMs: 1000 })).map((e) => e.id));
    expect(rest).toEqual(['c2', 'c3', 'c4', 'c5']);
    // Without positions: exactly what was handed and not committed, nothing more.
    await o.log.append(ns, 'commit-bound', [{ id: 'c6', data: 6 }]);
    await Promise.all([c2.commit(), c2.commit()]);
    expect((await o.log.groupState(ns, 'commit-bound', 'g')).lag).toBe(1);
    await c2.close();
  });

  it('gives a topic created again under a deleted name groups of its own', async () => {
    await o.log.createTopic(ns, { name: 'reborn', partitions: 2 });
    await o.log.append(ns, 'reborn', Array.from({ length: 3 }, (_, i) => ({ id: `old${i}`, data: i })));
    const stale = await o.log.consumer(ns, 'reborn', 'g');
    const before: string[] = [];
    for (let i = 0; i < 5 && before.length < 3; i++) before.push(...(await stale.fetch({ max: 10, waitMs: 1000 })).map((e) => e.id));
    expect(before.sort()).toEqual(['old0', 'old1', 'old2']);
    await stale.commit();
    await o.log.deleteTopic(ns, 'reborn');
    await o.log.createTopic(ns, { name: 'reborn', partitions: 2 });
    await o.log.append(ns, 'reborn', Array.from({ length: 6 }, (_, i) => ({ id: `new${i}`, data: i })));
    // The old member belonged to the deleted topic: it fails instead of fetching nothing.
    await expect(stale.fetch({ max: 10, waitMs: 200 })).rejects.toMatchObject({ code: 'AIOS_EVENTS_TOPIC_NOT_FOUND' });
    await expect(stale.commit()).rejects.toMatchObject({ code: 'AIOS_EVENTS_TOPIC_NOT_FOUND' });
    expect((await o.log.groupState(ns, 'reborn', 'g')).lag).toBe(6);
    const fresh = await o.log.consumer(ns, 'reborn', 'g');
    const after: string[] = [];
    for (let i = 0; i < 5 && after.length < 6; i++) after.push(...(await fresh.fetch({ max: 10, waitMs: 1000 })).map((e) => e.id));
    expect(after.sort()).toEqual(['new0', 'new1', 'new2', 'new3', 'new4', 'new5']);
    await fresh.commit();
    expect((await o.log.groupState(ns, 'reborn', 'g')).lag).toBe(0);
    await fresh.close();
    await stale.close();
  });

  it('keeps namespaces apart', async () => {
    await o.log.createTopic(ns, { name: 'shared-name' });
    await o.log.createTopic(t.fixture.otherNs, { name: 'shared-name' });
    await o.log.append(ns, 'shared-name', [{ id: 'n1', data: 'mine' }]);
    const other = await o.log.append(t.fixture.otherNs, 'shared-name', [{ id: 'n1', data: 'theirs' }]);
    expect(other.accepted[0].duplicate).toBe(false);
    expect((await o.log.read(t.fixture.otherNs, 'shared-name')).events.map((e) => e.data)).toEqual(['theirs']);
    expect((await o.log.listTopics(t.fixture.otherNs)).map((t) => t.name)).toEqual(['shared-name']);
    await expect(o.log.getTopic(`${ns}y`, 'shared-name')).rejects.toMatchObject({ code: 'AIOS_EVENTS_TOPIC_NOT_FOUND' });
  });

  it('creates topics idempotently and refuses a conflicting definition', async () => {
    const a = await o.log.createTopic(ns, { name: 'idem', partitions: 2 });
    const b = await o.log.createTopic(ns, { name: 'idem', partitions: 2 });
    expect(a.created).toBe(true);
    expect(b.created).toBe(false);
    await expect(o.log.createTopic(ns, { name: 'idem', partitions: 3 })).rejects.toMatchObject({ code: 'AIOS_EVENTS_TOPIC_EXISTS' });
    await expect(o.log.append(ns, 'nope', [{ data: 1 }])).rejects.toMatchObject({ code: 'AIOS_EVENTS_TOPIC_NOT_FOUND' });
  });
});
