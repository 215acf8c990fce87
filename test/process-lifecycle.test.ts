import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/storage/index.ts';
import { freePort, startAiosProcess } from './support/child.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'aios-life-'));
  dirs.push(d);
  return d;
};

describe('the aios process', () => {
  it('`npm start` answers /healthz within 10 s with nothing else to start, and writes the first admin key to a 0600 file', async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const child = spawn('npm', ['start'], { env: { ...process.env, AIOS_PORT: String(port), AIOS_DATA_DIR: dataDir, AIOS_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const output: string[] = [];
    child.stdout!.on('data', (d) => output.push(String(d)));
    child.stderr!.on('data', (d) => output.push(String(d)));
    try {
      let health: unknown;
      for (let i = 0; i < 100 && health === undefined; i++) {
        await new Promise((r) => setTimeout(r, 100));
        health = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json(), () => undefined);
      }
      expect(health).toEqual({ status: 'ok' });
      const keyFile = join(dataDir, 'admin.key');
      for (let i = 0; i < 100 && !output.join('').includes('admin API key'); i++) await new Promise((r) => setTimeout(r, 100));
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8').trim();
      const who = await fetch(`http://127.0.0.1:${port}/api/v1/auth/whoami`, { headers: { authorization: `Bearer ${key}` } });
      expect((await who.json()).principal).toMatchObject({ id: 'admin', namespace: '*', roles: ['admin'] });
      expect(output.join('')).toContain(keyFile);
      expect(output.join('')).not.toContain(key);
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
    }
  }, 30_000);

  it('on SIGTERM finishes the appends in flight, keeps every acknowledged event, and exits 0', async () => {
    const dataDir = tempDir();
    const p = await startAiosProcess(['--data-dir', dataDir], { AIOS_LOG_LEVEL: 'debug' });
    await fetch(`${p.url}/api/v1/topics`, { method: 'POST', headers: { 'content-type': 'application/json', ...p.auth }, body: JSON.stringify({ name: 'drain' }) });
    const acked: string[] = [];
    const sends = Array.from({ length: 30 }, (_, i) =>
      fetch(`${p.url}/api/v1/topics/drain/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...p.auth },
        body: JSON.stringify(Array.from({ length: 500 }, (_, j) => ({ id: `r${i}-${j}`, data: { i, j } }))),
      }).then(
        async (r) => {
          if (r.status === 200) for (const a of (await r.json()).accepted) acked.push(a.id);
          return r.status;
        },
        () => 'refused',
      ),
    );
    await new Promise((r) => setTimeout(r, 30));
    p.child.kill('SIGTERM');
    const statuses = await Promise.all(sends);
    const code = await p.exited;
    expect(code, p.output.join('')).toBe(0);
    // Every connection closed by itself during the drain: none had to be cut.
    expect(p.output.join('')).not.toContain('connections still open');
    for (const s of statuses) expect([200, 503, 'refused']).toContain(s);
    expect(acked.length).toBeGreaterThan(0);
    const db = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    const rows = await db.db.selectFrom('aios_events').select('id').execute();
    await db.close();
    const stored = new Set(rows.map((r) => r.id as string));
    expect(acked.filter((id) => !stored.has(id))).toEqual([]);
  }, 30_000);

  it('refuses to start against a newer schema and says why', async () => {
    const dataDir = tempDir();
    const first = await startAiosProcess(['--data-dir', dataDir]);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const db = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    await db.db.insertInto('aios_schema_migrations').values({ version: 9999, name: 'future', applied_at: 0 }).execute();
    await db.close();
    await expect(startAiosProcess(['--data-dir', dataDir], {}, 10_000)).rejects.toThrow(/AIOS_STORAGE_SCHEMA_NEWER.*schema version 9999/s);
  }, 30_000);
});
