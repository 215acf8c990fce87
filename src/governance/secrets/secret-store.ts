import { randomBytes } from 'node:crypto';
import { AiosError, isAiosError, type Clock } from '../../core/index.ts';
import { translateDbError, type Database } from '../../storage/index.ts';
import type { AuditActor, AuditRecorder } from '../audit/audit-record.ts';
import { KEY_BYTES, open, seal, wrapKey } from './envelope.ts';
import type { Keyring } from './master-key.ts';
import { isSecretRef, secretRefName, type SecretRef } from './secret-ref.ts';
import { dataKeyAad, unwrapRowKey, valueAad, type SecretRow, type SecretsDb } from './secret-row.ts';
import { GovernanceError } from '../errors.ts';

/** What may be known about a secret without revealing it: no value, no key material. */
export interface SecretMetadata {
  readonly name: string;
  /** 1 on the first put, +1 on each put after. */
  readonly version: number;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** Id of the actor of the first put, when one was given. */
  readonly createdBy: string | null;
  readonly description: string | null;
  /** Fingerprint of the master key that wraps the current data key. */
  readonly masterKeyId: string;
}

export interface SecretStoreOptions {
  readonly database: Database;
  readonly clock: Clock;
  readonly keyring: Keyring;
  /**
   * Receives one entry per reveal. Optional for library use (a script holding the master key
   * can decrypt the table anyway); a server must pass one, or reveals leave no trace.
   */
  readonly audit?: AuditRecorder;
}

export interface PutSecretOptions {
  readonly actor?: AuditActor;
  /** Replaces the description; when omitted a put keeps the existing one. */
  readonly description?: string;
}

export interface RevealSecretContext {
  /** Who asks; defaults to the system actor. */
  readonly actor?: AuditActor;
  readonly requestId?: string;
  readonly lineageId?: string;
}

export const SECRET_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
export const MAX_SECRET_BYTES = 64 * 1024;
const MAX_DESCRIPTION_CHARS = 1024;
/** A put that loses the race to create a name retries as an update; one retry is enough. */
const PUT_ATTEMPTS = 3;

/** The actor of reveals AIOS makes on its own behalf, e.g. resolving configuration. */
export const SYSTEM_ACTOR: AuditActor = Object.freeze({ type: 'system', id: 'aios-system', authMethod: 'system' });

const METADATA_COLUMNS = ['name', 'version', 'created_at', 'updated_at', 'created_by', 'description', 'master_key_id'] as const;
type MetadataRow = Pick<SecretRow, (typeof METADATA_COLUMNS)[number]>;

/**
 * Encrypted secrets, per namespace, with envelope encryption: each put seals the value
 * (AES-256-GCM) with a fresh random data key, and wraps that data key with the active master
 * key. The database holds only ciphertext; the master key stays outside it (see master-key.ts).
 * Every query filters by namespace, and every reveal is audited before the value is returned.
 *
 * @example
 * const store = new SecretStore({ database, clock: systemClock, keyring: loadMasterKeys({ dataDir, env: process.env }), audit });
 * await store.put('plant-a', 'historian-password', 's3cret', { actor, description: 'PI Web API' });
 * const pw = await store.reveal('plant-a', 'historian-password', { actor, requestId });
 * const url = await store.resolve('plant-a', config.password); // 'secret:historian-password' or a literal
 */
export class SecretStore {
  readonly #db: SecretsDb;
  readonly #clock: Clock;
  readonly #keyring: Keyring;
  readonly #audit?: AuditRecorder;
  readonly #rowLocks: boolean;

  constructor(opts: SecretStoreOptions) {
    this.#db = opts.database.db as SecretsDb;
    this.#rowLocks = opts.database.flags.concurrentWriters;
    this.#clock = opts.clock;
    this.#keyring = opts.keyring;
    this.#audit = opts.audit;
  }

  /**
   * Creates the secret or replaces its value, bumping the version; returns its metadata.
   * AIOS_SECRETS_INVALID for a bad name (`SECRET_NAME_PATTERN`) or value (empty, over 64 KiB).
   */
  async put(ns: string, name: string, value: string, opts: PutSecretOptions = {}): Promise<SecretMetadata> {
    checkNs(ns);
    checkName(name);
    if (typeof value !== 'string' || value.length === 0) throw new GovernanceError('AIOS_SECRETS_INVALID', 'a secret value must be a non-empty string');
    const plaintext = Buffer.from(value, 'utf8');
    if (plaintext.length > MAX_SECRET_BYTES) {
      throw new GovernanceError('AIOS_SECRETS_INVALID', `a secret value may be at most ${MAX_SECRET_BYTES} bytes (UTF-8), got ${plaintext.length}`);
    }
    if (opts.description !== undefined && (typeof opts.description !== 'string' || opts.description.length > MAX_DESCRIPTION_CHARS)) {
      throw new GovernanceError('AIOS_SECRETS_INVALID', `a description must be a string of at most ${MAX_DESCRIPTION_CHARS} characters`);
    }
    try {
      for (let attempt = 1; attempt <= PUT_ATTEMPTS; attempt++) {
        try {
          return await this.#db.transaction().execute((trx) => this.#write(trx, ns, name, plaintext, opts));
        } catch (e) {
          // Two first puts of one name raced and this one lost the insert: now the row exists,
          // and the next attempt updates it under the row lock.
          if (!isAiosError(translateDbError(e), 'AIOS_STORAGE_UNIQUE_VIOLATION')) throw e;
        }
      }
    } finally {
      plaintext.fill(0);
    }
    throw new AiosError('AIOS_CONFLICT', `secret ${name} was created concurrently while being written; try again`, { retryable: true });
  }

  /**
   * One put, inside a transaction. The version is read under a row lock where several processes
   * may write (PostgreSQL: `for update`; SQLite has a single writer), so concurrent puts get
   * consecutive versions; the version is in the AAD, so it must be known before encrypting.
   */
  async #write(trx: SecretsDb, ns: string, name: string, plaintext: Buffer, opts: PutSecretOptions): Promise<SecretMetadata> {
    let q = trx.selectFrom('aios_secrets').select(METADATA_COLUMNS).where('ns', '=', ns).where('name', '=', name);
    if (this.#rowLocks) q = q.forUpdate();
    const current = await q.executeTakeFirst();
    const version = current ? Number(current.version) + 1 : 1;
    const now = this.#clock.now();
    const row: SecretRow = {
      ns,
      name,
      version,
      ...this.#seal(ns, name, version, plaintext),
      created_at: current ? Number(current.created_at) : now,
      updated_at: now,
      created_by: current ? current.created_by : opts.actor?.id ?? null,
      description: opts.description ?? current?.description ?? null,
    };
    if (!current) {
      await trx.insertInto('aios_secrets').values(row).execute();
    } else {
      const { ns: _ns, name: _name, created_at: _c, created_by: _b, ...changes } = row;
      const r = await trx.updateTable('aios_secrets').set(changes).where('ns', '=', ns).where('name', '=', name).where('version', '=', current.version).executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new AiosError('AIOS_CONFLICT', `secret ${name} changed while being written; try again`, { retryable: true });
    }
    return toMetadata(row);
  }

  /**
   * Metadata of the namespace's secrets in name order, `limit` (1..1000, default 100) after
   * the name `after`. Never the values.
   */
  async list(ns: string, opts: { after?: string; limit?: number } = {}): Promise<SecretMetadata[]> {
    let q = this.#db.selectFrom('aios_secrets').select(METADATA_COLUMNS).where('ns', '=', ns);
    if (opts.after !== undefined) q = q.where('name', '>', opts.after);
    const rows = await q
      .orderBy('name')
      .limit(Math.min(Math.max(opts.limit ?? 100, 1), 1000))
      .execute();
    return rows.map(toMetadata);
  }

  /** Metadata of one secret; AIOS_SECRETS_NOT_FOUND when the namespace has none of that name. */
  async get(ns: string, name: string): Promise<SecretMetadata> {
    const row = await this.#db.selectFrom('aios_secrets').select(METADATA_COLUMNS).where('ns', '=', ns).where('name', '=', name).executeTakeFirst();
    if (!row) throw notFound(ns, name);
    return toMetadata(row);
  }

  /**
   * Decrypts a secret. Audited every time, success or failure, and the audit entry is written
   * before the value is returned: when the audit trail cannot record, the reveal fails.
   * AIOS_SECRETS_NOT_FOUND when absent; AIOS_SECRETS_MASTER_KEY when the loaded master keys
   * do not unwrap it or the stored row fails authentication (altered or moved).
   */
  async reveal(ns: string, name: string, ctx: RevealSecretContext = {}): Promise<string> {
    let value: string;
    try {
      checkNs(ns);
      checkName(name);
      const row = await this.#db.selectFrom('aios_secrets').selectAll().where('ns', '=', ns).where('name', '=', name).executeTakeFirst();
      if (!row) throw notFound(ns, name);
      value = this.#open(row);
    } catch (e) {
      await this.#auditReveal(ns, name, ctx, isAiosError(e) ? e.code : 'AIOS_INTERNAL');
      throw e;
    }
    await this.#auditReveal(ns, name, ctx, null);
    return value;
  }

  /** Deletes a secret; AIOS_SECRETS_NOT_FOUND when absent. */
  async delete(ns: string, name: string): Promise<void> {
    const r = await this.#db.deleteFrom('aios_secrets').where('ns', '=', ns).where('name', '=', name).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw notFound(ns, name);
  }

  /**
   * Resolves a configuration value: a literal string is returned as is; a reference
   * (`{ secret: name }` or `"secret:name"`, see `isSecretRef`) is revealed, audited under the
   * system actor.
   *
   * @example await store.resolve('plant-a', { secret: 'mqtt-password' }) // the plaintext
   */
  async resolve(ns: string, ref: string | SecretRef, ctx: Omit<RevealSecretContext, 'actor'> = {}): Promise<string> {
    if (typeof ref === 'string' && !isSecretRef(ref)) return ref;
    if (!isSecretRef(ref)) throw new GovernanceError('AIOS_SECRETS_INVALID', 'a configuration value must be a string, "secret:<name>" or { "secret": "<name>" }');
    return this.reveal(ns, secretRefName(ref), { ...ctx, actor: SYSTEM_ACTOR });
  }

  #seal(ns: string, name: string, version: number, plaintext: Buffer) {
    const dataKey = randomBytes(KEY_BYTES);
    try {
      const sealed = seal(dataKey, plaintext, valueAad(ns, name, version));
      const active = this.#keyring.active;
      return {
        wrapped_key: wrapKey(active.key, dataKey, dataKeyAad(ns, name, version)),
        master_key_id: active.id,
        iv: sealed.iv.toString('base64'),
        ciphertext: sealed.ciphertext.toString('base64'),
        tag: sealed.tag.toString('base64'),
      };
    } finally {
      dataKey.fill(0);
    }
  }

  #open(row: SecretRow): string {
    const dataKey = unwrapRowKey(row, this.#keyring);
    let plaintext: Buffer;
    try {
      const sealed = { iv: Buffer.from(row.iv, 'base64'), ciphertext: Buffer.from(row.ciphertext, 'base64'), tag: Buffer.from(row.tag, 'base64') };
      plaintext = open(dataKey, sealed, valueAad(row.ns, row.name, Number(row.version)));
    } catch (e) {
      // The data key unwrapped, so the master key is right: the value columns were altered.
      throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `the stored value of secret ${row.name} fails authentication: the row was altered or corrupted`, { cause: e });
    } finally {
      dataKey.fill(0);
    }
    const value = plaintext.toString('utf8');
    plaintext.fill(0);
    return value;
  }

  async #auditReveal(ns: string, name: string, ctx: RevealSecretContext, error: string | null): Promise<void> {
    if (!this.#audit) return;
    await this.#audit.record({
      ns,
      actor: ctx.actor ?? SYSTEM_ACTOR,
      action: 'secrets:reveal',
      resource: `secret:${name}`,
      outcome: error ? 'failure' : 'success',
      error,
      requestId: ctx.requestId ?? null,
      lineageId: ctx.lineageId ?? null,
    });
  }
}

function checkNs(ns: string): void {
  if (typeof ns !== 'string' || ns.length === 0) throw new GovernanceError('AIOS_SECRETS_INVALID', 'the namespace must be a non-empty string');
}

function checkName(name: string): void {
  if (typeof name !== 'string' || !SECRET_NAME_PATTERN.test(name)) {
    throw new GovernanceError('AIOS_SECRETS_INVALID', `a secret name must match ${SECRET_NAME_PATTERN.source} (letters, digits, '.', '_', '-'; at most 200 characters)`);
  }
}

function notFound(ns: string, name: string): AiosError {
  return new GovernanceError('AIOS_SECRETS_NOT_FOUND', `no secret named ${name} in namespace ${ns}`);
}

function toMetadata(r: MetadataRow): SecretMetadata {
  return {
    name: r.name,
    version: Number(r.version),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    createdBy: r.created_by ?? null,
    description: r.description ?? null,
    masterKeyId: r.master_key_id,
  };
}
