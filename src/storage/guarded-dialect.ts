import type { CompiledQuery, DatabaseConnection, Dialect, Driver, QueryResult, TransactionSettings } from 'kysely';
import { AiosError, NUL_MESSAGE } from '../core/index.ts';

/*
 * The last line behind the checks each API makes on what it is given: every statement either
 * engine runs through Kysely passes here. A text parameter holding a NUL character is refused on
 * both engines (PostgreSQL cannot store one; SQLite could, and would then hold what PostgreSQL
 * refuses), and the PostgreSQL errors a value alone causes (a NUL escaped in JSON, a number
 * beyond int8, a value too long for an index) become a 400 instead of a driver error. The
 * message never repeats the driver's: that can quote the value.
 */

/** SQLSTATEs of errors caused by a value the caller gave, with what to tell the caller. */
const VALUE_ERRORS: Record<string, string> = {
  '22021': `a value ${NUL_MESSAGE}`, // character_not_in_repertoire: 0x00 in text
  '22P05': `a value ${NUL_MESSAGE}`, // untranslatable_character: \u0000 in jsonb
  '22003': 'a number is beyond what the database stores (integers up to 2^63 - 1)', // numeric_value_out_of_range
  '22001': 'a value is longer than its column takes', // string_data_right_truncation
  '54000': 'a value is too long for the database to index', // program_limit_exceeded: index row size
};

function holdsNul(p: unknown): boolean {
  if (typeof p === 'string') return p.includes('\u0000');
  if (Array.isArray(p)) return p.some((x) => typeof x === 'string' && x.includes('\u0000'));
  return false;
}

/** Refuses a statement whose text parameters hold a NUL (AIOS_VALIDATION). */
export function checkParameters(query: CompiledQuery): void {
  for (const p of query.parameters) if (holdsNul(p)) throw new AiosError('AIOS_VALIDATION', `a value ${NUL_MESSAGE}`);
}

/** The error a failed statement throws: a caller's error for the SQLSTATEs a value causes, else the driver's own. */
export function translateValueError(e: unknown): unknown {
  const code = (e as { code?: unknown })?.code;
  const message = typeof code === 'string' ? VALUE_ERRORS[code] : undefined;
  return message ? new AiosError('AIOS_VALIDATION', message, { cause: e }) : e;
}

class GuardedConnection implements DatabaseConnection {
  constructor(readonly inner: DatabaseConnection) {}

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    checkParameters(query);
    try {
      return await this.inner.executeQuery<R>(query);
    } catch (e) {
      throw translateValueError(e);
    }
  }

  async *streamQuery<R>(query: CompiledQuery, chunkSize?: number): AsyncIterableIterator<QueryResult<R>> {
    checkParameters(query);
    try {
      yield* this.inner.streamQuery<R>(query, chunkSize);
    } catch (e) {
      throw translateValueError(e);
    }
  }
}

/** The driver hands its own connection objects back to itself; Kysely sees only the guarded ones. */
class GuardedDriver implements Driver {
  readonly #inner: Driver;
  readonly #wrapped = new WeakMap<DatabaseConnection, GuardedConnection>();

  constructor(inner: Driver) {
    this.#inner = inner;
    if (inner.savepoint) this.savepoint = (c, name, compile) => inner.savepoint!(unwrap(c), name, compile);
    if (inner.rollbackToSavepoint) this.rollbackToSavepoint = (c, name, compile) => inner.rollbackToSavepoint!(unwrap(c), name, compile);
    if (inner.releaseSavepoint) this.releaseSavepoint = (c, name, compile) => inner.releaseSavepoint!(unwrap(c), name, compile);
  }

  savepoint?: Driver['savepoint'];
  rollbackToSavepoint?: Driver['rollbackToSavepoint'];
  releaseSavepoint?: Driver['releaseSavepoint'];

  init(): Promise<void> {
    return this.#inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const c = await this.#inner.acquireConnection();
    let g = this.#wrapped.get(c);
    if (!g) this.#wrapped.set(c, (g = new GuardedConnection(c)));
    return g;
  }

  beginTransaction(c: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.#inner.beginTransaction(unwrap(c), settings);
  }

  commitTransaction(c: DatabaseConnection): Promise<void> {
    return this.#inner.commitTransaction(unwrap(c));
  }

  rollbackTransaction(c: DatabaseConnection): Promise<void> {
    return this.#inner.rollbackTransaction(unwrap(c));
  }

  releaseConnection(c: DatabaseConnection): Promise<void> {
    return this.#inner.releaseConnection(unwrap(c));
  }

  destroy(): Promise<void> {
    return this.#inner.destroy();
  }
}

function unwrap(c: DatabaseConnection): DatabaseConnection {
  return c instanceof GuardedConnection ? c.inner : c;
}

/**
 * A dialect whose statements refuse NUL characters in text parameters and translate the
 * PostgreSQL errors a value causes into AIOS_VALIDATION (see above).
 *
 * @example
 * const db = new Kysely<any>({ dialect: guardedDialect(new SqliteDialect({ database })) });
 */
export function guardedDialect(inner: Dialect): Dialect {
  return {
    createAdapter: () => inner.createAdapter(),
    createDriver: () => new GuardedDriver(inner.createDriver()),
    createIntrospector: (db) => inner.createIntrospector(db),
    createQueryCompiler: () => inner.createQueryCompiler(),
  };
}
