import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { loadAuditPublicKey, verifyAuditChain } from '../src/governance/index.ts';
import { PROCESS_START_TIMEOUT_MS, startAiosProcess, type AiosProcess } from './support/child.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { until } from './support/until.ts';

/**
 * Acknowledged means durable. A real `aios start` process ingests over HTTP from four producers
 * while the test SIGKILLs it at random moments, many times, and restarts it. Producers resend
 * every batch that was not acknowledged, with the same ids. Afterwards every acknowledged event
 * is in the log exactly once, and nothing is in it twice; the audit chain still verifies, and
 * every acknowledged append request has its audit record.
 */
const KILLS = Number(process.env.AIOS_CRASH_KILLS ?? 12);
const BATCH = 40;
const PRODUCERS = 4;
/** A liveness bound: every restart may take a loaded machine's process start. */
const TEST_TIMEOUT_MS = (KILLS + 3) * 2 * PROCESS_START_TIMEOUT_MS;

async function crashRun(startArgs: string[], env: Record<string, string>, kills: number) {
  const acked = new Set<string>();
  const ackedRequests = new Set<string>();
  let proc: AiosProcess = await startAiosProcess(startArgs, env);
  const create = await fetch(`${proc.url}/api/v1/topics`, { method: 'POST', headers: { 'content-type': 'application/json', ...proc.auth }, body: JSON.stringify({ name: 'crash', partitions: 3, keyField: 'k' }) });
  expect([200, 201]).toContain(create.status);
  let stop = false;
  let alive = true;
  const counters = Array.from({ length: PRODUCERS }, () => 0);

  const producer = async (p: number) => {
    let pending: { id: string; data: { k: string; n: number } }[] | null = null;
    while (!stop || pending) {
      if (!pending) {
        if (stop) break;
        pending = Array.from({ length: BATCH }, () => {
          const n = counters[p]++;
          return { id: `p${p}-${n}`, data: { k: `k${n % 7}`, n } };
        });
      }
      if (!alive) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      try {
        const requestId = `req-${p}-${pending[0].id}-${Math.random().toString(36).slice(2, 8)}`;
        const r = await fetch(`${proc.url}/api/v1/topics/crash/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...proc.auth }, body: JSON.stringify(pending) });
        if (r.status === 200) {
          ackedRequests.add(requestId);
          const body = (await r.json()) as { accepted: { id: string }[] };
          for (const a of body.accepted) acked.add(a.id);
          expect(body.accepted).toHaveLength(BATCH);
          pending = null;
        } else if (r.status !== 503 && r.status !== 429) {
          throw new Error(`unexpected ${r.status}: ${await r.text()}`);
        }
      } catch (e) {
        if ((e as Error).message.startsWith('unexpected')) throw e;
        // The process died mid-request: the batch is not acknowledged; resend it after restart.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };

  const producers = Array.from({ length: PRODUCERS }, (_, p) => producer(p));
  // Each life of the process acknowledges something before it is killed, however slow the machine.
  const progress = async () => {
    const before = acked.size;
    await until(() => acked.size > before, 'an append acknowledged by this process', PROCESS_START_TIMEOUT_MS);
  };
  for (let i = 0; i < kills; i++) {
    await progress();
    await new Promise((r) => setTimeout(r, Math.random() * 600));
    alive = false;
    proc.child.kill('SIGKILL');
    await proc.exited;
    proc = await startAiosProcess(startArgs, env);
    alive = true;
  }
  await progress();
  stop = true;
  await Promise.all(producers);
  const graceful = proc;
  graceful.child.kill('SIGTERM');
  expect(await graceful.exited).toBe(0);
  return { acked, ackedRequests };
}

/** The audit chain survived the kills intact, and every acknowledged append has its record. */
async function assertAudited(database: Database, dataDir: string, ackedRequests: Set<string>) {
  const v = await verifyAuditChain(database, { publicKey: loadAuditPublicKey({ dataDir, env: {} }).publicKey });
  expect(v.problems).toEqual([]);
  const rows = (await database.db.selectFrom('aios_audit_log').select(['request_id']).where('action', '=', 'events:append').execute()) as { request_id: string }[];
  const audited = new Set(rows.map((r) => r.request_id));
  expect([...ackedRequests].filter((id) => !audited.has(id))).toEqual([]);
}

function assertExactlyOnce(rows: { id: string; n: number }[], acked: Set<string>, kills: number) {
  const ids = rows.map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length); // nothing twice
  const stored = new Set(ids);
  const lost = [...acked].filter((id) => !stored.has(id));
  expect(lost).toEqual([]); // nothing acknowledged lost
  expect(acked.size).toBeGreaterThan(kills * BATCH); // a batch or more in each of the process's kills + 1 lives
}

describe('crash safety of ingestion (kill -9)', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it(`loses no acknowledged event and stores none twice on SQLite across ${KILLS} SIGKILLs`, async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'aios-crash-'));
    dirs.push(dataDir);
    const { acked, ackedRequests } = await crashRun(['--data-dir', dataDir], {}, KILLS);
    const db = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    const rows = (await db.db.selectFrom('aios_events').select(['id']).execute()) as { id: string; n: number }[];
    await assertAudited(db, dataDir, ackedRequests);
    await db.close();
    assertExactlyOnce(rows, acked, KILLS);
  }, TEST_TIMEOUT_MS);

  it('does the same on PostgreSQL', async () => {
    if (!(await pgAvailable())) return;
    const schema = await freshPgSchema();
    const dataDir = mkdtempSync(join(tmpdir(), 'aios-crash-'));
    dirs.push(dataDir);
    try {
      const kills = Math.ceil(KILLS / 2);
      const { acked, ackedRequests } = await crashRun(['--data-dir', dataDir], { AIOS_DATABASE_URL: schema.url }, kills);
      const db = createDatabase({ url: schema.url });
      const rows = (await db.db.selectFrom('aios_events').select(['id']).execute()) as { id: string; n: number }[];
      await assertAudited(db, dataDir, ackedRequests);
      await db.close();
      assertExactlyOnce(rows, acked, kills);
    } finally {
      await schema.drop();
    }
  }, TEST_TIMEOUT_MS);
});
