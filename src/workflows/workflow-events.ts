import type { Kysely } from 'kysely';
import type { AppendBatch, EventInput, EventLog } from '../events/index.ts';
import { LINEAGE_HEADER } from '../governance/index.ts';
import type { EmitEvent, EventWaitRecord, EventWaits, OutboxRelay, PreparedEmit, WorkflowEventPort, WorkflowTables } from './index.ts';

interface Prepared extends PreparedEmit {
  readonly ns: string;
  readonly batch: AppendBatch;
  /** The events as given, with their ids: what the outbox relays. */
  readonly inputs: readonly EventInput[];
}

/**
 * The workflow engine's view of the event log: the outbox of `ctx.emit` (events validated
 * against the topic's contract first, appended in the journal transaction) and the event waits
 * of `ctx.waitForEvent`. Emitted events carry the run's lineage id, like appended ones carry
 * their request's. With the event log in the database the events are appended in the journal
 * transaction; with NATS they go to the outbox table in it, and the relay publishes them.
 */
export function workflowEvents(events: EventLog, waits: EventWaits, outbox: OutboxRelay): WorkflowEventPort {
  return {
    validateMatch: (match) => waits.validate(match),
    position: (ns, topic) => waits.position(ns, topic),
    async registerWait(trx: Kysely<WorkflowTables>, wait: EventWaitRecord) {
      await waits.register(trx, wait);
    },
    async cancelWait(ns, runId, seq) {
      await waits.cancel(ns, runId, seq);
    },
    async prepare(ns: string, topic: string, list: readonly EmitEvent[], lineageId: string): Promise<Prepared> {
      const withLineage = list.map((e) => ({ ...e, headers: { [LINEAGE_HEADER]: lineageId, ...e.headers } }));
      const batch = await events.prepareBatch(ns, topic, withLineage);
      return { ns, topic, ids: batch.events.map((e) => e.id), batch, inputs: withLineage.map((e, i) => ({ ...e, id: batch.events[i].id, time: batch.events[i].time })) };
    },
    async appendIn(trx: Kysely<WorkflowTables>, prepared: readonly PreparedEmit[]) {
      const list = (prepared as Prepared[]).filter((p) => p.ids.length > 0);
      if (events.commitHooks) await events.appendInTransaction(trx, list.map((p) => p.batch));
      else for (const p of list) await outbox.write(trx, p.ns, p.ids[0], p.topic, p.inputs);
    },
    committed(prepared: readonly PreparedEmit[]) {
      if (events.commitHooks) events.announce((prepared as Prepared[]).map((p) => p.batch));
      else outbox.wake();
      waits.wake();
    },
  };
}
