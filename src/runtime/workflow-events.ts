import type { Kysely } from 'kysely';
import type { AppendBatch, EventLog } from '../events/index.ts';
import { LINEAGE_HEADER } from '../server/index.ts';
import type { EmitEvent, EventWaitRecord, EventWaits, PreparedEmit, WorkflowEventPort } from '../workflows/index.ts';

interface Prepared extends PreparedEmit {
  readonly batch: AppendBatch;
}

/**
 * The workflow engine's view of the event log: the outbox of `ctx.emit` (events validated
 * against the topic's contract first, appended in the journal transaction) and the event waits
 * of `ctx.waitForEvent`. Emitted events carry the run's lineage id, like appended ones carry
 * their request's.
 */
export function workflowEvents(events: EventLog, waits: EventWaits): WorkflowEventPort {
  return {
    validateMatch: (match) => waits.validate(match),
    position: (ns, topic) => waits.position(ns, topic),
    async registerWait(trx: Kysely<any>, wait: EventWaitRecord) {
      await waits.register(trx, wait);
    },
    async cancelWait(ns, runId, seq) {
      await waits.cancel(ns, runId, seq);
    },
    async prepare(ns: string, topic: string, list: readonly EmitEvent[], lineageId: string): Promise<Prepared> {
      const withLineage = list.map((e) => ({ ...e, headers: { [LINEAGE_HEADER]: lineageId, ...e.headers } }));
      const batch = await events.prepareBatch(ns, topic, withLineage);
      return { topic, ids: batch.events.map((e) => e.id), batch };
    },
    async appendIn(trx: Kysely<any>, prepared: readonly PreparedEmit[]) {
      await events.appendInTransaction(trx, (prepared as Prepared[]).map((p) => p.batch));
    },
    committed(prepared: readonly PreparedEmit[]) {
      events.announce((prepared as Prepared[]).map((p) => p.batch));
      waits.wake();
    },
  };
}
