import type { Kysely } from 'kysely';
import { sql } from 'kysely';
import { ALL_NAMESPACES, AiosError, checkIdentifier, isReservedNamespace, namespaceProblem, type Clock, type Logger } from '../../core/index.ts';
import type { Database, DialectFlags } from '../../storage/index.ts';
import { grantProblem, principalIdProblem, qualifiedId, ROLES, SYSTEM_PRINCIPAL, type Principal } from '../principal.ts';
import { apiKeyId, apiKeyMatches, generateApiKey } from './api-key-format.ts';
import { GovernanceError } from '../errors.ts';

/** A key's name and principal id, as the API takes them; the principal id is indexed in the audit trail. */
const MAX_NAME_LENGTH = 200;

interface KeyRow {
  id: string;
  ns: string;
  name: string;
  principal_type: string;
  principal_id: string;
  roles: string;
  hash: string;
  created_at: number;
  created_by: string | null;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
}

/** The identity tables as migration 0003 creates them (aios_rate_limits belongs to the rate limiter's library). */
interface IdentityTables {
  aios_api_keys: KeyRow;
}

/** What AIOS tells about a key: never the key itself, never its hash. */
export interface ApiKeyInfo {
  readonly id: string;
  readonly namespace: string;
  readonly name: string;
  readonly principal: { readonly type: 'user' | 'service'; readonly id: string };
  readonly roles: readonly string[];
  readonly createdAt: number;
  readonly createdBy: string | null;
  readonly expiresAt: number | null;
  readonly revokedAt: number | null;
  readonly lastUsedAt: number | null;
}

export interface CreateKeyInput {
  readonly name: string;
  readonly roles: readonly string[];
  readonly type?: 'user' | 'service';
  /** The principal the key authenticates; defaults to a service account named after the key (`key:<id>`). */
  readonly principalId?: string;
  readonly expiresAt?: number | null;
  /** Who creates it: the key gets no role and no namespace beyond theirs. Default: AIOS itself. */
  readonly by?: Principal;
}

interface Cached {
  readonly row: KeyRow;
  readonly principal: Principal;
  readonly loadedAt: number;
}

function info(r: KeyRow): ApiKeyInfo {
  return {
    id: r.id,
    namespace: r.ns,
    name: r.name,
    principal: { type: r.principal_type === 'user' ? 'user' : 'service', id: r.principal_id },
    roles: JSON.parse(r.roles) as string[],
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  };
}

/**
 * API keys: created once (the key is returned once and only its hash kept), listed by namespace,
 * revoked, expired. Verified keys are cached for `cacheMs` so that a request costs a hash and a
 * map lookup, not a query; a revocation here takes effect at once, one made by another process
 * within `cacheMs`. `last_used_at` is written at most once per `touchIntervalMs` per key, off the
 * request path.
 */
export class ApiKeyStore {
  readonly #db: Kysely<IdentityTables>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #cacheMs: number;
  readonly #touchIntervalMs: number;
  readonly #cache = new Map<string, Cached>();
  readonly #touched = new Map<string, number>();

  constructor(opts: { database: Database; clock: Clock; logger: Logger; cacheMs?: number; touchIntervalMs?: number }) {
    this.#db = opts.database.db as Kysely<IdentityTables>;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#cacheMs = opts.cacheMs ?? 5_000;
    this.#touchIntervalMs = opts.touchIntervalMs ?? 60_000;
  }

  /**
   * Creates a key; `key` is returned here and never again. Refused with 400 for a namespace that
   * is not a valid name (or is reserved), a reserved or malformed principal id, or an unknown role;
   * with 403 when it would give more roles or a wider namespace than its creator holds.
   *
   * @example const { key } = await keys.create('plant-a', { name: 'gateway', roles: ['service'], by: principal });
   */
  async create(ns: string, input: CreateKeyInput): Promise<{ key: string; info: ApiKeyInfo }> {
    if (ns !== ALL_NAMESPACES) {
      const problem = namespaceProblem(ns);
      if (problem) throw new GovernanceError('AIOS_AUTH_KEY_INVALID', `the namespace ${problem}`);
      if (isReservedNamespace(ns)) throw new GovernanceError('AIOS_AUTH_KEY_INVALID', `namespace "${ns}" is reserved for AIOS's own records; no key belongs to it`);
    }
    checkIdentifier(input.name, 'name', MAX_NAME_LENGTH);
    if (input.principalId !== undefined) checkIdentifier(input.principalId, 'principalId', MAX_NAME_LENGTH);
    if (input.principalId !== undefined) {
      const problem = principalIdProblem(input.principalId);
      if (problem) throw new GovernanceError('AIOS_AUTH_KEY_INVALID', `principalId ${problem}`, { errors: [{ path: '/principalId', message: problem }] });
    }
    const unknown = input.roles.filter((r) => !(ROLES as readonly string[]).includes(r));
    if (!input.roles.length || unknown.length) {
      throw new GovernanceError('AIOS_AUTH_KEY_INVALID', unknown.length ? `unknown role(s): ${unknown.join(', ')}; roles are ${ROLES.join(', ')}` : 'a key needs at least one role');
    }
    const by = input.by ?? SYSTEM_PRINCIPAL;
    const beyond = grantProblem(by, ns, input.roles);
    if (beyond) throw new GovernanceError('AIOS_AUTH_FORBIDDEN', beyond, { extra: { action: 'keys:create' } });
    const now = this.#clock.now();
    if (input.expiresAt != null && input.expiresAt <= now) throw new GovernanceError('AIOS_AUTH_KEY_INVALID', 'expiresAt is in the past');
    const { id, key, hash } = generateApiKey();
    const row: KeyRow = {
      id,
      ns,
      name: input.name,
      principal_type: input.type ?? 'service',
      principal_id: input.principalId ?? `key:${id}`,
      roles: JSON.stringify([...new Set(input.roles)]),
      hash,
      created_at: now,
      created_by: qualifiedId(by),
      expires_at: input.expiresAt ?? null,
      revoked_at: null,
      last_used_at: null,
    };
    await this.#db.insertInto('aios_api_keys').values(row).execute();
    return { key, info: info(row) };
  }

  async list(ns: string, opts: { after?: string; limit: number }): Promise<ApiKeyInfo[]> {
    let q = this.#db.selectFrom('aios_api_keys').selectAll().where('ns', '=', ns).orderBy('id').limit(opts.limit);
    if (opts.after) q = q.where('id', '>', opts.after);
    return ((await q.execute()) as KeyRow[]).map(info);
  }

  async get(ns: string, id: string): Promise<ApiKeyInfo> {
    const row = (await this.#db.selectFrom('aios_api_keys').selectAll().where('ns', '=', ns).where('id', '=', id).executeTakeFirst()) as KeyRow | undefined;
    if (!row) throw new AiosError('AIOS_NOT_FOUND', `no API key ${id}`);
    return info(row);
  }

  async revoke(ns: string, id: string): Promise<ApiKeyInfo> {
    const now = this.#clock.now();
    const r = await this.#db.updateTable('aios_api_keys').set({ revoked_at: now }).where('ns', '=', ns).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    this.#cache.delete(id);
    if (Number(r.numUpdatedRows) === 0) await this.get(ns, id); // 404 when absent; revoking twice is a no-op
    return this.get(ns, id);
  }

  /** Whether any key exists at all (the first start creates the admin key when none does). */
  async any(): Promise<boolean> {
    return !!(await this.#db.selectFrom('aios_api_keys').select('id').limit(1).executeTakeFirst());
  }

  /** The principal a presented key stands for, or undefined when it is unknown, wrong, revoked or expired. */
  async authenticate(key: string): Promise<Principal | undefined> {
    const id = apiKeyId(key);
    if (!id) return undefined;
    const now = this.#clock.now();
    let c = this.#cache.get(id);
    if (!c || now - c.loadedAt > this.#cacheMs) {
      const row = (await this.#db.selectFrom('aios_api_keys').selectAll().where('id', '=', id).executeTakeFirst()) as KeyRow | undefined;
      if (!row) {
        this.#cache.delete(id);
        return undefined;
      }
      c = {
        row,
        loadedAt: now,
        principal: Object.freeze({
          type: row.principal_type === 'user' ? 'user' : 'service',
          id: row.principal_id,
          namespace: row.ns,
          roles: Object.freeze(JSON.parse(row.roles) as string[]),
          authMethod: 'api_key',
          keyId: row.id,
        } satisfies Principal),
      };
      this.#cache.set(id, c);
    }
    if (!apiKeyMatches(key, c.row.hash)) return undefined;
    if (c.row.revoked_at !== null || (c.row.expires_at !== null && Number(c.row.expires_at) <= now)) return undefined;
    this.#touch(id, now);
    return c.principal;
  }

  #touch(id: string, now: number): void {
    const last = this.#touched.get(id);
    if (last !== undefined && now - last < this.#touchIntervalMs) return;
    this.#touched.set(id, now);
    this.#db
      .updateTable('aios_api_keys')
      .set({ last_used_at: now })
      .where('id', '=', id)
      .execute()
      .catch((e: unknown) => this.#logger.warn({ err: e, keyId: id }, 'could not record an API key\'s last use'));
  }

  /**
   * Creates the first admin key when no key exists, atomically across processes.
   * Returns the key, or undefined when keys already existed.
   */
  async bootstrapAdmin(flags: Pick<DialectFlags, 'concurrentWriters'>): Promise<string | undefined> {
    return this.#db.transaction().execute(async (trx) => {
      // Processes starting at once on one database: one of them creates the key.
      if (flags.concurrentWriters) await sql`select pg_advisory_xact_lock(7240315003)`.execute(trx);
      if (await trx.selectFrom('aios_api_keys').select('id').limit(1).executeTakeFirst()) return undefined;
      const { id, key, hash } = generateApiKey();
      const now = this.#clock.now();
      await trx
        .insertInto('aios_api_keys')
        .values({ id, ns: ALL_NAMESPACES, name: 'bootstrap admin', principal_type: 'user', principal_id: 'admin', roles: JSON.stringify(['admin']), hash, created_at: now, created_by: qualifiedId(SYSTEM_PRINCIPAL) })
        .execute();
      return key;
    });
  }
}
