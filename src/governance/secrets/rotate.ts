import { AiosError } from '../../core/index.ts';
import type { Database } from '../../storage/index.ts';
import { wrapKey } from './envelope.ts';
import { replaceFile } from './key-file.ts';
import { generateMasterKey, keyringOf, readKeyFile, writeMasterKeyFile, type Keyring, type MasterKey } from './master-key.ts';
import { dataKeyAad, unwrapRowKey, type SecretsDb } from './secret-row.ts';
import { GovernanceError } from '../errors.ts';

export interface RotateMasterKeyOptions {
  readonly database: Database;
  /** Must hold every master key a row names (the transaction rolls back otherwise). */
  readonly keyring: Keyring;
  readonly newKey: MasterKey;
}

/**
 * Re-wraps every data key not yet under `newKey`, in one transaction: each is unwrapped with
 * the master key its row names and wrapped again with `newKey`. Values are not re-encrypted
 * (their ciphertexts do not change), so this is one small update per secret. A row that cannot
 * be unwrapped aborts the whole transaction: nothing is half-rotated. Spans every namespace,
 * as a master key does.
 *
 * @example
 * const { rewrapped } = await rotateMasterKey({ database, keyring, newKey: generateMasterKey() });
 */
export async function rotateMasterKey(opts: RotateMasterKeyOptions): Promise<{ rewrapped: number }> {
  const { keyring, newKey } = opts;
  const db = opts.database.db as SecretsDb;
  return db.transaction().execute(async (trx) => {
    let q = trx.selectFrom('aios_secrets').select(['ns', 'name', 'version', 'wrapped_key', 'master_key_id']).where('master_key_id', '!=', newKey.id);
    // Where several processes write, lock the rows so a concurrent put waits for the rotation.
    if (opts.database.flags.concurrentWriters) q = q.forUpdate();
    const rows = await q.execute();
    let rewrapped = 0;
    for (const row of rows) {
      const dataKey = unwrapRowKey(row, keyring);
      let wrapped: string;
      try {
        wrapped = wrapKey(newKey.key, dataKey, dataKeyAad(row.ns, row.name, Number(row.version)));
      } finally {
        dataKey.fill(0);
      }
      // Conditional on what was read, in case a put replaced the row meanwhile (next pass).
      const r = await trx
        .updateTable('aios_secrets')
        .set({ wrapped_key: wrapped, master_key_id: newKey.id })
        .where('ns', '=', row.ns)
        .where('name', '=', row.name)
        .where('version', '=', row.version)
        .where('master_key_id', '=', row.master_key_id)
        .executeTakeFirst();
      rewrapped += Number(r.numUpdatedRows);
    }
    return { rewrapped };
  });
}

export interface MasterKeyRotationResult {
  readonly rewrapped: number;
  readonly newKeyId: string;
}

/** How many passes to make when puts under the old key keep arriving during a rotation. */
const PASSES = 3;

/**
 * Rotation when the master key comes from AIOS_MASTER_KEY: re-wraps under `newKey` (from
 * AIOS_NEW_MASTER_KEY) and checks that no row is left under another key. The operator then sets
 * AIOS_MASTER_KEY to the new key; until every process has restarted, servers started with
 * AIOS_NEW_MASTER_KEY or AIOS_MASTER_KEY_PREVIOUS can read both states.
 */
export async function rotateEnvMasterKey(opts: RotateMasterKeyOptions): Promise<MasterKeyRotationResult> {
  if (opts.newKey.id === opts.keyring.active.id) {
    throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `the new master key is the current one (${opts.newKey.id}); generate another with: openssl rand -base64 32`);
  }
  const rewrapped = await rewrapUntilDone(opts);
  return { rewrapped, newKeyId: opts.newKey.id };
}

export interface RotateKeyFileOptions {
  readonly database: Database;
  /** The keyring loaded from `keyFile` (it includes `<keyFile>.next` when one exists). */
  readonly keyring: Keyring;
  readonly keyFile: string;
  /**
   * Keep the old key as `<keyFile>.retired-<oldId>` (mode 0600, not loaded by AIOS). Default true:
   * it is the only way back for a database backup taken before the rotation, and for a secret
   * that a server still running with the old key writes before it restarts. Delete the file
   * once neither can happen; pass false when the old key is known to be exposed.
   */
  readonly keepRetired?: boolean;
}

export interface RotateKeyFileResult extends MasterKeyRotationResult {
  readonly oldKeyId: string;
  /** Path of the retired key file, when kept. */
  readonly retiredFile?: string;
  /** True when an interrupted rotation's `<keyFile>.next` was found and finished. */
  readonly resumed: boolean;
}

/**
 * Rotation of a file master key, crash-safe at every step:
 *
 * 1. Write the new key to `<keyFile>.next` (0600, fsynced). Crash here: the database is
 *    untouched; `.next` is loaded too; the next run reuses it rather than making another.
 * 2. Re-wrap every data key in one transaction (`rotateMasterKey`), and check that none is left
 *    under another key. Crash here: the database is wholly under the old key or wholly under
 *    `.next`, and `loadMasterKeys` loads both, so every secret stays readable.
 * 3. Keep the old key as `<keyFile>.retired-<oldId>` (see `keepRetired`), then rename
 *    `<keyFile>.next` over `<keyFile>` (atomic). Before the rename nothing is lost; after it,
 *    the key file is the new key.
 *
 * An existing `.next` is never overwritten: after step 2 it is the only key the data opens with.
 */
export async function rotateKeyFile(opts: RotateKeyFileOptions): Promise<RotateKeyFileResult> {
  const { keyFile, database } = opts;
  const nextPath = `${keyFile}.next`;
  const old = readKeyFile(keyFile);
  if (!old) throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `there is no master key file at ${keyFile} to rotate`);

  let newKey = readKeyFile(nextPath);
  const resumed = newKey !== undefined;
  if (!newKey) {
    const fresh = generateMasterKey();
    if (!writeMasterKeyFile(nextPath, fresh)) throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `${nextPath} appeared while rotating: is another rotation running?`);
    newKey = fresh;
  }

  const keyring = keyringOf(opts.keyring.active, [old, newKey, ...opts.keyring.all.values()]);
  const rewrapped = await rewrapUntilDone({ database, keyring, newKey });

  let retiredFile: string | undefined;
  if (opts.keepRetired !== false && old.id !== newKey.id) {
    retiredFile = `${keyFile}.retired-${old.id}`;
    writeMasterKeyFile(retiredFile, old); // false when a resumed run already wrote it
  }
  replaceFile(nextPath, keyFile);
  return { rewrapped, newKeyId: newKey.id, oldKeyId: old.id, retiredFile, resumed };
}

async function rewrapUntilDone(opts: RotateMasterKeyOptions): Promise<number> {
  let rewrapped = 0;
  for (let pass = 1; pass <= PASSES; pass++) {
    rewrapped += (await rotateMasterKey(opts)).rewrapped;
    const left = await countOutside(opts.database, opts.newKey.id);
    if (left === 0) return rewrapped;
  }
  throw new GovernanceError(
    'AIOS_SECRETS_MASTER_KEY',
    `secrets are still being written under the old master key after ${PASSES} passes; stop the AIOS processes that write secrets and run the rotation again (it resumes safely)`,
  );
}

async function countOutside(database: Database, keyId: string): Promise<number> {
  const db = database.db as SecretsDb;
  const r = await db
    .selectFrom('aios_secrets')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('master_key_id', '!=', keyId)
    .executeTakeFirst();
  return Number(r?.n ?? 0);
}
