import { describe, expect, it } from 'vitest';
import { GroupCommit, ItemFailed, type BatchReport, type GroupCommitOptions } from './group-commit.ts';

interface Item {
  readonly name: string;
  readonly weight?: number;
}

/** A committer that, like a real transaction, keeps all of a batch or none of it. */
function committer(poisoned = 'none') {
  const calls: string[][] = [];
  const kept: string[] = [];
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  const commit = async (items: readonly Item[]): Promise<string[]> => {
    calls.push(items.map((i) => i.name));
    if (gate) await gate;
    if (items.some((i) => i.name === poisoned)) throw new Error(`item ${poisoned} is bad`);
    kept.push(...items.map((i) => i.name));
    return items.map((i) => `ok:${i.name}`);
  };
  return {
    calls,
    kept,
    commit,
    /** Holds every commit until the returned function is called. */
    hold() {
      gate = new Promise<void>((r) => (open = r));
      return () => {
        gate = undefined;
        open!();
      };
    },
  };
}

function queue(opts: Partial<GroupCommitOptions<Item, string>> & Pick<GroupCommitOptions<Item, string>, 'commit'>) {
  return new GroupCommit<Item, string>({
    capacity: 100,
    maxBatch: 100,
    weigh: (i) => i.weight ?? 1,
    overloadedMessage: (d, c) => `the test queue holds ${d} of ${c}; retry shortly`,
    closedMessage: 'the test queue is closed',
    ...opts,
  });
}

const items = (...names: string[]): Item[] => names.map((name) => ({ name }));
const tick = () => new Promise<void>((r) => setImmediate(r));

describe('group commit', () => {
  it('with gatherTick, coalesces the pushes of one tick into one commit', async () => {
    const c = committer();
    const q = queue({ commit: c.commit, gatherTick: true });
    const r = await Promise.all(items('a', 'b', 'c').map((i) => q.push(i)));
    expect(r).toEqual(['ok:a', 'ok:b', 'ok:c']);
    expect(c.calls).toEqual([['a', 'b', 'c']]);
  });

  it('without gatherTick, commits an item at an idle queue at once and batches the ones that wait behind it', async () => {
    const c = committer();
    const release = c.hold();
    const q = queue({ commit: c.commit });
    const first = q.push({ name: 'a' });
    expect(c.calls).toEqual([['a']]);
    const rest = items('b', 'c', 'd').map((i) => q.push(i));
    await tick();
    expect(c.calls).toEqual([['a']]);
    release();
    expect(await Promise.all([first, ...rest])).toEqual(['ok:a', 'ok:b', 'ok:c', 'ok:d']);
    expect(c.calls).toEqual([['a'], ['b', 'c', 'd']]);
  });

  it('splits batches at maxBatch by weight, never splitting an item, and sends a heavier one alone', async () => {
    const c = committer();
    const release = c.hold();
    const q = queue({ commit: c.commit, maxBatch: 5 });
    const all = [q.push({ name: 'first' }), ...[3, 2, 1, 9, 1].map((weight, i) => q.push({ name: `w${i}`, weight }))];
    release();
    await Promise.all(all);
    expect(c.calls).toEqual([['first'], ['w0', 'w1'], ['w2'], ['w3'], ['w4']]);
  });

  it('fails only the item that broke a shared commit, and keeps the others once', async () => {
    const c = committer('bad');
    const q = queue({ commit: c.commit, gatherTick: true });
    const results = await Promise.allSettled(items('ok1', 'bad', 'ok2').map((i) => q.push(i)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect((results[1] as PromiseRejectedResult).reason.message).toContain('bad');
    expect(c.calls).toEqual([['ok1', 'bad', 'ok2'], ['ok1'], ['bad'], ['ok2']]);
    expect(c.kept).toEqual(['ok1', 'ok2']);
  });

  it('fails an item reported as ItemFailed alone, without retrying the batch', async () => {
    const calls: string[][] = [];
    const q = queue({
      gatherTick: true,
      commit: async (batch) => {
        calls.push(batch.map((i) => i.name));
        return batch.map((i) => (i.name === 'lost' ? new ItemFailed(new Error('lease lost')) : `ok:${i.name}`));
      },
    });
    const results = await Promise.allSettled(items('a', 'lost', 'b').map((i) => q.push(i)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['ok:a', 'lease lost', 'ok:b']);
    expect(calls).toEqual([['a', 'lost', 'b']]);
    // Alone, through the default commitOne, it fails the same way.
    await expect(q.push({ name: 'lost' })).rejects.toThrow('lease lost');
  });

  it('commits a batch of one and the retries of a failed batch with commitOne', async () => {
    const c = committer('bad');
    const alone: string[] = [];
    const q = queue({
      commit: c.commit,
      commitOne: async (i) => {
        alone.push(i.name);
        if (i.name === 'bad') throw new Error('bad alone');
        return `alone:${i.name}`;
      },
    });
    const release = c.hold();
    const first = q.push({ name: 'x' });
    const rest = items('y', 'bad').map((i) => q.push(i));
    release();
    const settled = await Promise.allSettled([first, ...rest]);
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['alone:x', 'alone:y', 'bad alone']);
    expect(alone).toEqual(['x', 'y', 'bad']);
    expect(c.calls).toEqual([['y', 'bad']]);
  });

  it('refuses beyond its bound in weight with a retryable AIOS_OVERLOADED, and drains on close', async () => {
    const c = committer();
    const release = c.hold();
    const q = queue({ commit: c.commit, capacity: 3, gatherTick: true });
    const first = q.push({ name: 'a', weight: 2 });
    const overflow = q.push({ name: 'b', weight: 2 });
    await expect(overflow).rejects.toMatchObject({ code: 'AIOS_OVERLOADED', retryable: true, message: expect.stringContaining('holds 2 of 3') });
    await expect(overflow).rejects.toMatchObject({ extra: { retryAfterSeconds: 1 } });
    expect(q.depth).toBe(2);
    const closed = q.close();
    await expect(q.push({ name: 'late' })).rejects.toMatchObject({ code: 'AIOS_NOT_READY', message: 'the test queue is closed' });
    release();
    await closed;
    expect(await first).toBe('ok:a');
    expect(q.depth).toBe(0);
    expect(c.kept).toEqual(['a']);
  });

  it('counts an item in depth until its caller is answered', async () => {
    const c = committer();
    const release = c.hold();
    const q = queue({ commit: c.commit });
    const p = q.push({ name: 'a', weight: 4 });
    expect(q.depth).toBe(4);
    release();
    await p;
    expect(q.depth).toBe(0);
  });

  it('runs afterBatch after each batch, before the next, and ignores its errors', async () => {
    const c = committer('bad');
    const reports: BatchReport[] = [];
    const order: string[] = [];
    const q = queue({
      gatherTick: true,
      commit: async (batch) => {
        order.push(`commit ${batch.map((i) => i.name).join(',')}`);
        return c.commit(batch);
      },
      afterBatch: async (r) => {
        reports.push(r);
        order.push('after');
        throw new Error('the hook failed');
      },
    });
    await Promise.allSettled(items('a', 'b').map((i) => q.push(i)));
    await Promise.allSettled(items('c', 'bad').map((i) => q.push(i)));
    await expect(q.push({ name: 'd' })).resolves.toBe('ok:d');
    expect(order).toEqual(['commit a,b', 'after', 'commit c,bad', 'commit c', 'commit bad', 'after', 'commit d', 'after']);
    expect(reports.map((r) => [r.items, r.weight, r.together])).toEqual([[2, 2, true], [2, 2, false], [1, 1, true]]);
  });
});
