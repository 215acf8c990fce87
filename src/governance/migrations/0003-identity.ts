import type { Migration } from '../../storage/index.ts';

/** API keys (only their hashes), the versioned policy set, and (PostgreSQL) shared rate-limit counters. */
export const m0003Identity: Migration = {
  version: 3,
  name: 'identity',
  async up(db, flags) {
    if (flags.name === 'postgres') {
      // rate-limiter-flexible's table, created here rather than by the library at start-up, where
      // two processes starting together race on CREATE TABLE. Same shape as the library's own.
      await db.schema
        .createTable('aios_rate_limits')
        .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
        .addColumn('points', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('expire', 'bigint')
        .execute();
    }
    await db.schema
      .createTable('aios_api_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('principal_type', 'text', (c) => c.notNull())
      .addColumn('principal_id', 'text', (c) => c.notNull())
      .addColumn('roles', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('expires_at', 'bigint')
      .addColumn('revoked_at', 'bigint')
      .addColumn('last_used_at', 'bigint')
      .execute();
    await db.schema.createIndex('aios_api_keys_ns').on('aios_api_keys').columns(['ns', 'id']).execute();
    await db.schema
      .createTable('aios_policy_sets')
      .addColumn('version', 'integer', (c) => c.primaryKey())
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('text', 'text', (c) => c.notNull())
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('comment', 'text')
      .execute();
  },
};
