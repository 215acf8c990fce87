import type { IncomingMessage } from 'node:http';
import { EventSource } from 'eventsource';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { NATS_URL, natsAvailable, randomName } from './support/services.ts';
import { until } from './support/until.ts';

/**
 * The live tail followed by a real EventSource client (the `eventsource` package, which follows
 * the WHATWG rules: a non-200 answer ends it for good, a stream that ends makes it reconnect
 * with Last-Event-ID). Every cursor the server cannot honour must be refused with a 4xx before
 * the stream starts, or a browser reconnects forever.
 */
const natsUp = await natsAvailable();
const BACKENDS: { name: string; config: Record<string, string>; available: boolean }[] = [
  { name: 'SQLite', config: {}, available: true },
  { name: 'NATS', config: { natsUrl: NATS_URL }, available: natsUp },
];

interface Follower {
  readonly es: EventSource;
  readonly received: { id: string; lastEventId: string }[];
  readonly errors: { code?: number; message?: string }[];
}

for (const backend of BACKENDS) {
  describe.skipIf(!backend.available)(`SSE cursors on ${backend.name}`, () => {
    let t: TestAios;
    const topic = randomName('sse');
    // Stream requests as the server saw them, by URL and Last-Event-ID.
    const seen: { url: string; lastEventId: string | undefined }[] = [];
    const onRequest = (req: IncomingMessage) => {
      if (req.url?.includes('/stream')) seen.push({ url: req.url, lastEventId: req.headers['last-event-id'] as string | undefined });
    };
    const followers: EventSource[] = [];

    function follow(query: string, lastEventId?: string): Follower {
      const received: Follower['received'] = [];
      const errors: Follower['errors'] = [];
      const es = new EventSource(`${t.aios.url}/api/v1/topics/${topic}/stream${query}`, {
        fetch: (input, init) =>
          fetch(input, { ...init, headers: { ...(init?.headers as Record<string, string>), authorization: `Bearer ${t.adminKey}`, ...(lastEventId && !(init?.headers as Record<string, string>)?.['Last-Event-ID'] ? { 'last-event-id': lastEventId } : {}) } }),
      });
      followers.push(es);
      es.addEventListener('event', (m) => received.push({ id: JSON.parse(m.data).id, lastEventId: m.lastEventId }));
      es.addEventListener('error', (e) => errors.push({ code: e.code, message: e.message }));
      return { es, received, errors };
    }

    const append = (events: unknown[]) => t.api({ method: 'POST', url: `/api/v1/topics/${topic}/events`, payload: events });

    beforeAll(async () => {
      t = await startTestAios({ port: await freePort(), ...backend.config }, { listen: true });
      t.aios.http.server.on('request', onRequest);
      expect((await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: topic, partitions: 2, keyField: 'k' } })).statusCode).toBe(201);
      expect((await append([{ id: 'a0', data: { k: 'a' } }, { id: 'b0', data: { k: 'b' } }, { id: 'a1', data: { k: 'a' } }, { id: 'b1', data: { k: 'b' } }])).statusCode).toBe(200);
    });
    afterEach(() => {
      for (const es of followers.splice(0)) es.close();
    });
    afterAll(() => t?.cleanup());

    const BAD: [string, string, string | undefined][] = [
      ['Last-Event-ID: garbage', '', 'garbage'],
      ['Last-Event-ID: 0:abc', '', '0:abc'],
      ['Last-Event-ID: 0:-1', '', '0:-1'],
      ['?from=garbage', '?from=garbage', undefined],
      ['?partition=999', '?partition=999', undefined],
      ['a cursor beyond the end of a partition (0:999999)', '', '0:999999'],
      ['a cursor naming a partition the topic does not have (7:0)', '', '7:0'],
      ['a cursor naming a partition twice (0:1,0:2)', '', '0:1,0:2'],
      ['an offset beyond any there can be', '?from=0:9999999999999999', undefined],
    ];

    it.each(BAD)('refuses %s with a 400 problem before the stream starts, and the EventSource stops', async (_what, query, lastEventId) => {
      seen.length = 0;
      const f = follow(query, lastEventId);
      await until(() => f.es.readyState === f.es.CLOSED, 'the EventSource to give up', 15_000);
      expect(f.errors).toEqual([expect.objectContaining({ code: 400 })]);
      expect(f.received).toEqual([]);
      expect(seen).toHaveLength(1);
      // The same request as a plain client sees it: a problem, not a 200 stream.
      const r = await fetch(`${t.aios.url}/api/v1/topics/${topic}/stream${query}`, { headers: { authorization: `Bearer ${t.adminKey}`, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) }, signal: AbortSignal.timeout(10_000) });
      expect(r.status).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect((await r.json()).code).toBe('AIOS_EVENTS_INVALID_POSITION');
    });

    it('a cursor that names one partition starts the others at their earliest event', async () => {
      const [pa, pb] = [await keyPartition('a'), await keyPartition('b')];
      expect(pa).not.toBe(pb);
      const everything = follow('?from=earliest');
      await until(() => everything.received.length === 4, 'the four events');
      // b1's cursor, cut down to b's partition (at its end): a's partition is not named.
      const cursor = everything.received.find((r) => r.id === 'b1')!.lastEventId;
      const onlyB = cursor.split(',').find((part) => part.startsWith(`${pb}:`))!;
      expect(onlyB).toMatch(/^\d+:\d+$/);
      const partial = follow('', onlyB);
      await until(() => partial.received.length === 2, "the other partition's events");
      expect(partial.received.map((r) => r.id)).toEqual(['a0', 'a1']);
    });

    it('a reconnecting EventSource resumes exactly after the last event it received', async () => {
      const f = follow('?from=earliest');
      await until(() => f.received.length === 4, 'the four events');
      seen.length = 0;
      // Cut every connection: the EventSource reconnects with the id of the last event as Last-Event-ID.
      t.aios.http.server.closeAllConnections();
      await until(() => seen.length === 1 && f.es.readyState === f.es.OPEN, 'the EventSource to reconnect', 20_000);
      expect(seen[0].lastEventId).toBe(f.received[3].lastEventId);
      await append([{ id: 'a2', data: { k: 'a' } }, { id: 'b2', data: { k: 'b' } }]);
      await until(() => f.received.length === 6, 'the two new events');
      expect(f.received.map((r) => r.id).sort()).toEqual(['a0', 'a1', 'a2', 'b0', 'b1', 'b2']);
      expect(seen).toHaveLength(1);
    });

    it('HEAD answers the headers of the stream and ends; with a bad cursor, the same 400', async () => {
      const url = `${t.aios.url}/api/v1/topics/${topic}/stream`;
      const auth = { authorization: `Bearer ${t.adminKey}` };
      const head = await fetch(url, { method: 'HEAD', headers: auth, signal: AbortSignal.timeout(10_000) });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const bad = await fetch(url, { method: 'HEAD', headers: { ...auth, 'last-event-id': 'garbage' }, signal: AbortSignal.timeout(10_000) });
      expect(bad.status).toBe(400);
      const missing = await fetch(`${t.aios.url}/api/v1/topics/no-such-topic/stream`, { method: 'HEAD', headers: auth, signal: AbortSignal.timeout(10_000) });
      expect(missing.status).toBe(404);
    });

    /** The partition events of key `k` land in, from the read API. */
    async function keyPartition(k: string): Promise<number> {
      const r = (await t.api({ method: 'GET', url: `/api/v1/topics/${topic}/events?limit=100` })).json() as { events: { id: string; partition: number }[] };
      return r.events.find((e) => e.id === `${k}0`)!.partition;
    }
  });
}
