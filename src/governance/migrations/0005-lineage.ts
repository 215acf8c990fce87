import type { Migration } from '../../storage/index.ts';

/**
 * Lineage: a DAG of nodes (what happened: an ingest, an inference, a decision...) and edges
 * (what fed what). No foreign keys, like the other tables: the store checks that both ends of
 * an edge exist in the edge's namespace, which a foreign key could not express anyway.
 */
export const m0005Lineage: Migration = {
  version: 5,
  name: 'lineage',
  async up(db) {
    await db.schema
      .createTable('aios_lineage_nodes')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('lineage_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('ref', 'text')
      // JSON as text on both engines: attrs are shown, never queried into.
      .addColumn('attrs', 'text')
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('aios_lineage_nodes_lineage').on('aios_lineage_nodes').columns(['ns', 'lineage_id']).execute();
    await db.schema.createIndex('aios_lineage_nodes_ref').on('aios_lineage_nodes').columns(['ns', 'ref']).execute();

    // The primary key serves the downstream walk (edges out of a node); the (ns, to_id) index
    // serves the upstream walk (edges into a node).
    await db.schema
      .createTable('aios_lineage_edges')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('from_id', 'text', (c) => c.notNull())
      .addColumn('to_id', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_lineage_edges_pk', ['from_id', 'to_id'])
      .execute();
    await db.schema.createIndex('aios_lineage_edges_to').on('aios_lineage_edges').columns(['ns', 'to_id']).execute();
  },
};
