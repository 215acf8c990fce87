import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aios } from '../src/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/**
 * Overload: many producers against a small append queue. Every request is answered either
 * 200 (durable) or 429 with Retry-After (nothing appended); the queue never holds more than its
 * bound, and the heap does not grow with the offered load.
 */
const CAPACITY = 2_000;
const ROUNDS = 10;
let aios: Aios;
let cleanup: () => Promise<void>;
let api: TestAios['api'];

beforeAll(async () => {
  ({ aios, api, cleanup } = await startTestAios({ appendQueueEvents: CAPACITY, commitBatchEvents: 1_000 }));
  await aios.events.createTopic('default', { name: 'flood', partitions: 4, keyField: 'k' });
});
afterAll(() => cleanup());

describe('backpressure', () => {
  it('answers 429 with Retry-After when the queue is full, keeps its bound, and loses nothing acknowledged', async () => {
    let maxDepth = 0;
    const sampler = setInterval(() => (maxDepth = Math.max(maxDepth, aios.events.queueDepth)), 1);
    const heapBefore = process.memoryUsage().heapUsed;
    let heapMax = heapBefore;
    let ok = 0;
    let refused = 0;
    let acceptedEvents = 0;
    let n = 0;
    // A fixed amount of work, not of time: the first round alone offers six times the queue's bound.
    const producer = async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const batch = Array.from({ length: 200 }, () => ({ data: { k: `k${n % 13}`, n: n++, pad: 'x'.repeat(200) } }));
        const r = await api({ method: 'POST', url: '/api/v1/topics/flood/events', payload: batch });
        if (r.statusCode === 200) {
          ok++;
          acceptedEvents += r.json().accepted.length;
        } else {
          expect(r.statusCode).toBe(429);
          expect(r.headers['retry-after']).toBe('1');
          expect(r.json().code).toBe('AIOS_OVERLOADED');
          refused++;
        }
        heapMax = Math.max(heapMax, process.memoryUsage().heapUsed);
      }
    };
    await Promise.all(Array.from({ length: 64 }, producer));
    clearInterval(sampler);
    expect(ok).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    expect(maxDepth).toBeLessThanOrEqual(CAPACITY);
    // 64 producers offered far more than the queue holds; what is retained stays bounded.
    expect(heapMax - heapBefore).toBeLessThan(256 * 1024 * 1024);
    const bounds = await aios.events.store.bounds(await aios.events.getTopic('default', 'flood'));
    const stored = bounds.reduce((s, b) => s + (b.next - b.first), 0);
    expect(stored).toBe(acceptedEvents);
  });
});
