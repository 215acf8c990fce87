import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLogger, ManualClock } from '../src/core/index.ts';
import {
  AuditTrail,
  checkpointSignatureValid,
  loadAuditSigningKey,
  parseWitness,
  verifyAuditChain,
  webhookWitness,
  WitnessPublisher,
  type WitnessEntry,
} from '../src/governance/audit/index.ts';
import { createDatabase } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { startTestAios } from './support/runtime.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { until } from './support/until.ts';

/**
 * Witnesses outside the database: a webhook that fails, hangs or comes back, the bounds of the
 * publisher's queue and retries, and an AIOS configured with a witness file and a webhook end to
 * end, through POST /api/v1/audit/verify.
 */

const pgUp = await pgAvailable();
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});
const logger = createLogger({ level: 'silent' });

/** A webhook witness whose answer the test decides: 'ok' stores the entry, 'fail' answers 503, 'hang' holds the request. */
async function witnessServer() {
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  const stored: WitnessEntry[] = [];
  const tries = new Map<number, number>();
  const held: (() => void)[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const entry = JSON.parse(Buffer.concat(chunks).toString('utf8')) as WitnessEntry;
      tries.set(entry.seq, (tries.get(entry.seq) ?? 0) + 1);
      const answer = () => {
        if (mode === 'fail') {
          res.writeHead(503).end();
          return;
        }
        stored.push(entry);
        res.writeHead(204).end();
      };
      if (mode === 'hang') held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/witness`,
    stored,
    tries,
    held,
    set(m: typeof mode) {
      mode = m;
    },
    release() {
      mode = 'ok';
      for (const answer of held.splice(0)) answer();
    },
  };
}

async function freshTrail(witness: WitnessPublisher, checkpointEvery: number) {
  const dataDir = mkdtempSync(join(tmpdir(), 'aios-witness-'));
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const database = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
  cleanups.push(() => database.close());
  await migrate(database);
  const key = loadAuditSigningKey({ dataDir, env: {} });
  const trail = new AuditTrail({ database, clock: new ManualClock(), logger, signingKey: key, checkpointEvery, witness, witnessFlushMs: 10_000 });
  cleanups.push(() => trail.close());
  const record = (i: number) => trail.record({ ns: 'plant-a', actor: { type: 'user', id: 'u1', authMethod: 'api_key' }, action: 'topics:create', resource: `topic:t${i}`, outcome: 'success' });
  return { database, key, trail, record };
}

describe('audit witnesses', () => {
  it('tries a failing webhook a bounded number of times, then delivers the next checkpoint once it answers', async () => {
    const hook = await witnessServer();
    const witness = new WitnessPublisher({ sinks: [webhookWitness(hook.url)], logger, attempts: 3, retryBaseMs: 5 });
    const { trail, record, key } = await freshTrail(witness, 5);
    hook.set('fail');
    for (let i = 0; i < 5; i++) await record(i);
    // Checkpoints run one after another: this one waits for the one the fifth record made due.
    expect(await trail.checkpoint()).toBeNull();
    expect(await witness.flush(10_000)).toBe(true);
    expect(hook.tries.get(1)).toBe(3);
    expect(hook.stored).toEqual([]);

    hook.set('ok');
    for (let i = 5; i < 10; i++) await record(i);
    await trail.close();
    expect(hook.stored.map((e) => [e.seq, e.treeSize])).toEqual([[2, 10]]);
    expect(hook.tries.get(2)).toBe(1);
    expect(checkpointSignatureValid(hook.stored[0], key.publicKey)).toBe(true);
    expect(hook.stored[0].consistency.fromSize).toBe(5);
  });

  it('never holds records back for a hung webhook; its queue is bounded, dropping the oldest, and what arrives still verifies', async () => {
    const hook = await witnessServer();
    const witness = new WitnessPublisher({ sinks: [webhookWitness(hook.url, { timeoutMs: 60_000 })], logger, capacity: 3 });
    const { trail, record, database, key } = await freshTrail(witness, 1);
    hook.set('hang');
    // Six records, six checkpoints: all committed while the first delivery hangs.
    for (let i = 0; i < 6; i++) await record(i);
    expect(await trail.checkpoint()).toBeNull();
    expect(Number((await database.db.selectFrom('aios_audit_checkpoint_chain').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)).toBe(6);
    await until(() => hook.held.length === 1, 'the first delivery to reach the hung witness');
    expect(hook.stored).toEqual([]);

    hook.release();
    await trail.close();
    // The one in flight, then the newest three the queue kept.
    expect(hook.stored.map((e) => e.seq)).toEqual([1, 4, 5, 6]);
    const result = await verifyAuditChain(database, { publicKey: key.publicKey, witness: { entries: hook.stored }, now: new ManualClock().now() });
    expect(result).toMatchObject({ ok: true, witnessed: 4, covered: 6 });
  });

  it('closes within its flush bound when a webhook never answers', async () => {
    const hook = await witnessServer();
    const witness = new WitnessPublisher({ sinks: [webhookWitness(hook.url, { timeoutMs: 60_000 })], logger });
    const { record } = await freshTrail(witness, 1);
    hook.set('hang');
    await record(1);
    await until(() => hook.held.length === 1, 'the delivery to reach the hung witness');
    expect(await witness.flush(50)).toBe(false);
    hook.release();
  });
});

describe('an AIOS with a witness file and a webhook', () => {
  it('publishes every checkpoint to both, the final one at shutdown, and POST /audit/verify checks the database against the witness', async () => {
    const hook = await witnessServer();
    const outside = mkdtempSync(join(tmpdir(), 'aios-witness-file-'));
    cleanups.push(() => rmSync(outside, { recursive: true, force: true }));
    const file = join(outside, 'nested', 'audit.ndjson');
    const t = await startTestAios({ auditWitnessFile: file, auditWitnessUrl: hook.url, auditCheckpointEvery: 5 });
    cleanups.push(() => t.cleanup());
    for (let i = 0; i < 7; i++) expect((await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: `t${i}` } })).statusCode).toBe(201);
    await t.aios.governance.audit.checkpoint();
    const lines = await until(() => {
      const text = (() => {
        try {
          return readFileSync(file, 'utf8');
        } catch {
          return '';
        }
      })();
      const parsed = parseWitness(text);
      return parsed.entries.length >= 2 && hook.stored.length >= parsed.entries.length && text;
    }, 'the witnesses to take the checkpoints');

    const ok = await t.api({ method: 'POST', url: '/api/v1/audit/verify', headers: { 'content-type': 'application/x-ndjson' }, payload: lines });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ ok: true, witnessed: parseWitness(lines).entries.length, problems: [] });

    // A witness entry not signed by this AIOS's key is named; a line that is not an entry is a 400.
    const entries = parseWitness(lines).entries;
    const forged = [{ ...entries[0], rootHash: 'f'.repeat(64) }, ...entries.slice(1)];
    const bad = await t.api({ method: 'POST', url: '/api/v1/audit/verify', payload: forged });
    expect(bad.json()).toMatchObject({ ok: false, problems: [expect.objectContaining({ kind: 'witness_signature_invalid' })] });
    const notEntry = await t.api({ method: 'POST', url: '/api/v1/audit/verify', payload: [entries[0], { type: 'aios.audit.checkpoint', seq: 0 }] });
    expect(notEntry.statusCode).toBe(400);
    expect(notEntry.json()).toMatchObject({ code: 'AIOS_VALIDATION', errors: [{ path: '/body/1' }] });
    const broken = await t.api({ method: 'POST', url: '/api/v1/audit/verify', headers: { 'content-type': 'application/x-ndjson' }, payload: `${lines}{not json\n` });
    expect(broken.statusCode).toBe(400);

    await t.aios.stop();
    const witnessed = parseWitness(readFileSync(file, 'utf8')).entries;
    expect(witnessed.map((e) => e.seq)).toEqual(witnessed.map((_, i) => i + 1));
    expect(hook.stored.map((e) => e.hash)).toEqual(witnessed.map((e) => e.hash));
    const database = createDatabase({ sqliteFile: join(t.dataDir, 'aios.db') });
    cleanups.push(() => database.close());
    const { publicKey } = loadAuditSigningKey({ dataDir: t.dataDir, env: {} });
    const result = await verifyAuditChain(database, { publicKey, witness: { entries: witnessed } });
    // After the clean shutdown the final checkpoint covers every record, and the witness has it.
    expect(result).toMatchObject({ ok: true, covered: result.records, witnessed: witnessed.length });
    expect(witnessed.at(-1)!.treeSize).toBe(result.records);
  });
});

describe.skipIf(!pgUp)('the audit signing key in cluster mode', () => {
  it('warns at start when the key is a file in the data directory, not when it comes from AIOS_AUDIT_SIGNING_KEY', async () => {
    const warning = 'the audit signing key is a file in the data directory';
    const first = await freshPgSchema();
    cleanups.push(() => first.drop());
    const fromFile = await startTestAios({ databaseUrl: first.url });
    cleanups.push(() => fromFile.cleanup());
    expect(fromFile.logs.join('')).toContain(warning);

    const second = await freshPgSchema();
    cleanups.push(() => second.drop());
    const { generateKeyPairSync } = await import('node:crypto');
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const fromEnv = await startTestAios({ databaseUrl: second.url }, { env: { AIOS_AUDIT_SIGNING_KEY: pem } });
    cleanups.push(() => fromEnv.cleanup());
    expect(fromEnv.logs.join('')).not.toContain(warning);
  });
});
