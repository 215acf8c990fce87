import { existsSync } from 'node:fs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { conformance, SQL_BACKENDS, sqlDatabase, type BackendName } from './support/conformance.ts';
import { PG_BASE_URL, pgAvailable, serviceAvailable } from './support/services.ts';

/**
 * The harness itself: each backend gets a database of its own and the skips named for it, the
 * databases are gone after the suite, and an unreachable service skips or, when required, fails.
 */

const seen: { backend: BackendName; location: string; dataDir: string; schema?: string }[] = [];
const titles = new Map<BackendName, { name: string; mode: string }[]>();

await conformance(
  'the harness',
  {
    backends: SQL_BACKENDS,
    factory: sqlDatabase,
    skip: [{ backend: 'postgres', reason: 'not on this one', tests: ['is skipped on postgres by name'] }],
  },
  (t) => {
    const { it } = t;
    beforeAll(({}, suite) => {
      titles.set(t.backend, suite.tasks.map((task) => ({ name: task.name, mode: task.mode })));
    });

    it('builds the fixture on a fresh database of this backend', async () => {
      const { database, fresh } = t.fixture;
      expect(database.flags.name).toBe(t.backend);
      expect((await database.db.selectFrom('aios_schema_migrations').select('version').execute()).length).toBeGreaterThan(0);
      const schema = fresh.url ? new URL(fresh.url).searchParams.get('options')?.match(/search_path=(\w+)/)?.[1] : undefined;
      seen.push({ backend: t.backend, location: database.location, dataDir: fresh.dataDir, schema });
      expect(existsSync(fresh.dataDir)).toBe(true);
    });

    it('is skipped on postgres by name', () => {
      expect(t.backend).toBe('sqlite');
    });
  },
);

// Both backends must have run for what follows to say anything.
describe.skipIf(!(await pgAvailable()))('the harness, after its suites', () => {
  afterAll(async () => {
    // Runs after the conformance suites' teardown: what they made is gone.
    expect(seen.map((s) => s.backend).sort()).toEqual([...SQL_BACKENDS].sort());
    for (const s of seen) expect(existsSync(s.dataDir), `${s.backend} data directory`).toBe(false);
    const schema = seen.find((s) => s.backend === 'postgres')?.schema;
    expect(schema).toMatch(/^aios_t_/);
    const c = new pg.Client({ connectionString: PG_BASE_URL });
    await c.connect();
    const left = await c.query('select 1 from information_schema.schemata where schema_name = $1', [schema]);
    await c.end();
    expect(left.rowCount, `schema ${schema} dropped`).toBe(0);
  });

  it('titles each backend\'s copy and names the reason of a skip in the skipped test', () => {
    expect(titles.get('sqlite')).toEqual([
      { name: 'builds the fixture on a fresh database of this backend', mode: 'run' },
      { name: 'is skipped on postgres by name', mode: 'run' },
    ]);
    expect(titles.get('postgres')).toEqual([
      { name: 'builds the fixture on a fresh database of this backend', mode: 'run' },
      { name: 'is skipped on postgres by name (skipped on postgres: not on this one)', mode: 'skip' },
    ]);
  });
});

describe('services', () => {
  it('skips a suite whose service is unreachable, and fails it when services are required', async () => {
    const required = process.env.AIOS_REQUIRE_SERVICES;
    try {
      delete process.env.AIOS_REQUIRE_SERVICES;
      expect(await serviceAvailable('Nothing', '127.0.0.1', 1)).toBe(false);
      process.env.AIOS_REQUIRE_SERVICES = '1';
      await expect(serviceAvailable('Nothing', '127.0.0.1', 1)).rejects.toThrow('Nothing is required (AIOS_REQUIRE_SERVICES=1) but 127.0.0.1:1 is unreachable');
    } finally {
      if (required === undefined) delete process.env.AIOS_REQUIRE_SERVICES;
      else process.env.AIOS_REQUIRE_SERVICES = required;
    }
  });
});
