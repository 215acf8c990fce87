import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sql, type Kysely } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, ManualClock } from '../src/core/index.ts';
import {
  AuditTrail,
  checkpointHash,
  checkpointMessage,
  fileWitness,
  keyIdOf,
  loadAuditSigningKey,
  parseWitness,
  recordHash,
  verifyAuditChain,
  WitnessPublisher,
  type AuditProblemKind,
  type AuditRecord,
  type AuditSigningKey,
  type AuditTables,
  type AuditVerification,
} from '../src/governance/audit/index.ts';
import type { Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { AIOS_BIN } from './support/child.ts';
import { conformance, SQL_BACKENDS, type BackendEnv } from './support/conformance.ts';

/**
 * The tamper matrix of the README ("What `verify` detects"), applied for real: a trail written
 * through AuditTrail (checkpoints every 10 records, a witness file, a clean shutdown), then
 * changed with the append-only triggers out of the way, as an owner of the database would. The
 * README table is read here, so that each claim, detected or not, with and without a witness, is
 * checked both ways and the table cannot drift from what verify does.
 */

const run = promisify(execFile);
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});
const logger = createLogger({ level: 'silent' });

const RECORDS = 65;
const EVERY = 10;
const T0 = Date.UTC(2026, 0, 1);
/** Verification an hour after the trail was written: far past the cover window. */
const LATER = T0 + RECORDS * 1000 + 3_600_000;
const COVER_WITHIN_MS = 120_000;

// ---- the README's table -----------------------------------------------------------------------

interface Claim {
  readonly detected: boolean;
  readonly kinds: readonly AuditProblemKind[];
}

function readTable(): Map<string, { without: Claim; with: Claim }> {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const header = '| id | change to the database | without a witness | with `--witness` |';
  const at = readme.indexOf(header);
  if (at < 0) throw new Error('the README has no tamper table');
  const rows = new Map<string, { without: Claim; with: Claim }>();
  for (const line of readme.slice(at).split('\n').slice(2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const claim = (cell: string): Claim => {
      if (!/^(detected|not detected)\b/.test(cell)) throw new Error(`a tamper table cell says neither "detected" nor "not detected": ${cell}`);
      return { detected: cell.startsWith('detected'), kinds: [...cell.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as AuditProblemKind) };
    };
    rows.set(cells[0].replace(/`/g, ''), { without: claim(cells[2]), with: claim(cells[3]) });
  }
  return rows;
}

// ---- engines ----------------------------------------------------------------------------------

interface Built {
  readonly database: Database;
  readonly dataDir: string;
  readonly url?: string;
  readonly key: AuditSigningKey;
  readonly witnessFile: string;
  /** Runs at the end of the suite, before the database is closed. */
  onTeardown(fn: () => unknown): void;
  /** The records as written. */
  readonly records: AuditRecord[];
}

interface Engine {
  open(): Promise<{ database: Database; dataDir: string; url?: string; onTeardown(fn: () => unknown): void }>;
  /** Runs `fn` with the append-only triggers out of the way. */
  tamper(database: Database, fn: (db: Kysely<AuditTables>) => Promise<void>): Promise<void>;
}

/** The conformance factory: a fresh database per build, unmigrated; its triggers dropped the way each engine allows. */
function tamperEngine(env: BackendEnv): Engine {
  return {
    async open() {
      const fresh = await env.freshDatabase();
      const database = await fresh.connect({ migrations: false });
      return { database, dataDir: fresh.dataDir, url: fresh.url, onTeardown: (fn) => env.onTeardown(fn) };
    },
    async tamper(database, fn) {
      if (env.backend === 'sqlite') {
        for (const t of ['aios_audit_log', 'aios_audit_checkpoints', 'aios_audit_checkpoint_chain']) {
          for (const op of ['update', 'delete']) await sql.raw(`drop trigger if exists ${t}_no_${op}`).execute(database.db);
        }
        return fn(database.db);
      }
      await database.db.connection().execute(async (c) => {
        await sql`drop trigger if exists aios_audit_log_append_only on aios_audit_log`.execute(c);
        await sql`drop trigger if exists aios_audit_checkpoint_chain_append_only on aios_audit_checkpoint_chain`.execute(c);
        await sql`drop trigger if exists aios_audit_checkpoints_append_only on aios_audit_checkpoints`.execute(c);
        await fn(c);
      });
    },
  };
}

function trailOn(b: Pick<Built, 'database' | 'key' | 'witnessFile' | 'onTeardown'>, clock: ManualClock): AuditTrail {
  const witness = new WitnessPublisher({ sinks: [fileWitness(b.witnessFile)], logger, retryBaseMs: 10 });
  const trail = new AuditTrail({ database: b.database, clock, logger, signingKey: b.key, checkpointEvery: EVERY, witness });
  b.onTeardown(() => trail.close());
  return trail;
}

/** 65 records (every 7th a denial), a checkpoint every 10, a clean shutdown; the witness outside the data directory. */
async function build(engine: Engine): Promise<Built> {
  const { database, dataDir, url, onTeardown } = await engine.open();
  await migrate(database);
  const witnessDir = mkdtempSync(join(tmpdir(), 'aios-witness-'));
  cleanups.push(() => rmSync(witnessDir, { recursive: true, force: true }));
  const key = loadAuditSigningKey({ dataDir, env: {} });
  const built = { database, dataDir, url, key, witnessFile: join(witnessDir, 'audit.ndjson'), onTeardown };
  const clock = new ManualClock(T0);
  const trail = trailOn(built, clock);
  const records: AuditRecord[] = [];
  for (let i = 1; i <= RECORDS; i++) {
    clock.advance(1000);
    const denied = i % 7 === 0;
    records.push(
      await trail.record({
        ns: 'plant-a',
        actor: { type: 'user', id: `u${i % 3}`, authMethod: 'api_key', keyId: `k${i % 3}` },
        action: denied ? 'keys:create' : 'events:append',
        resource: `topic:t${i % 4}`,
        outcome: denied ? 'denied' : 'success',
        error: denied ? 'AIOS_FORBIDDEN' : null,
        requestId: `req-${i}`,
        input: { i },
      }),
    );
  }
  await trail.close();
  return { ...built, records };
}

const verify = (b: Built, witness: boolean, now = LATER): Promise<AuditVerification> =>
  verifyAuditChain(b.database, {
    publicKey: b.key.publicKey,
    witness: witness ? parseWitness(readFileSync(b.witnessFile, 'utf8')) : undefined,
    now,
    coverWithinMs: COVER_WITHIN_MS,
  });

// ---- the changes ------------------------------------------------------------------------------

interface LogRow {
  seq: number;
  time: number;
  ns: string;
  actor_type: string;
  actor_id: string;
  auth_method: string;
  key_id: string | null;
  action: string;
  resource: string;
  outcome: string;
  error: string | null;
  request_id: string | null;
  trace_id: string | null;
  lineage_id: string | null;
  input_hash: string | null;
  output_hash: string | null;
  decision: string | null;
  prev_hash: string;
  record_hash: string;
}

/** The hash a row's content has, as the trail computes it. */
function hashOf(r: LogRow): string {
  const record = {
    seq: Number(r.seq),
    time: Number(r.time),
    ns: r.ns,
    actor: { type: r.actor_type, id: r.actor_id, authMethod: r.auth_method, keyId: r.key_id },
    action: r.action,
    resource: r.resource,
    outcome: r.outcome,
    error: r.error,
    requestId: r.request_id,
    traceId: r.trace_id,
    lineageId: r.lineage_id,
    inputHash: r.input_hash,
    outputHash: r.output_hash,
    decision: r.decision === null ? null : JSON.parse(r.decision),
    prevHash: r.prev_hash,
  } as unknown as AuditRecord;
  return recordHash(record);
}

/** Recomputes prev_hash and record_hash from `from` to the end, and moves the head: a rewrite that hides itself. */
async function rechain(db: Kysely<AuditTables>, from: number): Promise<void> {
  const rows = (await db.selectFrom('aios_audit_log').selectAll().where('seq', '>=', from - 1).orderBy('seq').execute()) as LogRow[];
  let prev = Number(rows[0].seq) === from - 1 ? rows.shift()!.record_hash : '0'.repeat(64);
  for (const r of rows) {
    const fixed = { ...r, prev_hash: prev };
    const hash = hashOf(fixed);
    await db.updateTable('aios_audit_log').set({ prev_hash: prev, record_hash: hash }).where('seq', '=', r.seq).execute();
    prev = hash;
  }
  const last = await db.selectFrom('aios_audit_log').select(['seq', 'record_hash']).orderBy('seq', 'desc').limit(1).executeTakeFirstOrThrow();
  await db.updateTable('aios_audit_head').set({ last_seq: last.seq, last_hash: last.record_hash }).execute();
}

const deleteCheckpointsFrom = (db: Kysely<AuditTables>, seq: number) => db.deleteFrom('aios_audit_checkpoint_chain').where('seq', '>=', seq).execute();
const finalCheckpointSeq = Math.floor(RECORDS / EVERY) + 1; // 7: six every 10 records, then the final one at shutdown
const beforeFinal = Math.floor(RECORDS / EVERY) * EVERY; // 60: the tree size of the checkpoint before the final one

async function editTail(db: Kysely<AuditTables>, recent?: number): Promise<void> {
  await deleteCheckpointsFrom(db, finalCheckpointSeq);
  await db.updateTable('aios_audit_log').set({ outcome: 'success', error: null }).where('seq', '=', 63).execute();
  if (recent !== undefined) await db.updateTable('aios_audit_log').set({ time: recent }).where('seq', '>', beforeFinal).execute();
  await rechain(db, recent === undefined ? 63 : beforeFinal + 1);
}

async function forgeOutcome(db: Kysely<AuditTables>): Promise<void> {
  await db.deleteFrom('aios_audit_checkpoint_chain').execute();
  // Record 14 is a denial of u2; it becomes a success by u0.
  await db.updateTable('aios_audit_log').set({ outcome: 'success', error: null, actor_id: 'u0', key_id: 'k0' }).where('seq', '=', 14).execute();
  await rechain(db, 14);
}

/** Every row of the README table: what the owner of the database does. */
const CHANGES: Record<string, (b: Built, db: Kysely<AuditTables>) => Promise<void>> = {
  'edit-record': async (_b, db) => {
    await db.updateTable('aios_audit_log').set({ outcome: 'failure' }).where('seq', '=', 33).execute();
  },
  'rewrite-records': async (_b, db) => {
    await db.updateTable('aios_audit_log').set({ resource: 'topic:other' }).where('seq', '>=', 30).execute();
    await rechain(db, 30);
  },
  'delete-last-checkpoint': async (_b, db) => {
    await deleteCheckpointsFrom(db, finalCheckpointSeq);
  },
  'delete-middle-checkpoint': async (_b, db) => {
    await db.deleteFrom('aios_audit_checkpoint_chain').where('seq', '=', 3).execute();
  },
  'delete-all-checkpoints': async (_b, db) => {
    await db.deleteFrom('aios_audit_checkpoint_chain').execute();
  },
  'delete-last-record': async (_b, db) => {
    await db.deleteFrom('aios_audit_log').where('seq', '=', RECORDS).execute();
    await rechain(db, RECORDS);
  },
  'truncate-to-checkpoint': async (_b, db) => {
    await db.deleteFrom('aios_audit_log').where('seq', '>', 50).execute();
    await deleteCheckpointsFrom(db, 6);
    await rechain(db, 51);
  },
  'forge-outcome': async (_b, db) => forgeOutcome(db),
  // The restart happens after the change, through AuditTrail: see `afterChange`.
  'forge-then-restart': async (_b, db) => forgeOutcome(db),
  'edit-tail': async (_b, db) => editTail(db),
  'renumber-tail': async (_b, db) => {
    await deleteCheckpointsFrom(db, finalCheckpointSeq);
    await db.deleteFrom('aios_audit_log').where('seq', '=', 62).execute();
    for (let s = 63; s <= RECORDS; s++) await db.updateTable('aios_audit_log').set({ seq: s - 1 }).where('seq', '=', s).execute();
    await rechain(db, 62);
  },
  'edit-tail-recent': async (_b, db) => editTail(db, LATER),
  'resign-checkpoints': async (_b, db) => {
    const other = generateKeyPairSync('ed25519');
    const keyId = keyIdOf(other.publicKey);
    const rows = await db.selectFrom('aios_audit_checkpoint_chain').selectAll().orderBy('seq').execute();
    await db.deleteFrom('aios_audit_checkpoint_chain').execute();
    let prevHash = '0'.repeat(64);
    for (const r of rows) {
      const body = { seq: Number(r.seq), prevHash, treeSize: Number(r.tree_size), rootHash: r.root_hash, createdAt: Number(r.created_at), keyId };
      const hash = checkpointHash(body);
      const signature = sign(null, checkpointMessage(body), other.privateKey).toString('base64');
      await db.insertInto('aios_audit_checkpoint_chain').values({ ...r, prev_hash: prevHash, key_id: keyId, signature, hash, public_key: other.publicKey.export({ type: 'spki', format: 'pem' }).toString() }).execute();
      prevHash = hash;
    }
  },
};

/** What happens after the change, before verification. */
const AFTER: Record<string, (b: Built) => Promise<void>> = {
  // AIOS started again on the forged log: with no checkpoint left to contradict it, it signs a
  // new chain from 1 over it, and publishes it to the witness.
  'forge-then-restart': async (b) => {
    const trail = trailOn(b, new ManualClock(LATER - 1000));
    trail.start();
    await trail.close();
  },
};

const table = readTable();

describe('the README tamper table', () => {
  it('lists exactly the changes this test applies', () => {
    expect([...table.keys()].sort()).toEqual(Object.keys(CHANGES).sort());
    for (const [id, row] of table) {
      expect(row.with.detected, `${id}: a witness must detect every row`).toBe(true);
      for (const claim of [row.without, row.with]) {
        if (claim.detected) expect(claim.kinds.length, `${id}: a detection names its problem kinds`).toBeGreaterThan(0);
        else expect(claim.kinds, `${id}: "not detected" names no kind`).toEqual([]);
      }
    }
  });
});

await conformance('tampering with the audit trail', { backends: SQL_BACKENDS, factory: tamperEngine }, (t) => {
  const { it } = t;
  let engine: Engine;
  beforeAll(() => {
    engine = t.fixture;
  });

  it('leaves no record uncovered after a clean shutdown, and the witness holds the chain', async () => {
    const b = await build(engine);
    const clean = await verify(b, true);
    expect(clean).toMatchObject({ ok: true, records: RECORDS, checkpoints: finalCheckpointSeq, covered: RECORDS, witnessed: finalCheckpointSeq, problems: [] });
    const witnessed = parseWitness(readFileSync(b.witnessFile, 'utf8'));
    expect(witnessed.unreadable).toEqual([]);
    expect(witnessed.entries.map((e) => [e.seq, e.treeSize])).toEqual([[1, 10], [2, 20], [3, 30], [4, 40], [5, 50], [6, 60], [7, 65]]);
    expect(witnessed.entries[3].consistency.fromSize).toBe(30);
    expect(await verify(b, false)).toMatchObject({ ok: true, covered: RECORDS });
  });

  for (const [id, change] of Object.entries(CHANGES)) {
    it(`${id}: detected as the README says, with and without a witness`, async () => {
      const claims = table.get(id);
      expect(claims, `README row ${id}`).toBeDefined();
      const b = await build(engine);
      await engine.tamper(b.database, (db) => change(b, db));
      await AFTER[id]?.(b);
      for (const [withWitness, claim] of [[false, claims!.without], [true, claims!.with]] as const) {
        const result = await verify(b, withWitness);
        const kinds = [...new Set(result.problems.map((p) => p.kind))];
        const what = `${id} ${withWitness ? 'with' : 'without'} a witness: ${JSON.stringify(result.problems.map((p) => `${p.kind}: ${p.message}`), null, 1)}`;
        expect(result.ok, what).toBe(!claim.detected);
        for (const k of claim.kinds) expect(kinds, what).toContain(k);
      }
    });
  }

  it('reports records a stopped writer left uncovered once they are older than the window, and the next start covers them', async () => {
    const b = await build(engine);
    // A writer that dies (no close): its last records have no checkpoint.
    const clock = new ManualClock(T0 + RECORDS * 1000);
    const witness = new WitnessPublisher({ sinks: [fileWitness(b.witnessFile)], logger });
    const crashed = new AuditTrail({ database: b.database, clock, logger, signingKey: b.key, checkpointEvery: 1000, witness });
    for (let i = 0; i < 5; i++) {
      clock.advance(1000);
      await crashed.record({ ns: 'plant-a', actor: { type: 'system', id: 'aios', authMethod: 'system' }, action: 'events:append', resource: 'topic:t', outcome: 'success' });
    }
    const soon = await verify(b, true, clock.now() + 1000);
    expect(soon).toMatchObject({ ok: true, records: RECORDS + 5, covered: RECORDS });
    const later = await verify(b, true);
    expect(later.ok).toBe(false);
    expect(later.problems).toEqual([expect.objectContaining({ seq: RECORDS + 1, kind: 'uncovered_records', message: expect.stringContaining(`records ${RECORDS + 1} to ${RECORDS + 5} are covered by no checkpoint`) })]);

    const restarted = trailOn(b, new ManualClock(LATER - 1000));
    restarted.start();
    await restarted.close();
    expect(await verify(b, true)).toMatchObject({ ok: true, covered: RECORDS + 5, checkpoints: finalCheckpointSeq + 1, witnessed: finalCheckpointSeq + 1 });
  });

  it('refuses to sign over a log rewritten under its newest checkpoint', async () => {
    const b = await build(engine);
    await engine.tamper(b.database, (db) => CHANGES['rewrite-records'](b, db));
    const trail = trailOn(b, new ManualClock(LATER));
    await trail.record({ ns: 'plant-a', actor: { type: 'system', id: 'aios', authMethod: 'system' }, action: 'events:append', resource: 'topic:t', outcome: 'success' });
    await expect(trail.checkpoint()).rejects.toThrow(/no longer hash to the root of checkpoint 7/);
  });

  it('`aios audit verify --public-key --witness` names the problems and exits 1; passes an intact trail', async () => {
    const b = await build(engine);
    const keyFile = join(b.dataDir, '..', `${keyIdOf(b.key.publicKey)}.pub`);
    writeFileSync(keyFile, b.key.publicKey.export({ type: 'spki', format: 'pem' }));
    cleanups.push(() => rmSync(keyFile, { force: true }));
    // The auditor has the public key and the witness, not the data directory.
    const empty = mkdtempSync(join(tmpdir(), 'aios-auditor-'));
    cleanups.push(() => rmSync(empty, { recursive: true, force: true }));
    const target = b.url ? ['--database-url', b.url, '--data-dir', empty] : ['--data-dir', b.dataDir];
    const env = { ...process.env, AIOS_DATA_DIR: '', AIOS_DATABASE_URL: '', AIOS_AUDIT_PUBLIC_KEY: '', AIOS_AUDIT_SIGNING_KEY: '' };
    const cli = (args: string[]) =>
      run(process.execPath, [AIOS_BIN, 'audit', 'verify', ...target, ...args], { timeout: 30_000, env }).then(
        (r) => ({ code: 0, out: r.stdout + r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
      );
    expect(await cli(['--public-key', keyFile, '--witness', b.witnessFile])).toEqual({ code: 0, out: `audit chain OK: ${RECORDS} records, ${finalCheckpointSeq} checkpoints, ${finalCheckpointSeq} witnessed\n` });
    const base64 = b.key.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    expect(await cli(['--public-key', base64])).toMatchObject({ code: 0 });

    await engine.tamper(b.database, (db) => forgeOutcome(db));
    const caught = await cli(['--public-key', keyFile, '--witness', b.witnessFile]);
    expect(caught.code).toBe(1);
    expect(caught.out).toContain('witness_mismatch: witnessed checkpoint 1 (tree size 10');
    expect(caught.out).toContain('witness_root_mismatch: witnessed checkpoint 2 has root');
    const wrongKey = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect((await cli(['--public-key', wrongKey, '--witness', b.witnessFile])).out).toContain('witness_signature_invalid');
    const missing = await cli(['--public-key', keyFile, '--witness', join(empty, 'nope.ndjson')]);
    expect(missing).toMatchObject({ code: 1, out: expect.stringContaining('cannot read the witness') });
  });
});
