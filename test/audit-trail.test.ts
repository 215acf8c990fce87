import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, isAiosError, ManualClock } from '../src/core/index.ts';
import {
  AuditTrail,
  checkpointHash,
  checkpointMessage,
  GENESIS_HASH,
  keyIdOf,
  loadAuditSigningKey,
  merkleRoot,
  recordHash,
  verifyAuditChain,
  type AuditInput,
  type AuditRecord,
  type AuditSigningKey,
  type AuditTables,
  type AuditTrailOptions,
} from '../src/governance/audit/index.ts';
import type { Database, Migration } from '../src/storage/index.ts';
import { migrate, MIGRATIONS } from '../src/runtime/index.ts';
import { AIOS_BIN } from './support/child.ts';
import { conformance, SQL_BACKENDS, type BackendEnv } from './support/conformance.ts';
import { until } from './support/until.ts';

/**
 * The audit trail against real SQLite and real PostgreSQL: group commit, queries, checkpoints,
 * and the acceptance check that tampering with the tables is detected and the record named.
 */

const run = promisify(execFile);
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface Chain {
  readonly database: Database;
  readonly dataDir: string;
  /** The PostgreSQL URL; undefined on SQLite. */
  readonly url?: string;
  readonly key: AuditSigningKey;
  /** Another connection to the same database. */
  reopen(): Promise<Database>;
  /** Runs at the end of the suite, before the database is closed and dropped. */
  onTeardown(fn: () => unknown): void;
}

interface Engine {
  fresh(): Promise<Chain>;
  /** A fresh database migrated by `migrations` only. */
  freshAt(migrations: readonly Migration[]): Promise<Chain>;
  /** Runs `fn` with the append-only triggers out of the way, as an attacker with DBA rights would. */
  tamper(database: Database, fn: (db: Kysely<AuditTables>) => Promise<void>): Promise<void>;
}

/** The audit trail's conformance factory: fresh databases, each with a signing key in its data directory. */
function auditEngine(env: BackendEnv): Engine {
  return {
    fresh() {
      return this.freshAt(MIGRATIONS);
    },
    async freshAt(migrations) {
      const fresh = await env.freshDatabase();
      const database = await fresh.connect({ migrations });
      const key = loadAuditSigningKey({ dataDir: fresh.dataDir, env: {} });
      return { database, dataDir: fresh.dataDir, url: fresh.url, key, reopen: () => fresh.connect({ migrations: false }), onTeardown: (fn) => env.onTeardown(fn) };
    },
    async tamper(database, fn) {
      if (env.backend === 'sqlite') {
        for (const t of ['aios_audit_log_no_update', 'aios_audit_log_no_delete', 'aios_audit_checkpoints_no_update', 'aios_audit_checkpoints_no_delete', 'aios_audit_checkpoint_chain_no_update', 'aios_audit_checkpoint_chain_no_delete']) {
          await sql.raw(`drop trigger if exists ${t}`).execute(database.db);
        }
        return fn(database.db);
      }
      // replica role skips user triggers for this session only (the superuser's way around them).
      await database.db.connection().execute(async (c) => {
        await sql`set session_replication_role = replica`.execute(c);
        try {
          await fn(c);
        } finally {
          await sql`set session_replication_role = origin`.execute(c);
        }
      });
    },
  };
}

const logger = createLogger({ level: 'silent' });

function trailOn(chain: Chain, opts: Partial<AuditTrailOptions> = {}, clock = new ManualClock()): AuditTrail {
  const trail = new AuditTrail({ database: chain.database, clock, logger, signingKey: chain.key, ...opts });
  chain.onTeardown(() => trail.close());
  return trail;
}

function entry(i: number, over: Partial<AuditInput> = {}): AuditInput {
  return {
    ns: 'plant-a',
    actor: { type: 'user', id: `u${i % 3}`, authMethod: 'api_key', keyId: `k${i % 3}` },
    action: i % 2 ? 'topics:create' : 'events:append',
    resource: `topic:t${i % 4}`,
    outcome: 'success',
    requestId: `req-${i}`,
    input: { i, payload: 'x'.repeat(i % 7) },
    ...over,
  };
}

/** A chain of `n` records and one checkpoint over them, the trail closed. */
async function chainOf(engine: Engine, n: number): Promise<{ chain: Chain; records: AuditRecord[] }> {
  const chain = await engine.fresh();
  const trail = trailOn(chain);
  const records: AuditRecord[] = [];
  for (let i = 1; i <= n; i++) records.push(await trail.record(entry(i)));
  await trail.checkpoint();
  await trail.close();
  return { chain, records };
}

/** Records are written at the ManualClock's start; measured from there, none is old enough to need a checkpoint. */
const NOW = new ManualClock().now();
const verify = (chain: Chain, pageSize?: number) => verifyAuditChain(chain.database, { publicKey: chain.key.publicKey, pageSize, now: NOW });
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [AIOS_BIN, 'audit', 'verify', ...args], { timeout: 120_000, env: { ...process.env, AIOS_DATA_DIR: '', AIOS_DATABASE_URL: '', AIOS_AUDIT_PUBLIC_KEY: '', AIOS_AUDIT_SIGNING_KEY: '', ...env } }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
const cliTarget = (chain: Chain) => (chain.url ? ['--database-url', chain.url, '--data-dir', chain.dataDir] : ['--data-dir', chain.dataDir]);

await conformance(
  'audit trail',
  {
    backends: SQL_BACKENDS,
    factory: auditEngine,
    skip: [{ backend: 'sqlite', reason: 'one writer: a second process waits for the first', tests: ['keeps one unbroken chain when two processes’ trails record at once'] }],
  },
  (t) => {
    const { it } = t;
    let engine: Engine;
    beforeAll(() => {
      engine = t.fixture;
    });

    it('numbers 200 concurrent records 1..200 without gaps, in one verified chain', async () => {
      const chain = await engine.fresh();
      const trail = trailOn(chain);
      const records = await Promise.all(Array.from({ length: 200 }, (_, i) => trail.record(entry(i))));
      const seqs = records.map((r) => r.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const bySeq = [...records].sort((a, b) => a.seq - b.seq);
      expect(bySeq[0].prevHash).toBe(GENESIS_HASH);
      for (let i = 1; i < bySeq.length; i++) expect(bySeq[i].prevHash).toBe(bySeq[i - 1].recordHash);
      // What comes back from the database is what was hashed.
      const stored = await trail.query('plant-a', { limit: 1000 });
      expect(stored).toEqual(bySeq);
      for (const r of stored) expect(recordHash(r)).toBe(r.recordHash);
      expect(stored[5].inputHash).toMatch(/^[0-9a-f]{64}$/);
      expect(stored[5].outputHash).toBeNull();
      const result = await verify(chain, 7);
      expect(result).toMatchObject({ ok: true, records: 200, checkpoints: 0, covered: 0, problems: [] });
    });

    it('refuses callers beyond the queue bound with AIOS_OVERLOADED and keeps the chain whole', async () => {
      const chain = await engine.fresh();
      const trail = trailOn(chain, { queueCapacity: 5 });
      const settled = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => trail.record(entry(i))));
      const refused = settled.filter((s) => s.status === 'rejected');
      expect(refused.length).toBeGreaterThan(0);
      for (const s of refused) expect(isAiosError((s as PromiseRejectedResult).reason, 'AIOS_OVERLOADED')).toBe(true);
      await trail.close();
      expect(await verify(chain)).toMatchObject({ ok: true, records: settled.length - refused.length });
      await expect(trail.record(entry(1))).rejects.toMatchObject({ code: 'AIOS_NOT_READY' });
    });

    it('queries by actor, action, resource, lineage, time and seq, isolating namespaces', async () => {
      const chain = await engine.fresh();
      const clock = new ManualClock(1_000_000);
      const trail = trailOn(chain, {}, clock);
      for (let i = 0; i < 12; i++) {
        clock.advance(1000);
        await trail.record(entry(i, { ns: i % 2 ? 'plant-a' : 'plant-b', lineageId: i === 4 ? 'lin-4' : null, outcome: i === 7 ? 'denied' : 'success' }));
      }
      const a = await trail.query('plant-a', { limit: 100 });
      expect(a.map((r) => r.seq)).toEqual([2, 4, 6, 8, 10, 12]);
      expect(a.every((r) => r.ns === 'plant-a')).toBe(true);
      expect((await trail.query('*', { limit: 100 })).map((r) => r.seq)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
      expect((await trail.query('plant-a', { actorId: 'u1', limit: 100 })).map((r) => r.seq)).toEqual([2, 8]);
      expect((await trail.query('plant-b', { action: 'events:append', limit: 100 })).map((r) => r.seq)).toEqual([1, 3, 5, 7, 9, 11]);
      expect((await trail.query('plant-a', { resource: 'topic:t3', limit: 100 })).map((r) => r.seq)).toEqual([4, 8, 12]);
      expect((await trail.query('plant-b', { lineageId: 'lin-4', limit: 100 })).map((r) => r.seq)).toEqual([5]);
      expect(await trail.query('plant-a', { lineageId: 'lin-4', limit: 100 })).toEqual([]);
      // time of record i (0-based) is 1_000_000 + (i + 1) * 1000; `to` is exclusive.
      expect((await trail.query('*', { from: 1_003_000, to: 1_006_000, limit: 100 })).map((r) => r.seq)).toEqual([3, 4, 5]);
      expect((await trail.query('plant-a', { after: 6, limit: 2 })).map((r) => r.seq)).toEqual([8, 10]);
      expect((await trail.query('plant-a', { actorId: 'u1', limit: 100 }))[1]).toMatchObject({ seq: 8, outcome: 'denied', time: 1_008_000, actor: { id: 'u1', keyId: 'k1' } });
      expect(await trail.query('nobody', { limit: 100 })).toEqual([]);
      await expect(trail.query('plant-a', { limit: 0 })).rejects.toMatchObject({ code: 'AIOS_BAD_REQUEST' });
    });

    it('exports NDJSON across pages', async () => {
      const chain = await engine.fresh();
      const trail = trailOn(chain);
      await trail.recordMany(Array.from({ length: 1500 }, (_, i) => entry(i, { ns: i < 1200 ? 'plant-a' : 'plant-b' })));
      const lines: string[] = [];
      for await (const line of trail.exportNdjson('plant-a')) lines.push(line);
      expect(lines).toHaveLength(1200);
      expect(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n'))).toBe(true);
      const parsed = lines.map((l) => JSON.parse(l) as AuditRecord);
      expect(parsed.map((r) => r.seq)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
      expect(recordHash(parsed[1100])).toBe(parsed[1100].recordHash);
      const some: string[] = [];
      for await (const line of trail.exportNdjson('plant-b', { after: 1400, limit: 30 })) some.push(line);
      expect(some.map((l) => JSON.parse(l).seq)).toEqual(Array.from({ length: 30 }, (_, i) => 1401 + i));
    });

    it('signs a checkpoint every N records, on demand, and on a timer; all verify', async () => {
      const chain = await engine.fresh();
      const trail = trailOn(chain, { checkpointEvery: 10 });
      const records: AuditRecord[] = [];
      for (let i = 0; i < 25; i++) records.push(await trail.record(entry(i)));
      const onDemand = await trail.checkpoint();
      expect(onDemand).toMatchObject({ seq: 3, treeSize: 25, keyId: chain.key.keyId, rootHash: merkleRoot(records.map((r) => r.recordHash)) });
      expect(await trail.checkpoint()).toBeNull();
      await trail.close();
      const rows = await chain.database.db.selectFrom('aios_audit_checkpoint_chain').selectAll().orderBy('seq').execute();
      expect(rows.map((r) => [Number(r.seq), Number(r.tree_size)])).toEqual([[1, 10], [2, 20], [3, 25]]);
      expect(rows[0].root_hash).toBe(merkleRoot(records.slice(0, 10).map((r) => r.recordHash)));
      // Each checkpoint signs the hash of the one before.
      expect(rows[0].prev_hash).toBe(GENESIS_HASH);
      expect(rows[1].prev_hash).toBe(rows[0].hash);
      expect(rows[2].prev_hash).toBe(rows[1].hash);
      expect(await verify(chain)).toEqual({ ok: true, records: 25, checkpoints: 3, unchainedCheckpoints: 0, covered: 25, witnessed: 0, problems: [] });

      // A second writer (say, after a restart) starts a fresh Merkle frontier and reads the log.
      const timed = trailOn(chain, { checkpointIntervalMs: 30 });
      timed.start();
      await timed.recordMany([entry(90), entry(91), entry(92)]);
      await until(async () => (await timed.latestCheckpoint())?.treeSize === 28, 'the timed checkpoint over 28 records');
      expect((await timed.latestCheckpoint())?.treeSize).toBe(28);
      await timed.close();
      expect(await verify(chain)).toMatchObject({ ok: true, records: 28, checkpoints: 4 });
    });

    it('verifies while a writer keeps appending', async () => {
      const chain = await engine.fresh();
      const trail = trailOn(chain, { checkpointEvery: 25 });
      let done = false;
      const writing = (async () => {
        for (let w = 0; w < 30; w++) await Promise.all(Array.from({ length: 10 }, (_, i) => trail.record(entry(w * 10 + i))));
        done = true;
      })();
      const results = [];
      while (!done) {
        results.push(await verifyAuditChain(chain.database, { publicKey: chain.key.publicKey, pageSize: 16, now: NOW }));
        // better-sqlite3 answers synchronously; let the writer's queue run between verifications.
        await new Promise((r) => setImmediate(r));
      }
      // Some verification saw a log that was still growing.
      expect(results.some((r) => r.records > 0 && r.records < 300)).toBe(true);
      await writing;
      for (const r of results) expect(r).toMatchObject({ ok: true, problems: [] });
      expect(await verify(chain)).toMatchObject({ ok: true, records: 300 });
    });

    it('refuses a plain UPDATE, DELETE of audit records and checkpoints', async () => {
      const { chain } = await chainOf(engine, 3);
      const db = chain.database.db;
      await expect(db.updateTable('aios_audit_log').set({ action: 'nothing' }).where('seq', '=', 2).execute()).rejects.toThrow(/append-only/);
      await expect(db.deleteFrom('aios_audit_log').where('seq', '=', 2).execute()).rejects.toThrow(/append-only/);
      await expect(db.updateTable('aios_audit_checkpoint_chain').set({ root_hash: 'x' }).execute()).rejects.toThrow(/append-only/);
      await expect(db.deleteFrom('aios_audit_checkpoint_chain').execute()).rejects.toThrow(/append-only/);
      if (t.backend === 'postgres') {
        await expect(sql`truncate aios_audit_log`.execute(db)).rejects.toThrow(/append-only/);
        await expect(sql`truncate aios_audit_checkpoint_chain`.execute(db)).rejects.toThrow(/append-only/);
      }
      expect(await verify(chain)).toMatchObject({ ok: true, records: 3, checkpoints: 1 });
    });

    describe('detects tampering and names the record', () => {
      it('an edited row', async () => {
        const { chain } = await chainOf(engine, 20);
        await engine.tamper(chain.database, (db) => db.updateTable('aios_audit_log').set({ outcome: 'failure' }).where('seq', '=', 7).execute().then(() => undefined));
        const result = await verify(chain);
        expect(result.ok).toBe(false);
        expect(result.problems).toContainEqual(expect.objectContaining({ seq: 7, kind: 'record_hash_mismatch' }));
        expect(result.problems.filter((p) => p.seq !== null).map((p) => p.seq)).toEqual([7]);

        const out = await cli(cliTarget(chain));
        expect(out.code).toBe(1);
        expect(out.out).toContain('seq 7: record_hash_mismatch');
      });

      it('a deleted row', async () => {
        const { chain } = await chainOf(engine, 20);
        await engine.tamper(chain.database, (db) => db.deleteFrom('aios_audit_log').where('seq', '=', 12).execute().then(() => undefined));
        const result = await verify(chain);
        expect(result.ok).toBe(false);
        expect(result.records).toBe(19);
        expect(result.problems).toContainEqual({ seq: 12, kind: 'missing_record', message: 'record 12 is missing' });
        expect(result.problems).toContainEqual(expect.objectContaining({ seq: 13, kind: 'broken_link' }));
        expect(result.problems).toContainEqual(expect.objectContaining({ kind: 'checkpoint_root_mismatch' }));

        const out = await cli([...cliTarget(chain), '--json']);
        expect(out.code).toBe(1);
        expect(JSON.parse(out.out.slice(0, out.out.lastIndexOf('}') + 1))).toMatchObject({ ok: false, records: 19, problems: expect.arrayContaining([expect.objectContaining({ seq: 12, kind: 'missing_record' })]) });
      });

      it('two rows swapped', async () => {
        const { chain } = await chainOf(engine, 10);
        await engine.tamper(chain.database, async (db) => {
          const [r3, r4] = await db.selectFrom('aios_audit_log').selectAll().where('seq', 'in', [3, 4]).orderBy('seq').execute();
          const { seq: _3, ...c3 } = r3;
          const { seq: _4, ...c4 } = r4;
          await db.updateTable('aios_audit_log').set(c4).where('seq', '=', 3).execute();
          await db.updateTable('aios_audit_log').set(c3).where('seq', '=', 4).execute();
        });
        const result = await verify(chain);
        expect(result.ok).toBe(false);
        expect(result.problems).toContainEqual(expect.objectContaining({ seq: 3, kind: 'record_hash_mismatch' }));
        expect(result.problems).toContainEqual(expect.objectContaining({ seq: 4, kind: 'record_hash_mismatch' }));
        expect(result.problems).toContainEqual(expect.objectContaining({ seq: 3, kind: 'broken_link' }));
      });

      it('two actions swapped', async () => {
        const { chain } = await chainOf(engine, 10);
        await engine.tamper(chain.database, async (db) => {
          await db.updateTable('aios_audit_log').set({ action: 'events:append' }).where('seq', '=', 5).execute();
          await db.updateTable('aios_audit_log').set({ action: 'topics:create' }).where('seq', '=', 6).execute();
        });
        const result = await verify(chain);
        expect(result.problems.map((p) => [p.seq, p.kind])).toEqual([
          [5, 'record_hash_mismatch'],
          [6, 'record_hash_mismatch'],
        ]);
      });

      it('a history rewritten with consistent hashes (only the signed checkpoint catches it)', async () => {
        const { chain, records } = await chainOf(engine, 10);
        await engine.tamper(chain.database, async (db) => {
          let prev = records[4].recordHash;
          for (const r of records.slice(5)) {
            const forged = { ...r, outcome: 'denied' as const, prevHash: prev };
            const hash = recordHash(forged);
            await db.updateTable('aios_audit_log').set({ outcome: forged.outcome, prev_hash: prev, record_hash: hash }).where('seq', '=', r.seq).execute();
            prev = hash;
          }
          await db.updateTable('aios_audit_head').set({ last_hash: prev }).execute();
        });
        const result = await verify(chain);
        expect(result.problems.map((p) => p.kind)).toEqual(['checkpoint_root_mismatch']);
      });

      it('a row appended behind the writer’s back, and the last row removed', async () => {
        const { chain, records } = await chainOf(engine, 5);
        await engine.tamper(chain.database, async (db) => {
          const last = records[4];
          const fake = { ...last, seq: 6, prevHash: last.recordHash, action: 'keys:create' };
          const row = await db.selectFrom('aios_audit_log').selectAll().where('seq', '=', 5).executeTakeFirstOrThrow();
          await db.insertInto('aios_audit_log').values({ ...row, seq: 6, action: fake.action, prev_hash: fake.prevHash, record_hash: recordHash(fake) }).execute();
        });
        const extra = await verify(chain);
        expect(extra.problems).toEqual([expect.objectContaining({ seq: 6, kind: 'head_mismatch' })]);

        await engine.tamper(chain.database, (db) => db.deleteFrom('aios_audit_log').where('seq', '>=', 5).execute().then(() => undefined));
        const cut = await verify(chain);
        expect(cut.problems).toContainEqual({ seq: 5, kind: 'missing_record', message: 'record 5 is missing' });
        expect(cut.problems).toContainEqual(expect.objectContaining({ seq: 5, kind: 'head_mismatch' }));
        expect(cut.problems).toContainEqual(expect.objectContaining({ kind: 'checkpoint_beyond_log' }));
      });

      it('a checkpoint signed with another key', async () => {
        const { chain } = await chainOf(engine, 8);
        const other = generateKeyPairSync('ed25519');
        await engine.tamper(chain.database, async (db) => {
          const cp = await db.selectFrom('aios_audit_checkpoint_chain').selectAll().executeTakeFirstOrThrow();
          const body = { seq: Number(cp.seq), prevHash: cp.prev_hash, treeSize: Number(cp.tree_size), rootHash: cp.root_hash, createdAt: Number(cp.created_at), keyId: keyIdOf(other.publicKey) };
          await db.deleteFrom('aios_audit_checkpoint_chain').execute();
          await db
            .insertInto('aios_audit_checkpoint_chain')
            .values({
              ...cp,
              key_id: body.keyId,
              signature: sign(null, checkpointMessage(body), other.privateKey).toString('base64'),
              hash: checkpointHash(body),
              public_key: other.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
            })
            .execute();
        });
        const result = await verify(chain);
        expect(result.ok).toBe(false);
        expect(result.problems.map((p) => p.kind)).toEqual(['checkpoint_signature_invalid']);

        const out = await cli(cliTarget(chain));
        expect(out.code).toBe(1);
        expect(out.out).toContain('checkpoint_signature_invalid');
      });

      it('a checkpoint whose root does not match the records', async () => {
        const { chain } = await chainOf(engine, 8);
        const trail = trailOn(chain);
        await trail.record(entry(100));
        // Signed with the right key and chained to checkpoint 1, over a root no record set has.
        const first = await chain.database.db.selectFrom('aios_audit_checkpoint_chain').selectAll().executeTakeFirstOrThrow();
        const body = { seq: 2, prevHash: first.hash, treeSize: 9, rootHash: 'f'.repeat(64), createdAt: 0, keyId: chain.key.keyId };
        const signature = sign(null, checkpointMessage(body), chain.key.privateKey).toString('base64');
        await chain.database.db
          .insertInto('aios_audit_checkpoint_chain')
          .values({ seq: 2, prev_hash: body.prevHash, tree_size: 9, root_hash: body.rootHash, created_at: 0, key_id: body.keyId, signature, hash: checkpointHash(body), public_key: 'n/a', consistency: '[]' })
          .execute();
        const result = await verify(chain);
        expect(result.problems).toEqual([expect.objectContaining({ seq: null, kind: 'checkpoint_root_mismatch' })]);
      });
    });

    it('opens a database made before the checkpoint chain: old checkpoints stay verified, the next start chains over every record', async () => {
      const chain = await engine.freshAt(MIGRATIONS.filter((m) => m.version < 11));
      const clock = new ManualClock();
      // The trail of that time wrote records and unchained checkpoints; records as then, the checkpoint signed as then.
      const old = new AuditTrail({ database: chain.database, clock, logger, signingKey: chain.key, checkpointEvery: 1000 });
      const records = await old.recordMany(Array.from({ length: 12 }, (_, i) => entry(i)));
      await old.close();
      const rootHash = merkleRoot(records.slice(0, 10).map((r) => r.recordHash));
      const legacyMessage = Buffer.from(JSON.stringify({ keyId: chain.key.keyId, rootHash, treeSize: 10 }));
      await chain.database.db
        .insertInto('aios_audit_checkpoints')
        .values({ tree_size: 10, root_hash: rootHash, signature: sign(null, legacyMessage, chain.key.privateKey).toString('base64'), key_id: chain.key.keyId, public_key: 'pem', created_at: 0 })
        .execute();
      // Verified before and after the migration, as it is.
      expect(await verify(chain)).toMatchObject({ ok: true, checkpoints: 0, unchainedCheckpoints: 1, covered: 10 });
      await migrate(chain.database);
      expect(await verify(chain)).toMatchObject({ ok: true, checkpoints: 0, unchainedCheckpoints: 1, covered: 10 });

      const next = trailOn(chain, {}, clock);
      next.start();
      await next.close();
      expect(await next.latestCheckpoint()).toMatchObject({ seq: 1, prevHash: GENESIS_HASH, treeSize: 12 });
      expect(await verify(chain)).toMatchObject({ ok: true, records: 12, checkpoints: 1, unchainedCheckpoints: 1, covered: 12 });
      await engine.tamper(chain.database, (db) => db.updateTable('aios_audit_log').set({ record_hash: 'a'.repeat(64) }).where('seq', '=', 4).execute().then(() => undefined));
      const result = await verify(chain);
      expect(result.problems.filter((p) => p.kind === 'checkpoint_root_mismatch').map((p) => p.message.split(' has root')[0])).toEqual(['unchained checkpoint at tree size 10', 'checkpoint 1']);
    });

    it('passes the CLI on an intact chain, and fails without a key', async () => {
      const { chain } = await chainOf(engine, 4);
      const ok = await cli(cliTarget(chain));
      expect(ok).toEqual({ code: 0, out: 'audit chain OK: 4 records, 1 checkpoints, no witness\n' });
      if (chain.url) {
        // An auditor's own copy of the public key, with no access to the data directory.
        const pub = chain.key.publicKey.export({ type: 'spki', format: 'pem' }).toString();
        expect(await cli(['--database-url', chain.url], { AIOS_AUDIT_PUBLIC_KEY: pub })).toMatchObject({ code: 0 });
        const wrong = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
        const bad = await cli(['--database-url', chain.url], { AIOS_AUDIT_PUBLIC_KEY: wrong });
        expect(bad.code).toBe(1);
        expect(bad.out).toContain('checkpoint_signature_invalid');
      }
      const empty = mkdtempSync(join(tmpdir(), 'aios-audit-nokey-'));
      cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
      const none = await cli(chain.url ? ['--database-url', chain.url, '--data-dir', empty] : ['--data-dir', empty]);
      expect(none.code).toBe(1);
      expect(none.out).toContain('no audit public key');
    });

    it('keeps one unbroken chain when two processes’ trails record at once', async () => {
      const chain = await engine.fresh();
      const second = await chain.reopen();
      // Checkpoints every 10 records from both writers: they race for the same chain positions.
      const a = trailOn(chain, { checkpointEvery: 10 });
      const b = new AuditTrail({ database: second, clock: new ManualClock(), logger, signingKey: chain.key, checkpointEvery: 10 });
      chain.onTeardown(() => b.close());
      // Twenty small waves per writer, so that their transactions really contend for the head.
      const write = async (trail: AuditTrail, id: string) => {
        const out: AuditRecord[] = [];
        for (let w = 0; w < 20; w++) out.push(...(await Promise.all(Array.from({ length: 5 }, (_, i) => trail.record(entry(w * 5 + i, { actor: { type: 'service', id, authMethod: 'system' } }))))));
        return out;
      };
      const [ra, rb] = await Promise.all([write(a, 'writer-a'), write(b, 'writer-b')]);
      // Both sign at once over the same head: one takes the chain position, the other finds it covered or signs the next.
      for (let k = 0; k < 5; k++) {
        const rec = await a.record(entry(1000 + k, { actor: { type: 'service', id: 'writer-a', authMethod: 'system' } }));
        ra.push(rec);
        const signed = (await Promise.all([a.checkpoint(), b.checkpoint()])).filter((c) => c !== null).sort((x, y) => x.seq - y.seq);
        expect((await b.latestCheckpoint())!.treeSize).toBeGreaterThanOrEqual(rec.seq);
        if (signed.length === 2) expect(signed[1].seq).toBe(signed[0].seq + 1);
      }
      await Promise.all([a.close(), b.close()]);
      const seqs = [...ra, ...rb].map((r) => r.seq).sort((x, y) => x - y);
      expect(seqs).toEqual(Array.from({ length: 205 }, (_, i) => i + 1));
      const stored = await a.query('plant-a', { limit: 1000 });
      expect(stored.filter((r) => r.actor.id === 'writer-a').map((r) => r.seq).sort((x, y) => x - y)).toEqual(ra.map((r) => r.seq).sort((x, y) => x - y));
      expect(stored.filter((r) => r.actor.id === 'writer-b')).toHaveLength(100);
      const result = await verify(chain);
      // One unbroken chain of checkpoints (verify checks seqs and links), the last covering all.
      expect(result).toMatchObject({ ok: true, records: 205, covered: 205, problems: [] });
      expect(result.checkpoints).toBeGreaterThanOrEqual(2);
    });
  },
);
