import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Whether a service the tests need is reachable. When it is not, the suite is skipped with a
 * message, unless AIOS_REQUIRE_SERVICES=1 (as in CI), in which case it fails.
 */
export async function serviceAvailable(name: string, host: string, port: number): Promise<boolean> {
  const up = await new Promise<boolean>((resolve) => {
    const s = connect({ host, port });
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(1000, () => done(false));
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
  if (!up) {
    if (process.env.AIOS_REQUIRE_SERVICES === '1') {
      throw new Error(`${name} is required (AIOS_REQUIRE_SERVICES=1) but ${host}:${port} is unreachable`);
    }
    console.warn(`skipping ${name} tests: ${host}:${port} is unreachable (set AIOS_REQUIRE_SERVICES=1 to fail instead)`);
  }
  return up;
}

export const PG_BASE_URL = process.env.AIOS_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
export const NATS_URL = process.env.AIOS_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';

export const pgAvailable = () => serviceAvailable('PostgreSQL', '127.0.0.1', 5432);
export const natsAvailable = () => serviceAvailable('NATS', '127.0.0.1', 4222);

export function randomName(prefix: string): string {
  return `${prefix}${randomBytes(5).toString('hex')}`;
}

/** A fresh PostgreSQL schema for one test file; its URL sets search_path to it. */
export async function freshPgSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const schema = randomName('aios_t_');
  const admin = new pg.Client({ connectionString: PG_BASE_URL });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const sep = PG_BASE_URL.includes('?') ? '&' : '?';
  return {
    url: `${PG_BASE_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async drop() {
      const c = new pg.Client({ connectionString: PG_BASE_URL });
      await c.connect();
      await c.query(`drop schema if exists ${schema} cascade`);
      await c.end();
    },
  };
}
