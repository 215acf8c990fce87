import { sql, type Kysely } from 'kysely';
import { AiosError, type Clock, type Logger } from '../../core/index.ts';
import type { Database } from '../../storage/index.ts';
import type { Authorizer } from './authorizer.ts';
import { DEFAULT_POLICIES } from './default-policies.ts';

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

/**
 * The policy set, as data: every version is kept, the highest is active. A new version is
 * compiled (parsed, validated against the Cedar schema, pre-parsed) before it is stored, so an
 * invalid set is refused with Cedar's messages and the active one stays. Other processes pick a
 * new version up within `refreshMs`.
 */
export class PolicyStore {
  readonly #db: Kysely<any>;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #authorizer: Authorizer;
  #version = 0;
  #policyIds: readonly string[] = [];
  #timer: NodeJS.Timeout | undefined;

  constructor(opts: { database: Database; clock: Clock; logger: Logger; authorizer: Authorizer }) {
    this.#db = opts.database.db;
    this.#clock = opts.clock;
    this.#logger = opts.logger;
    this.#authorizer = opts.authorizer;
  }

  get activeVersion(): number {
    return this.#version;
  }

  /** Loads the newest version, storing the default policy set as version 1 on a new database. */
  async load(): Promise<void> {
    let row = await this.#latest();
    if (!row) {
      await this.#insert(1, DEFAULT_POLICIES, 'aios-system', 'default policy set').catch(() => undefined); // another process may win
      row = (await this.#latest())!;
    }
    this.#activate(row);
  }

  /** Polls for versions written by other processes. */
  startRefresh(refreshMs: number): void {
    if (refreshMs <= 0) return;
    this.#timer = setInterval(() => {
      this.refresh().catch((e: unknown) => this.#logger.warn({ err: e }, 'could not refresh the policy set'));
    }, refreshMs);
    this.#timer.unref();
  }

  async refresh(): Promise<void> {
    const row = await this.#latest();
    if (row && Number(row.version) !== this.#version) this.#activate(row);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async current(): Promise<PolicySetVersion> {
    const row = await this.#latest();
    if (!row) throw new AiosError('AIOS_NOT_READY', 'no policy set is loaded yet');
    return this.#out(row);
  }

  async history(opts: { before?: number; limit: number }): Promise<PolicySetVersion[]> {
    let q = this.#db.selectFrom('aios_policy_sets').selectAll().orderBy('version', 'desc').limit(opts.limit);
    if (opts.before) q = q.where('version', '<', opts.before);
    return ((await q.execute()) as Row[]).map((r) => this.#out(r));
  }

  /** Validates, stores as the next version, and activates. Throws AIOS_POLICY_INVALID, changing nothing, when invalid. */
  async put(text: string, opts: { createdBy?: string; comment?: string } = {}): Promise<PolicySetVersion> {
    this.#authorizer.engine.compile(text);
    const row = await this.#db.transaction().execute(async (trx) => {
      const latest = await trx.selectFrom('aios_policy_sets').select(sql<number>`max(version)`.as('v')).executeTakeFirst();
      const version = Number(latest?.v ?? 0) + 1;
      await this.#insert(version, text, opts.createdBy ?? null, opts.comment ?? null, trx);
      return (await trx.selectFrom('aios_policy_sets').selectAll().where('version', '=', version).executeTakeFirstOrThrow()) as Row;
    });
    this.#activate(row);
    return this.#out(row);
  }

  async #latest(): Promise<Row | undefined> {
    return (await this.#db.selectFrom('aios_policy_sets').selectAll().orderBy('version', 'desc').limit(1).executeTakeFirst()) as Row | undefined;
  }

  async #insert(version: number, text: string, createdBy: string | null, comment: string | null, db: Kysely<any> = this.#db): Promise<void> {
    const { hash } = this.#authorizer.engine.compile(text);
    await db.insertInto('aios_policy_sets').values({ version, ns: '*', text, hash, created_at: this.#clock.now(), created_by: createdBy, comment }).execute();
  }

  #activate(row: Row): void {
    const set = this.#authorizer.engine.compile(row.text);
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
      policyIds: version === this.#version ? this.#policyIds : this.#authorizer.engine.compile(r.text).policyIds,
    };
  }
}
