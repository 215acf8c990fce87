import { describe, expect, it } from 'vitest';
import { AppendQueue } from './append-queue.ts';
import type { AppendBatch, AppendedPosition } from './event-store.ts';
import type { PreparedEvent } from './event.ts';
import type { Topic } from './topic.ts';

const topic = (name: string) => ({ name, topicId: name.length }) as unknown as Topic;
const event = (id: string) => ({ id, partition: 0 }) as unknown as PreparedEvent;

/** A writer that, like a real transaction, writes all batches or none. */
function writer(poisoned: string) {
  const calls: string[][] = [];
  const write = async (batches: readonly AppendBatch[]): Promise<AppendedPosition[][]> => {
    calls.push(batches.map((b) => b.topic.name));
    if (batches.some((b) => b.topic.name === poisoned)) throw new Error(`topic ${poisoned} is gone`);
    return batches.map((b) => b.events.map((e, i) => ({ id: e.id, partition: 0, offset: i, duplicate: false })));
  };
  return { calls, write };
}

describe('group commit queue', () => {
  it('coalesces concurrent pushes into one write', async () => {
    const w = writer('none');
    const q = new AppendQueue({ capacity: 100, maxBatchEvents: 100, write: w.write });
    const r = await Promise.all(['a', 'b', 'c'].map((t) => q.push({ topic: topic(t), events: [event(t)] })));
    expect(r.map((x) => x[0].id)).toEqual(['a', 'b', 'c']);
    expect(w.calls).toEqual([['a', 'b', 'c']]);
  });

  it('fails only the request that broke a shared transaction', async () => {
    const w = writer('bad');
    const q = new AppendQueue({ capacity: 100, maxBatchEvents: 100, write: w.write });
    const results = await Promise.allSettled(['ok1', 'bad', 'ok2'].map((t) => q.push({ topic: topic(t), events: [event(t)] })));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toContain('bad');
  });

  it('refuses beyond its bound with a retryable overload error, and drains on close', async () => {
    const w = writer('none');
    const q = new AppendQueue({ capacity: 3, maxBatchEvents: 100, write: w.write });
    const first = q.push({ topic: topic('a'), events: [event('1'), event('2')] });
    await expect(q.push({ topic: topic('a'), events: [event('3'), event('4')] })).rejects.toMatchObject({ code: 'AIOS_OVERLOADED', retryable: true });
    expect(q.depth).toBe(2);
    await q.close();
    expect((await first).length).toBe(2);
    expect(q.depth).toBe(0);
    await expect(q.push({ topic: topic('a'), events: [event('5')] })).rejects.toMatchObject({ code: 'AIOS_NOT_READY' });
  });
});
