import type { Migration } from '../../storage/index.ts';

/** One row per start of an AIOS process on this database: which instances have run here. */
export const m0012InstanceStarts: Migration = {
  version: 12,
  name: 'instance-starts',
  async up(db) {
    await db.schema
      .createTable('aios_info_instance_starts')
      .addColumn('instance_id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('started_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('aios_info_instance_starts_by_time').on('aios_info_instance_starts').column('started_at').execute();
  },
};
