import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase } from '../src/storage/index.ts';
import { PROCESS_START_TIMEOUT_MS, freePort, portAnswers, processExists, processTree, startAiosProcess } from './support/child.ts';
import { until } from './support/until.ts';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'aios-life-'));
  dirs.push(d);
  return d;
};

/** `npm start` in the checkout, in a process group of its own (as a terminal would start it). */
function startNpm(port: number, dataDir: string) {
  const child = spawn('npm', ['start'], { env: { ...process.env, AIOS_PORT: String(port), AIOS_DATA_DIR: dataDir, AIOS_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const output: string[] = [];
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { child, output, exited };
}

/** Ends whatever is left of a test's process group. */
function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already gone
  }
}

describe('the aios process', () => {
  it('`npm start` answers /healthz with nothing else to start, and writes the first admin key to a 0600 file', async () => {
    const port = await freePort();
    const dataDir = tempDir();
    const npm = startNpm(port, dataDir);
    try {
      const health = await until(() => fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.json(), () => undefined), '`npm start` to answer /healthz', PROCESS_START_TIMEOUT_MS, 50);
      expect(health).toEqual({ status: 'ok' });
      const keyFile = join(dataDir, 'admin.key');
      await until(() => npm.output.join('').includes('admin API key'), 'the first start to name the admin key file', PROCESS_START_TIMEOUT_MS);
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const key = readFileSync(keyFile, 'utf8').trim();
      const who = await fetch(`http://127.0.0.1:${port}/api/v1/auth/whoami`, { headers: { authorization: `Bearer ${key}` } });
      expect((await who.json()).principal).toMatchObject({ id: 'admin', namespace: '*', roles: ['admin'] });
      expect(npm.output.join('')).toContain(keyFile);
      expect(npm.output.join('')).not.toContain(key);
    } finally {
      killGroup(npm.child.pid!);
    }
  }, 2 * PROCESS_START_TIMEOUT_MS);

  // A shell stands between npm and node; a signal to npm alone (a service manager, `kill <pid>`)
  // must still reach AIOS, as Ctrl-C reaches the whole foreground process group.
  const stops = [
    { signal: 'SIGTERM', group: false, what: 'SIGTERM to the process `npm start` started' },
    { signal: 'SIGINT', group: false, what: 'SIGINT to the process `npm start` started' },
    // As Ctrl-C: the terminal signals every process of the group, and npm forwards its own SIGINT too.
    { signal: 'SIGINT', group: true, what: 'SIGINT to the process group of `npm start` (Ctrl-C)' },
  ] as const;
  for (const { signal, group, what } of stops) {
    it(`${what} stops AIOS, drained: the port closes and no process is left`, async () => {
      const port = await freePort();
      const npm = startNpm(port, tempDir());
      try {
        await until(() => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false), '`npm start` to be ready', PROCESS_START_TIMEOUT_MS, 50);
        const tree = processTree(npm.child.pid!);
        expect(tree.length, 'npm and the AIOS it started').toBeGreaterThanOrEqual(2);
        process.kill(group ? -npm.child.pid! : npm.child.pid!, signal);
        await until(async () => !(await portAnswers(port)), `port ${port} to close`, PROCESS_START_TIMEOUT_MS);
        await until(() => tree.every((pid) => !processExists(pid)), `every process of the tree ${tree.join(', ')} to end`, PROCESS_START_TIMEOUT_MS);
        expect(await npm.exited, npm.output.join('')).toBe(0);
        expect(npm.output.join('')).toContain(`"signal":"${signal}"`);
        expect(npm.output.join('')).toContain('AIOS stopped');
      } finally {
        killGroup(npm.child.pid!);
      }
    }, 3 * PROCESS_START_TIMEOUT_MS);
  }

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
    // Signalled once the first append is acknowledged, so that the others are still in flight or queued.
    await until(() => acked.length > 0, 'the first append to be acknowledged', 60_000);
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
  }, 2 * PROCESS_START_TIMEOUT_MS);

  it('refuses to start against a newer schema and says why', async () => {
    const dataDir = tempDir();
    const first = await startAiosProcess(['--data-dir', dataDir]);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    const db = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    await db.db.insertInto('aios_schema_migrations').values({ version: 9999, name: 'future', applied_at: 0 }).execute();
    await db.close();
    await expect(startAiosProcess(['--data-dir', dataDir])).rejects.toThrow(/AIOS_STORAGE_SCHEMA_NEWER.*schema version 9999/s);
  }, 3 * PROCESS_START_TIMEOUT_MS);
});
