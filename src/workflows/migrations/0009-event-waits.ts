import type { Migration } from '../../storage/index.ts';

/**
 * Workflow waits for an event of the log (src/workflows/event-waits). One row per wait that is
 * still open, keyed by the wait's journal position (ns, run_id, seq):
 * - `match` is the CEL expression the event must satisfy (over `event`).
 * - `after` is JSON { partition: first offset that may match }, taken before the wait began and
 *   moved forward by the matcher as it scans, so each rescan starts where the last one ended.
 * - `deadline` is the wait's timeout (epoch ms) or null; the engine times the wait out, and the
 *   matcher only sweeps rows left long past it.
 * Delivery deletes the row and inserts the run's signal in one transaction, so a row exists
 * exactly while its event is undelivered. Times are epoch ms, JSON as in 0007.
 */
export const m0009EventWaits: Migration = {
  version: 9,
  name: 'event-waits',
  async up(db, flags) {
    await db.schema
      .createTable('aios_wf_event_waits')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('run_id', 'text', (c) => c.notNull())
      .addColumn('seq', 'integer', (c) => c.notNull())
      .addColumn('topic', 'text', (c) => c.notNull())
      .addColumn('match', 'text', (c) => c.notNull())
      .addColumn('after', flags.jsonType, (c) => c.notNull())
      .addColumn('deadline', 'bigint')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_wf_event_waits_pk', ['ns', 'run_id', 'seq'])
      .execute();
    // The matcher groups the open waits by topic and reads each topic once.
    await db.schema.createIndex('aios_wf_event_waits_topic').on('aios_wf_event_waits').columns(['ns', 'topic']).execute();
  },
};
