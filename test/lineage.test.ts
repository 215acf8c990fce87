import { beforeAll, expect } from 'vitest';
import { AiosError, ManualClock } from '../src/core/index.ts';
import type { Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { LineageStore, LINEAGE_KINDS, toOpenLineage, toOpenLineageNdjson, type LineageGraph, type LineageKind, type LineageNode } from '../src/governance/lineage/index.ts';
import { conformance, SQL_BACKENDS, sqlDatabase } from './support/conformance.ts';
import { randomName } from './support/services.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Resolves to the AiosError a promise rejects with, failing the test if it resolves. */
async function rejection(p: Promise<unknown>): Promise<AiosError> {
  const outcome = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(outcome).toBeInstanceOf(AiosError);
  return outcome as AiosError;
}

function byDirection(g: LineageGraph): Record<string, string[]> {
  const out: Record<string, string[]> = { self: [], upstream: [], downstream: [] };
  for (const n of g.nodes) out[n.direction].push(`${n.kind}:${n.name}`);
  for (const k of Object.keys(out)) out[k].sort();
  return out;
}

await conformance('lineage', { backends: SQL_BACKENDS, factory: sqlDatabase }, (t) => {
  const { it } = t;
  const ns = randomName('plant_');
  const otherNs = randomName('other_');
  const clock = new ManualClock(Date.UTC(2026, 2, 1, 8));
  let database: Database;
  let lineage: LineageStore;
  // The chain of one lineage, plus a model from another lineage and a consumer from a third.
  let lineageId: string;
  let chain: Record<string, LineageNode>;
  let model: LineageNode;
  let laterCall: LineageNode;

  const record = async (...args: Parameters<LineageStore['record']>) => {
    const node = await lineage.record(...args);
    clock.advance(1);
    return node;
  };

  beforeAll(async () => {
    database = t.fixture.database;
    lineage = new LineageStore({ database, clock });

    model = await record({ ns, lineageId: 'registry:bearing-rul', kind: 'model', name: 'bearing-rul', ref: 'v3' });
    lineageId = lineage.mintLineageId();
    const steps: [LineageKind, string, string | undefined][] = [
      ['ingest', 'opcua-gateway', undefined],
      ['event', 'vibration', 'topic:vibration@0:12-0:15'],
      ['feature', 'rms-10s', undefined],
      ['inference', 'bearing-rul', 'model:bearing-rul@v3'],
      ['decision', 'schedule-maintenance', undefined],
      ['human_task', 'approve-maintenance', 'task:42'],
      ['workflow_step', 'create-work-order', 'wf:run-7/step:2'],
      ['external_action', 'sap-pm-order', 'sap:order-4711'],
    ];
    chain = {};
    let prev: LineageNode | undefined;
    for (const [kind, name, ref] of steps) {
      const inputs = prev ? [prev.id] : [];
      if (kind === 'inference') inputs.push(model.id);
      prev = await record({ ns, lineageId, kind, name, ref, inputs, attrs: { step: kind } });
      chain[kind] = prev;
    }
    // Another request, later, reads the same event slice under its own lineage id.
    laterCall = await record({ ns, lineageId: 'mes:order-99', kind: 'api_call', name: 'replay', inputs: [chain.event.id], edgeKind: 'caused' });
  });

  it('re-running the migrations changes nothing', async () => {
    expect((await migrate(database)).applied).toEqual([]);
  });

  it('records a node with its fields and returns it as stored', async () => {
    const g = await lineage.graph(ns, chain.event.id, { depth: 0 });
    expect(g.nodes).toEqual([{ ...chain.event, direction: 'self' }]);
    expect(chain.event).toMatchObject({ ns, lineageId, kind: 'event', name: 'vibration', ref: 'topic:vibration@0:12-0:15', attrs: { step: 'event' } });
    expect(chain.event.id).toMatch(UUID);
    expect(Number.isInteger(chain.event.createdAt)).toBe(true);
    expect(chain.event.createdAt).toBeGreaterThan(chain.ingest.createdAt);
  });

  it('walks by lineage id: the chain is self, other lineages are reached through edges', async () => {
    const g = await lineage.graph(ns, lineageId);
    expect(g.lineageId).toBe(lineageId);
    expect(g.truncated).toBe(false);
    expect(byDirection(g)).toEqual({
      self: Object.values(chain).map((n) => `${n.kind}:${n.name}`).sort(),
      upstream: ['model:bearing-rul'],
      downstream: ['api_call:replay'],
    });
    // 7 chain links, the model's edge and the later call's edge.
    expect(g.edges).toHaveLength(9);
    expect(g.edges).toContainEqual({ ns, fromId: model.id, toId: chain.inference.id, kind: 'input', createdAt: chain.inference.createdAt });
    expect(g.edges).toContainEqual({ ns, fromId: chain.event.id, toId: laterCall.id, kind: 'caused', createdAt: laterCall.createdAt });
    // Oldest first.
    expect(g.nodes.map((n) => n.createdAt)).toEqual([...g.nodes.map((n) => n.createdAt)].sort((a, b) => a - b));
  });

  it('walks by a middle node id: ancestors upstream, descendants downstream, no siblings', async () => {
    const g = await lineage.graph(ns, chain.inference.id);
    expect(g.lineageId).toBe(lineageId);
    expect(byDirection(g)).toEqual({
      self: ['inference:bearing-rul'],
      upstream: ['event:vibration', 'feature:rms-10s', 'ingest:opcua-gateway', 'model:bearing-rul'],
      downstream: ['decision:schedule-maintenance', 'external_action:sap-pm-order', 'human_task:approve-maintenance', 'workflow_step:create-work-order'],
    });
    // The later call hangs off the event, a sibling branch: not upstream nor downstream of the inference.
    expect(g.nodes.find((n) => n.id === laterCall.id)).toBeUndefined();
    expect(g.edges).toHaveLength(8);
    for (const e of g.edges) {
      expect(g.nodes.some((n) => n.id === e.fromId)).toBe(true);
      expect(g.nodes.some((n) => n.id === e.toId)).toBe(true);
    }
  });

  it('stops at the depth limit', async () => {
    const g1 = await lineage.graph(ns, chain.inference.id, { depth: 1 });
    expect(byDirection(g1)).toEqual({ self: ['inference:bearing-rul'], upstream: ['feature:rms-10s', 'model:bearing-rul'], downstream: ['decision:schedule-maintenance'] });
    expect(g1.edges.map((e) => `${e.fromId}>${e.toId}`).sort()).toEqual(
      [`${chain.feature.id}>${chain.inference.id}`, `${model.id}>${chain.inference.id}`, `${chain.inference.id}>${chain.decision.id}`].sort(),
    );
    const g2 = await lineage.graph(ns, chain.inference.id, { depth: 2 });
    expect(byDirection(g2).upstream).toEqual(['event:vibration', 'feature:rms-10s', 'model:bearing-rul']);
    expect(byDirection(g2).downstream).toEqual(['decision:schedule-maintenance', 'human_task:approve-maintenance']);
    const g0 = await lineage.graph(ns, chain.inference.id, { depth: 0 });
    expect(g0.nodes.map((n) => n.id)).toEqual([chain.inference.id]);
    expect(g0.edges).toEqual([]);
  });

  it('stops at the node limit and says so', async () => {
    const g = await lineage.graph(ns, chain.inference.id, { limit: 3 });
    expect(g.nodes).toHaveLength(3);
    expect(g.truncated).toBe(true);
    const all = await lineage.graph(ns, chain.inference.id, { limit: 9 });
    expect(all.nodes).toHaveLength(9);
    expect(all.truncated).toBe(false);
    await expect(lineage.graph(ns, lineageId, { depth: -1 })).rejects.toMatchObject({ code: 'AIOS_BAD_REQUEST' });
    await expect(lineage.graph(ns, lineageId, { limit: 0 })).rejects.toMatchObject({ code: 'AIOS_BAD_REQUEST' });
  });

  it('reports unknown ids and other namespaces\' ids the same way: not found', async () => {
    const unknown = lineage.mintLineageId();
    const missing = await rejection(lineage.graph(ns, unknown));
    const foreignLineage = await rejection(lineage.graph(otherNs, lineageId));
    const foreignNode = await rejection(lineage.graph(otherNs, chain.inference.id));
    for (const e of [missing, foreignLineage, foreignNode]) {
      expect(e.code).toBe('AIOS_LINEAGE_NOT_FOUND');
      expect(e.status).toBe(404);
    }
    const shape = (e: AiosError, id: string, n: string) => e.message.replace(id, '<id>').replace(n, '<ns>');
    expect(shape(foreignNode, chain.inference.id, otherNs)).toBe(shape(missing, unknown, ns));
    expect(shape(foreignLineage, lineageId, otherNs)).toBe(shape(missing, unknown, ns));
  });

  it('never links or follows an edge into another namespace', async () => {
    const foreign = await record({ ns: otherNs, lineageId: 'foreign-1', kind: 'decision', name: 'elsewhere' });
    // Through the API, the other namespace's node does not exist.
    expect((await rejection(lineage.link(ns, chain.inference.id, foreign.id))).code).toBe('AIOS_LINEAGE_NOT_FOUND');
    expect((await rejection(record({ ns: otherNs, lineageId: 'foreign-1', kind: 'decision', name: 'x', inputs: [chain.inference.id] }))).code).toBe(
      'AIOS_LINEAGE_NOT_FOUND',
    );
    // Edges written past the API (a bug, a hand edit) still lead nowhere.
    await database.db
      .insertInto('aios_lineage_edges')
      .values([
        { ns, from_id: chain.inference.id, to_id: foreign.id, kind: 'input', created_at: clock.now() },
        { ns: otherNs, from_id: foreign.id, to_id: chain.decision.id, kind: 'input', created_at: clock.now() },
        { ns: otherNs, from_id: chain.workflow_step.id, to_id: foreign.id, kind: 'input', created_at: clock.now() },
      ])
      .execute();
    const mine = await lineage.graph(ns, lineageId);
    expect(mine.nodes.find((n) => n.id === foreign.id)).toBeUndefined();
    expect(mine.edges.some((e) => e.fromId === foreign.id || e.toId === foreign.id)).toBe(false);
    expect(mine.nodes).toHaveLength(10);
    const theirs = await lineage.graph(otherNs, foreign.id);
    expect(theirs.nodes.map((n) => n.id)).toEqual([foreign.id]);
    expect(theirs.edges).toEqual([]);
  });

  it('writes inside the caller\'s transaction: a rollback leaves nothing', async () => {
    const rolledBack = lineage.mintLineageId();
    let inside: LineageNode | undefined;
    const outcome = database.db.transaction().execute(async (trx) => {
      const step = await lineage.record({ ns, lineageId: rolledBack, kind: 'workflow_step', name: 'doomed', inputs: [chain.decision.id] }, { trx });
      inside = await lineage.record({ ns, lineageId: rolledBack, kind: 'external_action', name: 'never-sent', inputs: [step.id] }, { trx });
      // Visible inside the transaction...
      const seen = await trx.selectFrom('aios_lineage_nodes').select('id').where('lineage_id', '=', rolledBack).execute();
      expect(seen).toHaveLength(2);
      throw new Error('the step failed');
    });
    await expect(outcome).rejects.toThrow('the step failed');
    // ...and gone after the rollback, edges included.
    expect((await rejection(lineage.graph(ns, rolledBack))).code).toBe('AIOS_LINEAGE_NOT_FOUND');
    expect((await rejection(lineage.graph(ns, inside!.id))).code).toBe('AIOS_LINEAGE_NOT_FOUND');
    const after = await lineage.graph(ns, chain.decision.id, { depth: 1 });
    expect(after.nodes.map((n) => n.name)).not.toContain('doomed');
    const edges = await database.db.selectFrom('aios_lineage_edges').select('to_id').where('from_id', '=', chain.decision.id).execute();
    expect(edges.map((e) => e.to_id)).toEqual([chain.human_task.id]);

    // The same with a commit keeps both.
    const committed = lineage.mintLineageId();
    await database.db.transaction().execute(async (trx) => {
      await lineage.record({ ns, lineageId: committed, kind: 'workflow_step', name: 'kept', inputs: [chain.decision.id] }, { trx });
    });
    const kept = await lineage.graph(ns, committed, { depth: 1 });
    expect(byDirection(kept)).toEqual({ self: ['workflow_step:kept'], upstream: ['decision:schedule-maintenance'], downstream: [] });
  });

  it('rejects a bad kind and other bad input, writing nothing', async () => {
    const id = lineage.mintLineageId();
    const badKind = await rejection(lineage.record({ ns, lineageId: id, kind: 'telepathy' as LineageKind, name: 'x' }));
    expect(badKind.code).toBe('AIOS_BAD_REQUEST');
    expect(badKind.message).toContain('telepathy');
    for (const bad of [
      { ns, lineageId: 'has space', kind: 'event' as const, name: 'x' },
      { ns, lineageId: id, kind: 'event' as const, name: '' },
      { ns: '', lineageId: id, kind: 'event' as const, name: 'x' },
      { ns, lineageId: id, kind: 'event' as const, name: 'x', attrs: [1] as unknown as Record<string, unknown> },
      { ns, lineageId: id, kind: 'event' as const, name: 'x', inputs: [chain.event.id], edgeKind: 'not ok' },
    ]) {
      expect((await rejection(lineage.record(bad))).code).toBe('AIOS_BAD_REQUEST');
    }
    // An unknown input fails the whole record: no node without its edges.
    expect((await rejection(lineage.record({ ns, lineageId: id, kind: 'event', name: 'x', inputs: [chain.event.id, 'nope'] }))).code).toBe('AIOS_LINEAGE_NOT_FOUND');
    expect((await rejection(lineage.graph(ns, id))).code).toBe('AIOS_LINEAGE_NOT_FOUND');
    expect(LINEAGE_KINDS).toContain('workflow_step');
  });

  it('links two recorded nodes once', async () => {
    const a = await record({ ns, lineageId: 'link-test', kind: 'dataset', name: 'training-2026q1' });
    const first = await lineage.link(ns, a.id, model.id, 'produced');
    expect(first).toMatchObject({ ns, fromId: a.id, toId: model.id, kind: 'produced' });
    clock.advance(5);
    expect(await lineage.link(ns, a.id, model.id, 'other')).toEqual(first);
    expect((await rejection(lineage.link(ns, a.id, a.id))).code).toBe('AIOS_BAD_REQUEST');
    const g = await lineage.graph(ns, model.id, { depth: 1 });
    expect(byDirection(g).upstream).toEqual(['dataset:training-2026q1']);
  });

  it('mints UUIDv7 lineage ids and accepts clients\' own', () => {
    const a = lineage.mintLineageId();
    expect(a).toMatch(UUID);
    expect(a[14]).toBe('7');
    for (const ok of [a, 'mes:order-4711', 'A.b_c-d:e', 'x'.repeat(200)]) expect(lineage.isValidLineageId(ok)).toBe(true);
    for (const bad of ['', 'x'.repeat(201), 'a b', 'é', 'a/b', 42, null]) expect(lineage.isValidLineageId(bad)).toBe(false);
  });

  it('exports OpenLineage RunEvents with the right inputs and outputs', async () => {
    const g = await lineage.graph(ns, lineageId);
    const events = toOpenLineage(g, { namespace: 'aios://plant-a' });
    const runs = g.nodes.filter((n) => !['event', 'model', 'dataset'].includes(n.kind));
    expect(events.map((e) => e.run.runId)).toEqual(runs.map((n) => n.id));
    for (const e of events) {
      expect(e.eventType).toBe('COMPLETE');
      expect(e.eventTime).toMatch(RFC3339);
      expect(e.run.runId).toMatch(UUID);
      expect(e.job.namespace).toBe('aios://plant-a');
      expect(typeof e.job.name).toBe('string');
      expect(Array.isArray(e.inputs) && Array.isArray(e.outputs)).toBe(true);
      for (const d of [...e.inputs, ...e.outputs]) {
        expect(d.namespace).toBe('aios://plant-a');
        expect(d.name.length).toBeGreaterThan(0);
        if (d.facets.version) expect(d.facets.version).toMatchObject({ _producer: 'https://github.com/aios/aios', _schemaURL: expect.stringMatching(/^https:\/\//) });
      }
      expect(e.producer).toBe('https://github.com/aios/aios');
      expect(e.schemaURL).toBe('https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent');
    }
    const job = (name: string) => events.find((e) => e.job.name === name)!;
    const names = (ds: { name: string; facets: { version?: { datasetVersion: string } } }[]) => ds.map((d) => `${d.name}@${d.facets.version?.datasetVersion ?? ''}`).sort();
    expect(job('ingest.opcua-gateway').eventTime).toBe(new Date(chain.ingest.createdAt).toISOString());
    expect(names(job('ingest.opcua-gateway').outputs)).toEqual(['event.vibration@topic:vibration@0:12-0:15']);
    expect(names(job('feature.rms-10s').inputs)).toEqual(['event.vibration@topic:vibration@0:12-0:15']);
    expect(names(job('feature.rms-10s').outputs)).toEqual([`feature.rms-10s.output@${chain.feature.id}`]);
    expect(names(job('inference.bearing-rul').inputs)).toEqual([`feature.rms-10s.output@${chain.feature.id}`, 'model.bearing-rul@v3']);
    expect(names(job('decision.schedule-maintenance').inputs)).toEqual([`inference.bearing-rul.output@${chain.inference.id}`]);
    expect(names(job('external_action.sap-pm-order').outputs)).toEqual([]);
    expect(names(job('api_call.replay').inputs)).toEqual(['event.vibration@topic:vibration@0:12-0:15']);

    const ndjson = toOpenLineageNdjson(g, { namespace: 'aios://plant-a', producer: 'https://example.com/aios' });
    expect(ndjson.endsWith('\n')).toBe(true);
    const lines = ndjson.trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(events.length);
    expect(lines[0].producer).toBe('https://example.com/aios');
    expect(toOpenLineage(g)[0].job.namespace).toBe(ns);
  });
});
