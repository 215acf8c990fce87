import type { Migration } from '../../storage/index.ts';

/**
 * Encrypted secrets (src/governance/secrets). One row per secret; a put replaces the row and
 * bumps `version`. Only ciphertext is stored: the value is sealed with a per-put data key
 * (`iv`, `ciphertext`, `tag`, base64), and the data key is sealed by a master key that lives
 * outside the database (`wrapped_key`, base64 of iv[12] || tag[16] || key[32]); `master_key_id`
 * names which master key, so a rotation knows what to unwrap with. Times are epoch ms.
 */
export const m0006Secrets: Migration = {
  version: 6,
  name: 'secrets',
  async up(db) {
    await db.schema
      .createTable('aios_secrets')
      .addColumn('ns', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'integer', (c) => c.notNull())
      .addColumn('wrapped_key', 'text', (c) => c.notNull())
      .addColumn('master_key_id', 'text', (c) => c.notNull())
      .addColumn('iv', 'text', (c) => c.notNull())
      .addColumn('ciphertext', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .addColumn('created_by', 'text')
      .addColumn('description', 'text')
      .addPrimaryKeyConstraint('aios_secrets_pk', ['ns', 'name'])
      .execute();
  },
};
