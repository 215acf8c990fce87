import { createHash } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import { AiosError, type Clock, type Logger } from '../../core/index.ts';
import type { Database } from '../../storage/index.ts';
import type { Authorizer } from './authorizer.ts';
import { DEFAULT_POLICIES } from './default-policies.ts';
import type { CompiledPolicySet } from './policy-engine.ts';
import { GovernanceError } from '../errors.ts';

/** Versions read at a time while looking for the newest that compiles. */
const LOAD_PAGE = 20;
const MAX_REMEMBERED_IDS = 1_000;

export interface PolicySetVersion {
  readonly version: number;
  readonly text: string;
  readonly hash: string;
  readonly createdAt: number;
  readonly createdBy: string | null;
  readonly comment: string | null;
  readonly policyIds: readonly string[];
}

interface Row {
  version: number;
  text: string;
  hash: string;
  created_at: number;
  created_by: string | null;
  comment: string | null;
}

/** aios_policy_sets as migration 0003 creates it; `ns` is '*': the policy set is global. */
interface PolicyTables {
  aios_policy_sets: Row & { ns: string };
}

/**
 * The policy set, as data: every version is kept, the highest that compiles is active. A new
 * version is compiled (bounded, parsed, validated against the Cedar schema, pre-parsed) before
 * it is stored, so an invalid set is refused with Cedar's messages and the active one stays.
 * Other processes pick a new version up within `refreshMs`; one that does not compile there (a
 * row written into the table by other means) is logged and passed over, and the active set
 * stays.
 */
export class PolicyStore {
  readonly #db: Kysely<PolicyTables>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #authorizer: Authorizer;
  #version = 0;
  #policyIds: readonly string[] = [];
  /** The newest version refused on refresh: it is not compiled again. */
  #refused = 0;
  /** Policy ids of versions compiled here, by hash, for listings. */
  readonly #ids = new Map<string, readonly string[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: { database: Database; clock: Clock; logger: Logger; authorizer: Authorizer }) {
    this.#db = opts.database.db as Kysely<PolicyTables>;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#authorizer = opts.authorizer;
  }

  get activeVersion(): number {
    return this.#version;
  }

  /**
   * Activates the newest version that compiles, storing the default policy set as version 1 on
   * a new database. Versions that do not compile are logged and passed over, as a running
   * process passes them over on refresh; when none compiles, this throws.
   */
  async load(): Promise<void> {
    let initial: CompiledPolicySet | undefined;
    if (!(await this.#latest())) {
      initial = this.#compile(DEFAULT_POLICIES);
      await this.#insert(1, DEFAULT_POLICIES, initial.hash, 'aios-system', 'default policy set').catch(() => undefined); // another process may win
    }
    let before: number | undefined;
    for (;;) {
      let q = this.#db.selectFrom('aios_policy_sets').selectAll().orderBy('version', 'desc').limit(LOAD_PAGE);
      if (before !== undefined) q = q.where('version', '<', before);
      const rows = (await q.execute()) as Row[];
      for (const row of rows) {
        const set = initial && row.text === DEFAULT_POLICIES ? initial : this.#tryCompile(row);
        if (set) return this.#activate(row, set);
      }
      if (rows.length < LOAD_PAGE) throw new GovernanceError('AIOS_POLICY_INVALID', 'no stored version of the policy set compiles; store a valid one');
      before = Number(rows[rows.length - 1].version);
    }
  }

  /** Polls for versions written by other processes. */
  startRefresh(refreshMs: number): void {
    if (refreshMs <= 0) return;
    this.#timer = setInterval(() => {
      this.refresh().catch((e: unknown) => this.#logger.warn({ err: e }, 'could not refresh the policy set'));
    }, refreshMs);
    this.#timer.unref();
  }

  /** Activates a newer version, if one was stored and compiles. */
  async refresh(): Promise<void> {
    const row = await this.#latest();
    // Newer only: a put in this process may have activated a later version meanwhile.
    if (!row || Number(row.version) <= Math.max(this.#version, this.#refused)) return;
    const set = this.#tryCompile(row);
    if (set) this.#activate(row, set);
    else this.#refused = Number(row.version);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** The active version. */
  async current(): Promise<PolicySetVersion> {
    const row = this.#version ? ((await this.#db.selectFrom('aios_policy_sets').selectAll().where('version', '=', this.#version).executeTakeFirst()) as Row | undefined) : undefined;
    if (!row) throw new AiosError('AIOS_NOT_READY', 'no policy set is loaded yet');
    return this.#out(row);
  }

  async history(opts: { before?: number; limit: number }): Promise<PolicySetVersion[]> {
    let q = this.#db.selectFrom('aios_policy_sets').selectAll().orderBy('version', 'desc').limit(opts.limit);
    if (opts.before) q = q.where('version', '<', opts.before);
    return ((await q.execute()) as Row[]).map((r) => this.#out(r));
  }

  /**
   * Validates, stores as the next version, and activates. Throws AIOS_POLICY_INVALID or
   * AIOS_POLICY_TOO_COMPLEX, changing nothing, when the set is refused.
   */
  async put(text: string, opts: { createdBy?: string; comment?: string } = {}): Promise<PolicySetVersion> {
    const set = this.#compile(text);
    const row = await this.#db.transaction().execute(async (trx) => {
      const latest = await trx.selectFrom('aios_policy_sets').select(sql<number>`max(version)`.as('v')).executeTakeFirst();
      const version = Number(latest?.v ?? 0) + 1;
      await this.#insert(version, text, set.hash, opts.createdBy ?? null, opts.comment ?? null, trx);
      return (await trx.selectFrom('aios_policy_sets').selectAll().where('version', '=', version).executeTakeFirstOrThrow()) as Row;
    });
    if (Number(row.version) > this.#version) this.#activate(row, set);
    return this.#out(row);
  }

  async #latest(): Promise<Row | undefined> {
    return (await this.#db.selectFrom('aios_policy_sets').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst()) as Row | undefined;
  }

  async #insert(version: number, text: string, hash: string, createdBy: string | null, comment: string | null, db: Kysely<PolicyTables> = this.#db): Promise<void> {
    await db.insertInto('aios_policy_sets').values({ version, ns: '*', text, hash, created_at: this.#clock.now(), created_by: createdBy, comment }).execute();
  }

  #compile(text: string): CompiledPolicySet {
    const set = this.#authorizer.engine.compile(text);
    if (this.#ids.size >= MAX_REMEMBERED_IDS) this.#ids.delete(this.#ids.keys().next().value!);
    this.#ids.set(set.hash, set.policyIds);
    return set;
  }

  /** Compiles a stored version; logs and answers undefined when it does not compile. */
  #tryCompile(row: Row): CompiledPolicySet | undefined {
    try {
      return this.#compile(row.text);
    } catch (err) {
      const e = err as AiosError;
      this.#logger.error({ version: Number(row.version), code: e.code, detail: e.message, errors: e.errors }, 'a stored policy set version does not compile; it is passed over');
      return undefined;
    }
  }

  #activate(row: Row, set: CompiledPolicySet): void {
    this.#authorizer.activate(set);
    this.#version = Number(row.version);
    this.#policyIds = set.policyIds;
    this.#logger.info({ version: this.#version, hash: set.hash }, 'policy set active');
  }

  #out(r: Row): PolicySetVersion {
    const version = Number(r.version);
    return {
      version,
      text: r.text,
      hash: r.hash,
      createdAt: Number(r.created_at),
      createdBy: r.created_by,
      comment: r.comment,
      policyIds: version === this.#version ? this.#policyIds : this.#idsOf(r.text),
    };
  }

  #idsOf(text: string): readonly string[] {
    const hash = createHash('sha256').update(text).digest('hex');
    const known = this.#ids.get(hash);
    if (known) return known;
    try {
      return this.#compile(text).policyIds;
    } catch {
      this.#ids.set(hash, []); // a version that does not compile decides nothing
      return [];
    }
  }
}
