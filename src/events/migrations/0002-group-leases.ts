import type { Migration } from '../../storage/index.ts';

/** Consumer-group members and their partition leases, so a group's members split the partitions. */
export const m0002GroupLeases: Migration = {
  version: 2,
  name: 'group-leases',
  async up(db) {
    await db.schema
      .createTable('aios_group_members')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('group_name', 'text', (c) => c.notNull())
      .addColumn('member_id', 'text', (c) => c.notNull())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('heartbeat_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_group_members_pk', ['topic_id', 'group_name', 'member_id'])
      .execute();
    await db.schema
      .createTable('aios_group_leases')
      .addColumn('topic_id', 'bigint', (c) => c.notNull())
      .addColumn('group_name', 'text', (c) => c.notNull())
      .addColumn('partition', 'integer', (c) => c.notNull())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('member_id', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('aios_group_leases_pk', ['topic_id', 'group_name', 'partition'])
      .execute();
  },
};
