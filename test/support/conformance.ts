import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it as vitestIt, type TestFunction } from 'vitest';
import { createDatabase, type Database, type Migration } from '../../src/storage/index.ts';
import { migrate, MIGRATIONS } from '../../src/runtime/index.ts';
import { freshPgSchema, natsAvailable, NATS_URL, pgAvailable, randomName } from './services.ts';

/**
 * One way to say "this suite runs on every backend", after Hono's `common.case.test.ts`: the
 * suite is written once against a fixture, and `conformance` runs it on each backend it names,
 * building the fixture with `factory` on a fresh database (a SQLite file, a PostgreSQL schema)
 * and, on NATS, with names no other run uses. A new backend is done when every suite written
 * with this passes on it.
 *
 * A backend whose service is unreachable is skipped with a message saying so, unless
 * AIOS_REQUIRE_SERVICES=1, when the file fails instead (see services.ts). A backend that lacks
 * what a test needs skips that test under a named reason (`skip`), printed in its title; a reason
 * naming a test that the suite does not have fails the file.
 *
 * @example
 * await conformance('secret store', {
 *   backends: ['sqlite', 'postgres'],
 *   factory: async (env) => {
 *     const database = await (await env.freshDatabase()).connect();
 *     return { store: new SecretStore({ database, clock, keyring }) };
 *   },
 *   skip: [{ backend: 'sqlite', reason: 'one writer: no row locks to race', tests: ['gives concurrent puts distinct versions'] }],
 * }, (t) => {
 *   t.it('puts and reveals a value', async () => {
 *     await t.fixture.store.put('plant-a', 'pw', 's3cret');
 *     expect(await t.fixture.store.reveal('plant-a', 'pw')).toBe('s3cret');
 *   });
 * });
 */
export async function conformance<F>(name: string, opts: ConformanceOptions<F>, body: (t: ConformanceSuite<F>) => void): Promise<void> {
  for (const backend of opts.backends) {
    const unreachable = await unreachableReason(backend);
    const whole = opts.skip?.find((s) => s.backend === backend && !s.tests);
    const skipped = unreachable ?? whole?.reason;
    const title = `${name}: ${backend}${skipped ? ` (skipped: ${skipped})` : ''}`;
    const named = new Map((opts.skip ?? []).filter((s) => s.backend === backend && s.tests).flatMap((s) => s.tests!.map((test) => [test, s.reason] as const)));
    const seen = new Set<string>();
    let fixture: { value: F } | undefined;
    let env: Env | undefined;

    const it = ((title: string, fn?: TestFunction, timeout?: number) => {
      seen.add(title);
      const reason = named.get(title);
      if (reason) return vitestIt.skip(`${title} (skipped on ${backend}: ${reason})`, fn);
      return vitestIt(title, fn, timeout);
    }) as ConformanceSuite<F>['it'];

    const suite: ConformanceSuite<F> = {
      backend,
      get fixture(): F {
        if (!fixture) throw new Error(`the ${name} fixture on ${backend} is read before it was built: read t.fixture inside a test or hook`);
        return fixture.value;
      },
      it,
    };

    describe.skipIf(!!skipped)(title, () => {
      beforeAll(async () => {
        env = new Env(backend);
        fixture = { value: await opts.factory(env) };
      });
      afterAll(async () => {
        await env?.teardown();
      });
      body(suite);
      // vitest collects a describe's body after the file has run: this is where every title is known.
      const stray = [...named.keys()].filter((test) => !seen.has(test));
      if (stray.length) throw new Error(`${name}: a skip on ${backend} names ${stray.map((s) => `"${s}"`).join(', ')}, which the suite does not have`);
    });
  }
}

export type BackendName = 'sqlite' | 'postgres' | 'nats';

/** The SQL backends: every store kept in tables runs on both. */
export const SQL_BACKENDS: readonly BackendName[] = ['sqlite', 'postgres'];

/** The fixture of a store kept in SQL tables: a migrated database, and more connections to it. */
export interface SqlFixture {
  readonly database: Database;
  readonly fresh: FreshDatabase;
  /** Another migrated connection to the same database, as another process would open. */
  connect(opts?: { poolSize?: number }): Promise<Database>;
}

/** The factory of SQL stores' suites: a fresh database, migrated; suites build their store on it. */
export async function sqlDatabase(env: BackendEnv): Promise<SqlFixture> {
  const fresh = await env.freshDatabase();
  return { database: await fresh.connect(), fresh, connect: (opts) => fresh.connect(opts) };
}

export interface ConformanceOptions<F> {
  /** The backends the suite applies to, in the order they run. */
  readonly backends: readonly BackendName[];
  /** Builds what the suite tests on one backend, once per backend, before its first test. */
  readonly factory: (env: BackendEnv) => Promise<F> | F;
  /** Tests a backend cannot pass, by reason; without `tests`, the whole backend is skipped. */
  readonly skip?: readonly ConformanceSkip[];
}

export interface ConformanceSkip {
  readonly backend: BackendName;
  /** Why, as the skipped test's title will say: "no transactions", "counted in memory". */
  readonly reason: string;
  /** Titles of the tests (as given to `t.it`) to skip; absent: all of them. */
  readonly tests?: readonly string[];
}

export interface ConformanceSuite<F> {
  /** The backend this copy of the suite runs on (known while the suite is collected). */
  readonly backend: BackendName;
  /** What the factory built; read it inside tests and hooks, not while collecting. */
  readonly fixture: F;
  /** vitest's `it`, honouring the named skips of this backend. */
  readonly it: (title: string, fn?: TestFunction, timeout?: number) => void;
}

/** What a factory gets to build its fixture on: fresh databases, the NATS URL, and teardown. */
export interface BackendEnv {
  readonly backend: BackendName;
  /** Where NATS is; set on the nats backend only. */
  readonly natsUrl?: string;
  /** A new empty database: a SQLite file on sqlite and nats (where SQL keeps the metadata), a PostgreSQL schema on postgres. Dropped at teardown. */
  freshDatabase(): Promise<FreshDatabase>;
  /** A name no other run uses (namespaces, NATS streams): `prefix` and random hex. */
  unique(prefix: string): string;
  /** Runs at teardown, last registered first, before the databases are dropped. */
  onTeardown(fn: () => unknown): void;
}

export interface FreshDatabase {
  /** A directory of its own (the SQLite file lives in it); removed at teardown. */
  readonly dataDir: string;
  /** The PostgreSQL URL (search_path set to the schema); undefined on SQLite. */
  readonly url?: string;
  /**
   * Opens one more connection, as another process would, migrated by `migrations` (all by
   * default; `false` for none). Closed at teardown if the test has not closed it.
   */
  connect(opts?: { migrations?: readonly Migration[] | false; poolSize?: number }): Promise<Database>;
}

class Env implements BackendEnv {
  readonly natsUrl: string | undefined;
  readonly #teardown: (() => unknown)[] = [];

  constructor(readonly backend: BackendName) {
    this.natsUrl = backend === 'nats' ? NATS_URL : undefined;
  }

  async freshDatabase(): Promise<FreshDatabase> {
    const dataDir = mkdtempSync(join(tmpdir(), `aios-${this.backend}-`));
    const schema = this.backend === 'postgres' ? await freshPgSchema() : undefined;
    // Registered first, run last: after every connection to them is closed.
    this.#teardown.unshift(async () => {
      await schema?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });
    return {
      dataDir,
      url: schema?.url,
      connect: async ({ migrations = MIGRATIONS, poolSize } = {}) => {
        const database = createDatabase(schema ? { url: schema.url, poolSize } : { sqliteFile: join(dataDir, 'aios.db') });
        // Closing twice is harmless (Kysely's destroy is idempotent), so a test may close its own.
        this.onTeardown(() => database.close());
        if (migrations) await migrate(database, migrations);
        return database;
      },
    };
  }

  unique(prefix: string): string {
    return randomName(prefix);
  }

  onTeardown(fn: () => unknown): void {
    this.#teardown.push(fn);
  }

  async teardown(): Promise<void> {
    const errors: unknown[] = [];
    for (const fn of this.#teardown.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length) throw new AggregateError(errors, `teardown of the ${this.backend} backend failed`);
  }
}

const probes = new Map<BackendName, Promise<string | undefined>>();

/** Why a backend cannot run here, or undefined; asked once per file (services.ts fails the file under AIOS_REQUIRE_SERVICES=1). */
function unreachableReason(backend: BackendName): Promise<string | undefined> {
  let p = probes.get(backend);
  if (!p) {
    p = backend === 'sqlite' ? Promise.resolve(undefined) : (backend === 'postgres' ? pgAvailable() : natsAvailable()).then((up) => (up ? undefined : `${backend === 'postgres' ? 'PostgreSQL at 127.0.0.1:5432' : 'NATS at 127.0.0.1:4222'} is unreachable`));
    probes.set(backend, p);
  }
  return p;
}
