import type { Kysely } from 'kysely';
import { beforeAll, beforeEach, expect } from 'vitest';
import { ManualClock, isAiosError, type ErrorCode } from '../src/core/index.ts';
import { LineageStore } from '../src/governance/index.ts';
import type { Database } from '../src/storage/index.ts';
import { SqlRunStore, type RunStore, type WorkflowRun, type WorkflowTables } from '../src/workflows/index.ts';
import { conformance, SQL_BACKENDS, sqlDatabase } from './support/conformance.ts';

/**
 * The one conformance suite of the workflow run store: the same behaviours against SQLite and
 * PostgreSQL. A new backend is done when this passes on it.
 */

const LEASE = 30_000;
const NS = 'plant-a';

async function expectCode(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isAiosError(err) ? err.code : err).toBe(code);
}

await conformance(
  'workflow run store conformance',
  {
    backends: SQL_BACKENDS,
    factory: sqlDatabase,
    skip: [{ backend: 'sqlite', reason: 'one writer: pools in separate processes never claim at the same time', tests: ['gives each of 500 runs to exactly one of 4 concurrent claimers in separate pools'] }],
  },
  (t) => {
    const { it } = t;
    let database: Database;
    let clock: ManualClock;
    let store: RunStore;

    beforeAll(() => {
      database = t.fixture.database;
    });
    beforeEach(async () => {
      // Claims span namespaces, so every test starts from empty tables.
      for (const table of ['aios_wf_runs', 'aios_wf_journal', 'aios_wf_signals', 'aios_wf_workers']) await database.db.deleteFrom(table).execute();
      clock = new ManualClock();
      store = new SqlRunStore({ database, clock });
    });

    const create = (id: string, extra: Partial<Parameters<RunStore['createRun']>[0]> = {}) =>
      store.createRun({ ns: NS, id, name: 'inspect', version: '1', input: { asset: id }, createdBy: 'user:ana', ...extra }).then((r) => r.run);
    const claim = (worker: string, limit = 100) => store.claim(worker, { leaseMs: LEASE, limit });
    const ids = (runs: readonly WorkflowRun[]) => runs.map((r) => r.id);

    it('creates a run once per (ns, id) and returns the stored one after', async () => {
      const first = await store.createRun({ ns: NS, id: 'r1', name: 'inspect', version: '3', input: { asset: 'T-7', n: null }, parent: { ns: NS, id: 'p0' }, lineageId: 'lin-1', createdBy: 'user:ana' });
      expect(first.created).toBe(true);
      expect(first.run).toEqual({
        ns: NS,
        id: 'r1',
        name: 'inspect',
        version: '3',
        status: 'pending',
        input: { asset: 'T-7', n: null },
        parent: { ns: NS, id: 'p0' },
        lineageId: 'lin-1',
        createdBy: 'user:ana',
        createdAt: clock.now(),
        updatedAt: clock.now(),
        epoch: 0,
        cancelRequested: false,
      });
      clock.advance(1000);
      const again = await store.createRun({ ns: NS, id: 'r1', name: 'inspect', version: '4', input: { asset: 'other' }, createdBy: 'user:bob' });
      expect(again).toEqual({ run: first.run, created: false });
      expect(await store.getRun(NS, 'r1')).toEqual(first.run);

      const minted = await store.createRun({ ns: NS, name: 'inspect', version: '3', createdBy: 'api' });
      expect(minted.run.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-/);
      expect(minted.run.lineageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7/);
      expect(minted.run).not.toHaveProperty('input');
      expect(await store.getRun(NS, 'missing')).toBeUndefined();
    });

    it('stores one run when the same id is created concurrently', async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.createRun({ ns: NS, id: 'race', name: 'inspect', version: '1', input: i, createdBy: 'api' })));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => JSON.stringify(r.run))).size).toBe(1);
    });

    it('claims a pending run, bumps the epoch at each claim, and never claims a run whose owner is alive', async () => {
      await create('a');
      const [mine] = await claim('w1');
      expect(mine).toMatchObject({ id: 'a', status: 'running', owner: 'w1', epoch: 1 });
      expect(await claim('w2')).toEqual([]);

      clock.advance(LEASE - 1);
      await store.heartbeat('w1');
      clock.advance(LEASE - 1);
      expect(await claim('w2'), 'w1 heartbeated within the lease').toEqual([]);

      clock.advance(2);
      const [taken] = await claim('w2');
      expect(taken).toMatchObject({ id: 'a', owner: 'w2', epoch: 2 });
      clock.advance(LEASE + 1);
      expect((await claim('w3'))[0]).toMatchObject({ id: 'a', owner: 'w3', epoch: 3 });
    });

    it('treats a write to a run as a sign of life of its owner', async () => {
      await create('a');
      const [run] = await claim('w1');
      clock.advance(LEASE + 1);
      await store.appendJournal(NS, 'a', run.epoch, [{ seq: 1, kind: 'step', name: 's', status: 'ok' }]);
      expect(await claim('w2')).toEqual([]);
      clock.advance(LEASE + 1);
      expect(ids(await claim('w2'))).toEqual(['a']);
    });

    it('claims a released waiting run when its timer is due, and not before', async () => {
      await create('a');
      const [run] = await claim('w1');
      const released = await store.update(NS, 'a', run.epoch, { status: 'waiting', wakeAt: clock.now() + 60_000, owner: null });
      expect(released).toMatchObject({ status: 'waiting', wakeAt: clock.now() + 60_000, epoch: 1 });
      expect(released).not.toHaveProperty('owner');
      expect(await claim('w2')).toEqual([]);
      clock.advance(59_999);
      expect(await claim('w2')).toEqual([]);
      clock.advance(1);
      const [woken] = await claim('w2');
      expect(woken).toMatchObject({ id: 'a', status: 'running', owner: 'w2', epoch: 2 });
      expect(woken).not.toHaveProperty('wakeAt');
    });

    it('leaves a due timer of a run held by a live owner to that owner', async () => {
      await create('a');
      const [run] = await claim('w1');
      await store.update(NS, 'a', run.epoch, { status: 'waiting', wakeAt: clock.now() + 1000 });
      clock.advance(5000);
      await store.heartbeat('w1');
      expect(await claim('w2')).toEqual([]);
    });

    it('never claims a finished run, whatever its owner and timer', async () => {
      for (const [id, status] of [['c', 'completed'], ['f', 'failed'], ['x', 'cancelled'], ['t', 'terminated']] as const) {
        await create(id);
        const [run] = await claim('w1', 1);
        const done = await store.update(NS, id, run.epoch, { status, wakeAt: clock.now(), owner: null });
        expect(done).toMatchObject({ status, completedAt: clock.now() });
        expect(done).not.toHaveProperty('wakeAt');
      }
      clock.advance(10 * LEASE);
      expect(await claim('w2')).toEqual([]);
    });

    it('hands the runs of a removed worker to the next claimer at once', async () => {
      await create('a');
      await create('b');
      await create('c');
      const held = await claim('w1');
      await store.update(NS, 'b', held[1].epoch, { status: 'waiting' });
      await store.update(NS, 'c', held[2].epoch, { status: 'waiting', wakeAt: clock.now() + 3_600_000 });
      await store.heartbeat('w2');
      expect(await claim('w2')).toEqual([]);
      await store.removeWorker('w1');
      const taken = await claim('w2');
      expect(taken.map((r) => [r.id, r.owner, r.epoch])).toEqual([
        ['a', 'w2', 2],
        ['b', 'w2', 2],
        ['c', 'w2', 2],
      ]);
    });

    it('claims in creation order, at most `limit` at a time', async () => {
      for (const id of ['r1', 'r2', 'r3', 'r4', 'r5']) {
        await create(id);
        clock.advance(1);
      }
      expect(ids(await claim('w1', 2))).toEqual(['r1', 'r2']);
      expect(ids(await claim('w1', 2))).toEqual(['r3', 'r4']);
      expect(ids(await claim('w1', 2))).toEqual(['r5']);
      expect(await claim('w1', 2)).toEqual([]);
    });

    it('fences every write of a zombie once another worker claimed the run', async () => {
      await create('a');
      const [old] = await claim('w1');
      await store.appendJournal(NS, 'a', old.epoch, [{ seq: 1, kind: 'step', name: 'read', status: 'ok', result: 1 }]);
      await store.signal(NS, 'a', 'go', { n: 1 });
      // w1 pauses: no heartbeat, no write, past the lease.
      clock.advance(LEASE + 1);
      const [fresh] = await claim('w2');
      expect(fresh.epoch).toBe(old.epoch + 1);

      const lost = await store.appendJournal(NS, 'a', old.epoch, [{ seq: 2, kind: 'step', name: 'write', status: 'ok', result: 'zombie' }]).catch((e) => e);
      expect(lost).toMatchObject({ code: 'AIOS_WF_LEASE_LOST', status: 409, retryable: false });
      expect(lost.message).toContain(`epoch ${fresh.epoch}`);
      await expectCode(store.update(NS, 'a', old.epoch, { status: 'completed', output: 'zombie' }), 'AIOS_WF_LEASE_LOST');
      await expectCode(store.update(NS, 'a', old.epoch, { owner: null }), 'AIOS_WF_LEASE_LOST');
      await expectCode(store.takeSignal(NS, 'a', old.epoch, 'go', 2), 'AIOS_WF_LEASE_LOST');
      await expectCode(store.appendJournal(NS, 'a', old.epoch, []), 'AIOS_WF_LEASE_LOST');

      // The new owner carries on from the journal; nothing of the zombie's was written.
      expect(await store.appendJournal(NS, 'a', fresh.epoch, [{ seq: 2, kind: 'step', name: 'write', status: 'ok', result: 'owner' }])).toMatchObject([{ seq: 2, result: 'owner' }]);
      expect(await store.takeSignal(NS, 'a', fresh.epoch, 'go', 3)).toMatchObject({ seq: 1, payload: { n: 1 }, consumedBy: 3 });
      const done = await store.update(NS, 'a', fresh.epoch, { status: 'completed', output: 'owner' });
      expect(done).toMatchObject({ status: 'completed', output: 'owner', owner: 'w2', epoch: 2 });
      expect((await store.journal(NS, 'a')).map((e) => e.result)).toEqual([1, 'owner']);
      await expectCode(store.appendJournal(NS, 'nope', 1, []), 'AIOS_NOT_FOUND');
    });

    it('records a journal entry once per seq and returns what is stored', async () => {
      await create('a');
      const [run] = await claim('w1');
      const t0 = clock.now();
      const first = await store.appendJournal(NS, 'a', run.epoch, [{ seq: 1, kind: 'step', name: 'read', status: 'ok', result: { v: 'first' } }]);
      expect(first).toEqual([{ seq: 1, kind: 'step', name: 'read', status: 'ok', result: { v: 'first' }, createdAt: t0 }]);
      clock.advance(10);
      const second = await store.appendJournal(NS, 'a', run.epoch, [{ seq: 1, kind: 'step', name: 'read', status: 'ok', result: { v: 'second' } }]);
      expect(second).toEqual(first);

      const err = { name: 'TypeError', message: 'boom', code: 'E_BOOM', retryable: false };
      const mixed = await store.appendJournal(NS, 'a', run.epoch, [
        { seq: 4, kind: 'now', name: 'now', status: 'ok', result: 1234 },
        { seq: 2, kind: 'step', name: 'nothing', status: 'ok', result: null },
        { seq: 3, kind: 'step', name: 'fails', status: 'error', error: err },
        { seq: 1, kind: 'step', name: 'read', status: 'ok', result: 'ignored' },
      ]);
      expect(mixed.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
      const journal = await store.journal(NS, 'a');
      expect(journal).toEqual(mixed);
      expect(journal[0].result).toEqual({ v: 'first' });
      expect(journal[1]).toHaveProperty('result', null);
      expect(journal[2]).toEqual({ seq: 3, kind: 'step', name: 'fails', status: 'error', error: err, createdAt: t0 + 10 });
      expect(journal[2]).not.toHaveProperty('result');
    });

    it('commits `also` with the journal entry and rolls back both together', async () => {
      const lineage = new LineageStore({ database, clock });
      await create('a', { lineageId: 'lin-also' });
      const [run] = await claim('w1');
      let calls = 0;
      const also = (name: string, fail = false) => async (trx: Kysely<WorkflowTables>) => {
        calls++;
        await lineage.record({ ns: NS, lineageId: 'lin-also', kind: 'workflow_step', name, ref: `wf:a/${name}` }, { trx });
        if (fail) throw new Error('step side effect failed');
      };
      await store.appendJournal(NS, 'a', run.epoch, [{ seq: 1, kind: 'step', name: 'one', status: 'ok', result: 1 }], { also: also('one') });
      await expect(store.appendJournal(NS, 'a', run.epoch, [{ seq: 2, kind: 'step', name: 'two', status: 'ok', result: 2 }], { also: also('two', true) })).rejects.toThrow(
        'step side effect failed',
      );
      expect((await store.journal(NS, 'a')).map((e) => e.seq)).toEqual([1]);
      expect((await lineage.graph(NS, 'lin-also')).nodes.map((n) => n.name)).toEqual(['one']);

      // A retried append whose entry is already stored does not repeat its side effects.
      calls = 0;
      await store.appendJournal(NS, 'a', run.epoch, [{ seq: 1, kind: 'step', name: 'one', status: 'ok', result: 1 }], { also: also('one-again') });
      expect(calls).toBe(0);
      // A zombie's `also` never runs.
      clock.advance(LEASE + 1);
      await claim('w2');
      await expectCode(store.appendJournal(NS, 'a', run.epoch, [{ seq: 2, kind: 'step', name: 'two', status: 'ok' }], { also: also('zombie') }), 'AIOS_WF_LEASE_LOST');
      expect(calls).toBe(0);
      expect((await lineage.graph(NS, 'lin-also')).nodes.map((n) => n.name)).toEqual(['one']);
    });

    it('commits concurrent writes of many runs together, and a zombie or a failing write fails alone', async () => {
      const lineage = new LineageStore({ database, clock });
      for (let i = 0; i < 40; i++) await create(`g${i}`, { lineageId: `lin-g${i}` });
      const runs = await claim('w1');
      // g0's lease moves to w2, so w1 is a zombie for it.
      await database.db.updateTable('aios_wf_runs').set({ epoch: 99, owner: 'w2' }).where('ns', '=', NS).where('id', '=', 'g0').execute();
      // Started with the others, so it shares a batch with the zombie's write of the same seq: only the owner's lands.
      const ownerWrite = store.appendJournal(NS, 'g0', 99, [{ seq: 1, kind: 'step', name: 'a', status: 'ok', result: 'owner' }]);
      const outcomes = await Promise.allSettled(
        runs.flatMap((r, i) => [
          store.appendJournal(NS, r.id, r.epoch, [{ seq: 1, kind: 'step', name: 'a', status: 'ok', result: i }], {
            also: async (trx) => {
              await lineage.record({ ns: NS, lineageId: `lin-${r.id}`, kind: 'workflow_step', name: 'a', ref: `wf:${r.id}/a` }, { trx });
              if (r.id === 'g1') throw new Error('g1 side effect failed');
            },
          }),
          store.update(NS, r.id, r.epoch, { state: { i } }),
        ]),
      );
      expect((await ownerWrite).map((e) => e.result)).toEqual(['owner']);
      const failed = outcomes.flatMap((o, k) => (o.status === 'rejected' ? [`${runs[k >> 1].id}:${k % 2 ? 'update' : 'append'}:${isAiosError(o.reason) ? o.reason.code : (o.reason as Error).message}`] : []));
      expect(failed.sort()).toEqual(['g0:append:AIOS_WF_LEASE_LOST', 'g0:update:AIOS_WF_LEASE_LOST', 'g1:append:g1 side effect failed']);
      for (const r of runs) {
        const journal = await store.journal(NS, r.id);
        const nodes = await lineage.graph(NS, `lin-${r.id}`).then((g) => g.nodes, () => []);
        if (r.id === 'g0' || r.id === 'g1') {
          expect(journal.map((e) => e.result)).toEqual(r.id === 'g0' ? ['owner'] : []);
          expect(nodes).toEqual([]);
        } else {
          expect(journal.map((e) => e.result)).toEqual([runs.indexOf(r)]);
          expect(nodes.map((n) => n.name)).toEqual(['a']);
        }
      }
      expect((await store.getRun(NS, 'g1'))?.state).toEqual({ i: 1 });
      expect((await store.getRun(NS, 'g0'))?.state).toBeUndefined();
    });

    it('keeps a signal sent before its wait and hands it to that wait once, also on replay', async () => {
      await create('a');
      expect(await store.signal(NS, 'a', 'approve', { by: 'ana' })).toEqual({ seq: 1 });
      expect(await store.signal(NS, 'a', 'other', 'x')).toEqual({ seq: 2 });
      expect(await store.signal(NS, 'a', 'approve', { by: 'bob' })).toEqual({ seq: 3 });
      const [run] = await claim('w1');
      const t = clock.now();
      expect(await store.takeSignal(NS, 'a', run.epoch, 'approve', 5)).toEqual({ seq: 1, name: 'approve', payload: { by: 'ana' }, createdAt: t, consumedBy: 5 });
      expect(await store.takeSignal(NS, 'a', run.epoch, 'approve', 5), 'the same wait, replayed').toMatchObject({ seq: 1, consumedBy: 5 });
      expect(await store.takeSignal(NS, 'a', run.epoch, 'approve', 6)).toMatchObject({ seq: 3, payload: { by: 'bob' }, consumedBy: 6 });
      expect(await store.takeSignal(NS, 'a', run.epoch, 'approve', 7)).toBeUndefined();
      expect(await store.takeSignal(NS, 'a', run.epoch, 'other', 8)).toMatchObject({ seq: 2, payload: 'x' });
      await store.signal(NS, 'a', 'bare');
      const bare = await store.takeSignal(NS, 'a', run.epoch, 'bare', 9);
      expect(bare).toEqual({ seq: 4, name: 'bare', createdAt: t, consumedBy: 9 });
    });

    it('hands each signal to one wait when takes race', async () => {
      await create('a');
      for (let i = 0; i < 5; i++) await store.signal(NS, 'a', 'tick', i);
      const [run] = await claim('w1');
      const taken = await Promise.all(Array.from({ length: 8 }, (_, i) => store.takeSignal(NS, 'a', run.epoch, 'tick', 100 + i)));
      const got = taken.filter((s) => s !== undefined).map((s) => s!.seq);
      expect(got.sort()).toEqual([1, 2, 3, 4, 5]);
    });

    it('wakes a released waiting run when a signal arrives, and one released after its signal came', async () => {
      await create('a');
      let [run] = await claim('w1');
      await store.update(NS, 'a', run.epoch, { status: 'waiting', owner: null, wakeOnSignals: ['go'] });
      clock.advance(10 * LEASE);
      expect(await claim('w2'), 'waiting for a signal, with no timer').toEqual([]);
      await store.signal(NS, 'a', 'go');
      expect(await store.getRun(NS, 'a')).toMatchObject({ status: 'waiting', wakeAt: clock.now() });
      [run] = await claim('w2');
      expect(run).toMatchObject({ id: 'a', owner: 'w2', epoch: 2 });

      // The signal arrives while w2 still holds the run; w2 releases it without having seen it.
      await store.signal(NS, 'a', 'go');
      expect(await store.getRun(NS, 'a')).not.toHaveProperty('wakeAt');
      const released = await store.update(NS, 'a', run.epoch, { status: 'waiting', owner: null, wakeOnSignals: ['go'] });
      expect(released.wakeAt).toBe(clock.now());
      expect(ids(await claim('w3'))).toEqual(['a']);
    });

    it('refuses a signal to an unknown or a finished run', async () => {
      await expectCode(store.signal(NS, 'nope', 'go'), 'AIOS_NOT_FOUND');
      await create('a');
      const [run] = await claim('w1');
      await store.update(NS, 'a', run.epoch, { status: 'completed', output: { ok: true } });
      await expectCode(store.signal(NS, 'a', 'go'), 'AIOS_CONFLICT');
    });

    it('records a cancel request and wakes a released waiting run for it', async () => {
      await create('p');
      expect(await store.requestCancel(NS, 'p')).toMatchObject({ status: 'pending', cancelRequested: true });
      await create('w');
      const [run] = (await claim('w1')).filter((r) => r.id === 'w');
      await store.update(NS, 'w', run.epoch, { status: 'waiting', wakeAt: clock.now() + 3_600_000, owner: null });
      const cancelled = await store.requestCancel(NS, 'w');
      expect(cancelled).toMatchObject({ cancelRequested: true, wakeAt: clock.now() });
      expect((await claim('w2')).map((r) => [r.id, r.cancelRequested])).toEqual([['w', true]]);
      await expectCode(store.requestCancel(NS, 'nope'), 'AIOS_NOT_FOUND');
    });

    it('leaves a finished run as it is on a cancel request', async () => {
      await create('a');
      const [run] = await claim('w1');
      const done = await store.update(NS, 'a', run.epoch, { status: 'completed', output: 1 });
      expect(await store.requestCancel(NS, 'a')).toEqual(done);
    });

    it('updates output, error and state, and keeps a null apart from no value', async () => {
      await create('a');
      const [run] = await claim('w1');
      const s1 = await store.update(NS, 'a', run.epoch, { state: { phase: 'measuring', pct: 40 } });
      expect(s1).toMatchObject({ status: 'running', state: { phase: 'measuring', pct: 40 }, owner: 'w1' });
      expect(s1).not.toHaveProperty('output');
      const failed = await store.update(NS, 'a', run.epoch, { status: 'failed', error: { name: 'Error', message: 'sensor offline', retryable: false }, output: null });
      expect(failed).toMatchObject({ status: 'failed', error: { name: 'Error', message: 'sensor offline', retryable: false }, output: null, state: { phase: 'measuring', pct: 40 } });
      expect(await store.getRun(NS, 'a')).toEqual(failed);
    });

    it('lists runs by filters with a cursor that neither skips nor repeats', async () => {
      const t0 = clock.now();
      for (let i = 0; i < 7; i++) {
        await create(`r${i}`, { name: i % 2 ? 'odd' : 'even' });
        if (i !== 2) clock.advance(100); // r2 and r3 share a created_at: the id breaks the tie
      }
      const [c] = await claim('w1', 1);
      await store.update(NS, c.id, c.epoch, { status: 'completed' });

      const seen: string[] = [];
      let after: string | undefined;
      do {
        const page = await store.listRuns(NS, { limit: 3, after });
        expect(page.runs.length).toBeLessThanOrEqual(3);
        seen.push(...ids(page.runs));
        after = page.next;
      } while (after);
      expect(seen).toEqual(['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6']);

      expect(ids((await store.listRuns(NS, { name: 'odd', limit: 10 })).runs)).toEqual(['r1', 'r3', 'r5']);
      expect(ids((await store.listRuns(NS, { status: 'completed', limit: 10 })).runs)).toEqual(['r0']);
      expect(ids((await store.listRuns(NS, { status: 'pending', name: 'even', limit: 10 })).runs)).toEqual(['r2', 'r4', 'r6']);
      expect(ids((await store.listRuns(NS, { from: t0 + 200, to: t0 + 400, limit: 10 })).runs)).toEqual(['r2', 'r3', 'r4']);
      const firstPage = await store.listRuns(NS, { name: 'even', limit: 2 });
      expect(ids(firstPage.runs)).toEqual(['r0', 'r2']);
      expect(ids((await store.listRuns(NS, { name: 'even', limit: 2, after: firstPage.next })).runs)).toEqual(['r4', 'r6']);
      expect((await store.listRuns(NS, { limit: 7 })).next).toBeUndefined();
      await expectCode(store.listRuns(NS, { limit: 3, after: 'not-a-cursor' }), 'AIOS_BAD_REQUEST');
    });

    it('refuses payloads over the configured limit, counting UTF-8 bytes', async () => {
      const small = new SqlRunStore({ database, clock, maxPayloadBytes: 1024 });
      const big = 'x'.repeat(1100);
      const err = await small.createRun({ ns: NS, id: 'big', name: 'n', version: '1', input: big, createdBy: 'api' }).catch((e) => e);
      expect(err).toMatchObject({ code: 'AIOS_WF_PAYLOAD_TOO_LARGE', status: 413 });
      expect(await small.getRun(NS, 'big')).toBeUndefined();
      // 600 characters, 1,202 bytes of JSON.
      await expectCode(small.createRun({ ns: NS, id: 'big', name: 'n', version: '1', input: 'é'.repeat(600), createdBy: 'api' }), 'AIOS_WF_PAYLOAD_TOO_LARGE');
      const { run: fits } = await small.createRun({ ns: NS, id: 'ok', name: 'n', version: '1', input: 'x'.repeat(1000), createdBy: 'api' });
      expect(fits.input).toHaveLength(1000);

      const [run] = await small.claim('w1', { leaseMs: LEASE, limit: 1 });
      await expectCode(small.appendJournal(NS, 'ok', run.epoch, [{ seq: 1, kind: 'step', name: 's', status: 'ok', result: big }]), 'AIOS_WF_PAYLOAD_TOO_LARGE');
      await expectCode(small.update(NS, 'ok', run.epoch, { state: { big } }), 'AIOS_WF_PAYLOAD_TOO_LARGE');
      await expectCode(small.update(NS, 'ok', run.epoch, { status: 'completed', output: big }), 'AIOS_WF_PAYLOAD_TOO_LARGE');
      await expectCode(small.signal(NS, 'ok', 'go', big), 'AIOS_WF_PAYLOAD_TOO_LARGE');
      expect(await small.journal(NS, 'ok')).toEqual([]);
      expect(await small.getRun(NS, 'ok')).toMatchObject({ status: 'running' });
      await expectCode(small.createRun({ ns: NS, id: 'cyclic', name: 'n', version: '1', input: { n: 1n }, createdBy: 'api' }), 'AIOS_VALIDATION');
    });

    it('keeps namespaces apart', async () => {
      await store.createRun({ ns: 'a', id: 'same', name: 'n', version: '1', input: 'in a', createdBy: 'api' });
      const { created } = await store.createRun({ ns: 'b', id: 'same', name: 'n', version: '1', input: 'in b', createdBy: 'api' });
      expect(created).toBe(true);
      expect((await store.getRun('a', 'same'))?.input).toBe('in a');
      expect((await store.getRun('b', 'same'))?.input).toBe('in b');
      expect(ids((await store.listRuns('a', { limit: 10 })).runs)).toEqual(['same']);
      expect((await store.listRuns('c', { limit: 10 })).runs).toEqual([]);
      await expectCode(store.signal('c', 'same', 'go'), 'AIOS_NOT_FOUND');

      const claimed = await claim('w1');
      expect(claimed.map((r) => r.ns).sort()).toEqual(['a', 'b']);
      const [a, b] = [claimed.find((r) => r.ns === 'a')!, claimed.find((r) => r.ns === 'b')!];
      await store.appendJournal('a', 'same', a.epoch, [{ seq: 1, kind: 'step', name: 's', status: 'ok', result: 'a' }]);
      await store.signal('a', 'same', 'go', 'for a');
      expect(await store.journal('b', 'same')).toEqual([]);
      expect(await store.takeSignal('b', 'same', b.epoch, 'go', 1)).toBeUndefined();
      expect(await store.takeSignal('a', 'same', a.epoch, 'go', 2)).toMatchObject({ payload: 'for a' });
      await store.update('b', 'same', b.epoch, { status: 'completed' });
      expect((await store.getRun('a', 'same'))?.status).toBe('running');
    });

    it('gives each of 500 runs to exactly one of 4 concurrent claimers in separate pools', async () => {
      const total = 500;
      for (let i = 0; i < total; i += 100) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => store.createRun({ ns: NS, id: `run-${String(i + j).padStart(3, '0')}`, name: 'n', version: '1', createdBy: 'api' })));
      }
      const pools = await Promise.all(Array.from({ length: 4 }, () => t.fixture.connect()));
      try {
        const claimers = pools.map((db, i) => ({ worker: `w${i}`, store: new SqlRunStore({ database: db, clock }) }));
        for (const c of claimers) await c.store.heartbeat(c.worker);
        const got = new Map<string, string[]>(claimers.map((c) => [c.worker, []]));
        await Promise.all(
          claimers.map(async ({ worker, store: s }) => {
            for (;;) {
              const runs = await s.claim(worker, { leaseMs: LEASE, limit: 7 });
              if (!runs.length) return;
              for (const r of runs) expect(r).toMatchObject({ owner: worker, epoch: 1 });
              got.get(worker)!.push(...ids(runs));
            }
          }),
        );
        const all = [...got.values()].flat();
        expect(all).toHaveLength(total);
        expect(new Set(all).size).toBe(total);
        expect(await claim('late')).toEqual([]);
        const { runs } = await store.listRuns(NS, { limit: 1000 });
        for (const r of runs) expect(got.get(r.owner!), `${r.id} is owned by ${r.owner}`).toContain(r.id);
      } finally {
        await Promise.all(pools.map((p) => p.close()));
      }
    });
  },
);
