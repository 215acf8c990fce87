import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.ts';
import { InfoError } from './errors.ts';

/** One start of an AIOS process. */
export interface InstanceStart {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
}

interface Tables {
  aios_info_instance_starts: { instance_id: string; name: string; version: string; started_at: number | string };
}

const toStart = (r: Tables['aios_info_instance_starts']): InstanceStart => ({ id: r.instance_id, name: r.name, version: r.version, startedAt: Number(r.started_at) });

/** The starts of AIOS processes on one database: written once per start, read by `GET /api/v1/info`. */
export class InstanceStarts {
  readonly #db: Kysely<Tables>;

  constructor(database: Database) {
    this.#db = database.db as unknown as Kysely<Tables>;
  }

  async record(start: InstanceStart): Promise<void> {
    await this.#db.insertInto('aios_info_instance_starts').values({ instance_id: start.id, name: start.name, version: start.version, started_at: start.startedAt }).execute();
  }

  /** The latest starts, newest first. */
  async latest(limit: number): Promise<InstanceStart[]> {
    const rows = await this.#db.selectFrom('aios_info_instance_starts').selectAll().orderBy('started_at', 'desc').orderBy('instance_id', 'desc').limit(limit).execute();
    return rows.map(toStart);
  }

  /** One start; AIOS_INFO_INSTANCE_NOT_FOUND when no instance of this id started here. */
  async get(id: string): Promise<InstanceStart> {
    const row = await this.#db.selectFrom('aios_info_instance_starts').selectAll().where('instance_id', '=', id).executeTakeFirst();
    if (!row) throw new InfoError('AIOS_INFO_INSTANCE_NOT_FOUND', `no AIOS instance ${id} has started on this database`);
    return toStart(row);
  }
}
