import { chmodSync, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAios, type Aios } from '../src/index.ts';
import { createLogger } from '../src/core/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { useTempDirs } from './support/temp-dirs.ts';

/*
 * The data directory holds the database and key material: AIOS creates it 0700 and every file in
 * it 0600, whatever the umask (tested with a permissive 0022). An existing directory is the
 * operator's: left as it is, with a warning when others may enter it.
 */

const tmp = useTempDirs();
const pgUp = await pgAvailable();
let umask: number;
beforeAll(() => {
  umask = process.umask(0o022);
});
afterAll(() => {
  process.umask(umask);
});

const mode = (path: string) => `0${(statSync(path).mode & 0o777).toString(8)}`;

/** Every file under `dir` with its mode, and every directory with its own. */
function modes(dir: string): Record<string, string> {
  const out: Record<string, string> = { '.': mode(dir) };
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(e.parentPath, e.name);
    out[path.slice(dir.length + 1)] = mode(path);
  }
  return out;
}

async function startIn(dataDir: string, config: Record<string, string | number> = {}): Promise<{ aios: Aios; logs: string[] }> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const aios = await createAios({ config: { dataDir, retentionIntervalMs: 0, workflowConcurrency: 0, scheduler: 0, ...config }, env: {}, logger: createLogger({ destination }) });
  await aios.start();
  // Writes that touch the database's WAL and create the secrets' master key.
  await aios.events.createTopic('default', { name: 'plant' });
  await aios.events.append('default', 'plant', [{ data: { v: 1 } }]);
  await aios.governance.secrets.put('default', 'historian', 'hunter2');
  return { aios, logs };
}

function expectPrivate(dataDir: string, expectedFiles: readonly string[]): void {
  const found = modes(dataDir);
  expect(Object.keys(found)).toEqual(expect.arrayContaining([...expectedFiles]));
  expect(found['.'], 'the data directory').toBe('0700');
  const open = Object.entries(found).filter(([name, m]) => name !== '.' && m !== '0600');
  expect(open, 'files in the data directory that are not 0600').toEqual([]);
}

describe('data directory and file modes', () => {
  it('a new data directory is 0700 and every file AIOS puts in it 0600, the database, its WAL and shared memory included', async () => {
    const dataDir = join(tmp('aios-modes-'), 'nested', 'data');
    const { aios } = await startIn(dataDir);
    try {
      expectPrivate(dataDir, ['aios.db', 'aios.db-wal', 'aios.db-shm', 'admin.key', 'master.key', 'audit-signing.key']);
    } finally {
      await aios.stop();
    }
    expectPrivate(dataDir, ['aios.db', 'admin.key']);
  });

  it('an existing database and key files with looser modes are brought to 0600, WAL and shared memory too', async () => {
    const dataDir = join(tmp('aios-modes-'), 'data');
    const first = await startIn(dataDir);
    await first.aios.stop();
    for (const f of readdirSync(dataDir)) chmodSync(join(dataDir, f), 0o644);
    const second = await startIn(dataDir);
    try {
      expect(existsSync(join(dataDir, 'aios.db-wal'))).toBe(true);
      expectPrivate(dataDir, ['aios.db', 'aios.db-wal', 'aios.db-shm']);
    } finally {
      await second.aios.stop();
    }
  });

  it('an existing data directory others may enter is left as it is, with a warning; the files in it are still 0600', async () => {
    const dataDir = tmp('aios-modes-');
    chmodSync(dataDir, 0o755);
    const { aios, logs } = await startIn(dataDir);
    try {
      expect(mode(dataDir)).toBe('0755');
      const warning = logs.map((l) => JSON.parse(l) as { level: number; msg: string; mode?: string }).find((l) => l.msg.startsWith('the data directory is open to other users'));
      expect(warning, logs.join('')).toMatchObject({ level: 40, mode: '0755' });
      const files = Object.entries(modes(dataDir)).filter(([name]) => name !== '.');
      expect(files.length).toBeGreaterThanOrEqual(4);
      expect(files.filter(([, m]) => m !== '0600')).toEqual([]);
    } finally {
      await aios.stop();
    }
  });

  it.skipIf(!pgUp)('on PostgreSQL, the data directory for the key files is 0700 and the files 0600', async () => {
    const schema = await freshPgSchema();
    const dataDir = join(tmp('aios-modes-'), 'data');
    const { aios } = await startIn(dataDir, { databaseUrl: schema.url });
    try {
      expectPrivate(dataDir, ['admin.key', 'master.key', 'audit-signing.key']);
    } finally {
      await aios.stop();
      await schema.drop();
    }
  });
});
