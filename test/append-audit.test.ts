import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, systemClock } from '../src/core/index.ts';
import type { CommitHook } from '../src/events/index.ts';
import { AuditTrail, hashPayload, keyIdOf, verifyAuditChain, type AuditRecord } from '../src/governance/index.ts';
import { conformance } from './support/conformance.ts';
import { EVENT_LOG_BACKENDS, eventLogFactory, type Opened } from './support/event-log-harness.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { NATS_URL, natsAvailable, randomName } from './support/services.ts';

/**
 * An append's audit record commits in the events' own transaction: both, or neither. The hook
 * writes it as the HTTP route's does (`recordIn` in the commit hook, on either engine); a failure
 * after the write forces a rollback.
 */
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signingKey = { privateKey, publicKey, keyId: keyIdOf(publicKey) };
/** The hook of an audited append: the record, its output the positions written. */
function audited(trail: AuditTrail, n: number, fail = false): { hook: CommitHook; written: () => AuditRecord | undefined } {
  let written: AuditRecord | undefined;
  return {
    hook: async (tx, positions) => {
      written = await trail.recordIn(tx, { ...entry(n), output: positions });
      if (fail) throw new Error('injected failure after the audit write');
    },
    written: () => written,
  };
}
const entry = (n: number) => ({ ns: 'plant', actor: { type: 'service' as const, id: 'gw', authMethod: 'api_key' as const }, action: 'events:append', resource: 'Topic:t', outcome: 'success' as const, requestId: `r${n}`, input: { n } });

await conformance(
  'audit records of appends',
  {
    backends: EVENT_LOG_BACKENDS,
    factory: eventLogFactory,
    skip: [{ backend: 'nats', reason: 'no transactions: a publish cannot carry the audit record (the server path is tested below)' }],
  },
  (t) => {
    const { it } = t;
    let o: Opened;
    let trail: AuditTrail;
    beforeAll(async () => {
      o = await t.fixture.open();
      trail = new AuditTrail({ database: o.database, clock: systemClock, logger: createLogger({ level: 'silent' }), signingKey, checkpointEvery: 2 });
      await o.log.createTopic('plant', { name: 't', partitions: 2, keyField: 'k' });
    });
    afterAll(async () => {
      await trail?.close();
    });

    it('commit with their events, hashing the positions written', async () => {
      expect(o.log.commitHooks).toBe(true);
      const a = audited(trail, 1);
      const r = await o.log.append('plant', 't', [{ id: 'e1', data: { k: 'a' } }, { id: 'e2', data: { k: 'b' } }], { onCommit: a.hook });
      const record = a.written()!;
      const stored = await trail.query('plant', { limit: 10 });
      expect(stored.map((s) => s.requestId)).toContain('r1');
      expect(record.outputHash).toBe(hashPayload(r.accepted.map(({ index: _i, ...p }) => p)));
      expect(record.inputHash).toBe(hashPayload({ n: 1 }));
    });

    it('roll back with their events: neither is stored, and the chain goes on intact', async () => {
      const failing = audited(trail, 2, true);
      await expect(o.log.append('plant', 't', [{ id: 'e3', data: { k: 'a' } }], { onCommit: failing.hook })).rejects.toThrow(/injected/);
      expect(failing.written()?.seq).toBe(2);
      const events = await o.log.read('plant', 't', { limit: 100 });
      expect(events.events.map((e) => e.id).sort()).toEqual(['e1', 'e2']);
      expect((await trail.query('plant', { limit: 100 })).map((s) => s.requestId)).toEqual(['r1']);

      await o.log.append('plant', 't', [{ id: 'e3', data: { k: 'a' } }], { onCommit: audited(trail, 3).hook });
      await trail.record(entry(4));
      expect((await trail.query('plant', { limit: 100 })).map((s) => [s.seq, s.requestId])).toEqual([[1, 'r1'], [2, 'r3'], [3, 'r4']]);
      const v = await verifyAuditChain(o.database, { publicKey });
      expect(v.problems).toEqual([]);
      expect(v.ok).toBe(true);
    });
  },
);

const natsUp = await natsAvailable();

describe.skipIf(!natsUp)('audit records of appends with the event log on NATS', () => {
  let t: TestAios;
  beforeAll(async () => {
    t = await startTestAios({ natsUrl: NATS_URL });
  });
  afterAll(() => t?.cleanup());

  it('are written after the publish, before the answer, one per request', async () => {
    const topic = randomName('audited');
    expect((await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: topic } })).statusCode).toBe(201);
    const r = await t.api({ method: 'POST', url: `/api/v1/topics/${topic}/events`, payload: [{ data: 1 }, { data: 2 }], headers: { 'x-request-id': `nats-${topic}` } });
    expect(r.statusCode).toBe(200);
    const records = (await t.api({ method: 'GET', url: '/api/v1/audit?action=events:append' })).json().records;
    expect(records.filter((x: { requestId: string }) => x.requestId === `nats-${topic}`)).toHaveLength(1);
    expect((await t.api({ method: 'GET', url: '/api/v1/audit/verify' })).json().ok).toBe(true);
  });
});
