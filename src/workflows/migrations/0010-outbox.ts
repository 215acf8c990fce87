import type { Migration } from '../../storage/index.ts';

/**
 * The workflow outbox for an event log outside the database (NATS JetStream): events a step
 * emits are written here in the step's journal transaction, and a relay publishes them with
 * their ids and deletes the row (src/workflows/outbox). One row per emitted batch:
 * - `key` is `<run id>:<journal position>:<batch>`, unique per namespace, so a retried journal
 *   transaction cannot write a batch twice;
 * - `events` is the JSON array of the events as appended (each with its id), so a relay that
 *   publishes a row twice appends nothing twice (the event log's id index, JetStream's dedup).
 * On SQL event logs emitted events are appended in the journal transaction itself and this table
 * stays empty. Times are epoch ms, JSON as in 0007.
 */
export const m0010Outbox: Migration = {
  version: 10,
  name: 'workflow-outbox',
  async up(db, flags) {
    await db.schema
      .createTable('aios_wf_outbox')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('key', 'text', (c) => c.notNull())
      .addColumn('topic', 'text', (c) => c.notNull())
      .addColumn('events', flags.jsonType, (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_wf_outbox_pk', ['ns', 'key'])
      .execute();
    await db.schema.createIndex('aios_wf_outbox_order').on('aios_wf_outbox').columns(['created_at']).execute();
  },
};
