import { execFile } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { AiosError, ManualClock, isAiosError } from '../src/core/index.ts';
import type { AuditInput, AuditRecorder } from '../src/governance/audit/audit-record.ts';
import {
  generateMasterKey,
  isSecretRef,
  keyringOf,
  loadMasterKeys,
  rotateKeyFile,
  rotateMasterKey,
  SecretStore,
  type Keyring,
  type MasterKey,
} from '../src/governance/secrets/index.ts';
import { createDatabase, type Database } from '../src/storage/index.ts';
import { migrate } from '../src/runtime/index.ts';
import { AIOS_BIN } from './support/child.ts';
import { conformance, SQL_BACKENDS, type BackendEnv } from './support/conformance.ts';
import { useTempDirs } from './support/temp-dirs.ts';

const run = promisify(execFile);
const tmp = useTempDirs();

/** A real AuditRecorder that keeps what it is given. */
class CollectingAudit implements AuditRecorder {
  readonly entries: AuditInput[] = [];
  async record(entry: AuditInput): Promise<unknown> {
    this.entries.push(entry);
    return entry;
  }
}

const user = { type: 'user', id: 'alice', authMethod: 'api_key', keyId: 'aios_k1' } as const;
const b64 = (k: MasterKey) => k.key.toString('base64');

async function expectCode(p: Promise<unknown>, code: string): Promise<AiosError> {
  const e = await p.then(
    (v) => {
      throw new Error(`expected ${code}, got a value: ${JSON.stringify(v)}`);
    },
    (err: unknown) => err,
  );
  expect(isAiosError(e)).toBe(true);
  expect((e as AiosError).code).toBe(code);
  return e as AiosError;
}

// Four connections on PostgreSQL, so that concurrent puts really race for the row.
const secretsDatabase = async (env: BackendEnv) => (await env.freshDatabase()).connect({ poolSize: 4 });

await conformance('secret store', { backends: SQL_BACKENDS, factory: secretsDatabase }, (t) => {
  const { it } = t;
  let database: Database;
  const clock = new ManualClock();
  const key = generateMasterKey();
  const keyring: Keyring = keyringOf(key);
  const audit = new CollectingAudit();
  let store: SecretStore;

  const rawRows = (ns: string) => database.db.selectFrom('aios_secrets').selectAll().where('ns', '=', ns).orderBy('name').execute();
  const setColumns = (ns: string, name: string, values: Record<string, unknown>) =>
    database.db.updateTable('aios_secrets').set(values).where('ns', '=', ns).where('name', '=', name).execute();
  const dropNs = (ns: string) => database.db.deleteFrom('aios_secrets').where('ns', '=', ns).execute();

  beforeAll(async () => {
    database = t.fixture;
    store = new SecretStore({ database, clock, keyring, audit });
  });

  it('puts and reveals a value, with metadata that says who and when', async () => {
    const meta = await store.put('rt', 'opcua-password', 'pa55-wörd ✓', { actor: user, description: 'OPC UA server' });
    expect(meta).toEqual({
      name: 'opcua-password',
      version: 1,
      createdAt: clock.now(),
      updatedAt: clock.now(),
      createdBy: 'alice',
      description: 'OPC UA server',
      masterKeyId: key.id,
    });
    expect(meta.masterKeyId).toMatch(/^mk_[0-9a-f]{16}$/);
    expect(await store.reveal('rt', 'opcua-password', { actor: user })).toBe('pa55-wörd ✓');
    const big = 'x'.repeat(64 * 1024);
    await store.put('rt', 'big', big);
    expect(await store.reveal('rt', 'big')).toBe(big);
  });

  it('rejects bad names and values with AIOS_SECRETS_INVALID', async () => {
    for (const name of ['', '.hidden', 'a/b', 'white space', 'a'.repeat(201)]) await expectCode(store.put('inv', name, 'v'), 'AIOS_SECRETS_INVALID');
    await expectCode(store.put('inv', 'ok', ''), 'AIOS_SECRETS_INVALID');
    await expectCode(store.put('inv', 'ok', 'x'.repeat(64 * 1024 + 1)), 'AIOS_SECRETS_INVALID');
    await expectCode(store.put('inv', 'ok', 'é'.repeat(32 * 1024 + 1)), 'AIOS_SECRETS_INVALID'); // > 64 KiB in UTF-8
    await expectCode(store.put('inv', 'ok', 42 as unknown as string), 'AIOS_SECRETS_INVALID');
    expect(await store.list('inv')).toEqual([]);
  });

  it('increments the version on each put, keeping creation time and description', async () => {
    const v1 = await store.put('ver', 'token', 'one', { actor: user, description: 'first' });
    clock.advance(1000);
    const v2 = await store.put('ver', 'token', 'two', { actor: { type: 'service', id: 'ci', authMethod: 'api_key' } });
    expect(v2).toMatchObject({ version: 2, createdAt: v1.createdAt, updatedAt: v1.createdAt + 1000, createdBy: 'alice', description: 'first' });
    const v3 = await store.put('ver', 'token', 'three', { description: 'third' });
    expect(v3).toMatchObject({ version: 3, description: 'third' });
    expect(await store.reveal('ver', 'token')).toBe('three');
    expect(await store.get('ver', 'token')).toEqual(v3);
  });

  it('gives concurrent puts distinct versions, and the row holds one of the values', async () => {
    await store.put('conc', 'k', 'v0');
    const metas = await Promise.all(Array.from({ length: 6 }, (_, i) => store.put('conc', 'k', `v${i + 1}`)));
    expect(new Set(metas.map((m) => m.version)).size).toBe(6);
    const final = await store.get('conc', 'k');
    expect(final.version).toBe(7);
    const winner = metas.find((m) => m.version === 7);
    expect(winner).toBeDefined();
    expect(await store.reveal('conc', 'k')).toBe(`v${metas.indexOf(winner!) + 1}`);
  });

  it('never puts the value or key material into list, get or the stored row', async () => {
    const value = 'the-plaintext-3f7b1c';
    await store.put('meta', 'b-secret', value);
    await store.put('meta', 'a-secret', `${value}-2`);
    await store.put('meta', 'c-secret', `${value}-3`);
    const listed = await store.list('meta');
    expect(listed.map((m) => m.name)).toEqual(['a-secret', 'b-secret', 'c-secret']);
    expect(Object.keys(listed[0]).sort()).toEqual(['createdAt', 'createdBy', 'description', 'masterKeyId', 'name', 'updatedAt', 'version']);
    expect((await store.list('meta', { after: 'a-secret', limit: 1 })).map((m) => m.name)).toEqual(['b-secret']);
    const got = await store.get('meta', 'b-secret');
    const rows = await rawRows('meta');
    expect(rows).toHaveLength(3);
    for (const text of [JSON.stringify(listed), JSON.stringify(got), JSON.stringify(rows)]) {
      expect(text).not.toContain('the-plaintext');
      expect(text).not.toContain(Buffer.from(value).toString('base64'));
      expect(text).not.toContain(b64(key));
    }
    // The key object itself serialises as its id only.
    expect(JSON.stringify(keyring.active)).toBe(JSON.stringify({ id: key.id }));
    expect(JSON.stringify({ all: [...keyring.all.values()] })).not.toContain(b64(key));
  });

  it('isolates namespaces: another namespace cannot get, list, reveal or delete the secret', async () => {
    await store.put('ns-a', 'shared-name', 'only-for-a');
    await expectCode(store.get('ns-b', 'shared-name'), 'AIOS_SECRETS_NOT_FOUND');
    await expectCode(store.reveal('ns-b', 'shared-name'), 'AIOS_SECRETS_NOT_FOUND');
    await expectCode(store.delete('ns-b', 'shared-name'), 'AIOS_SECRETS_NOT_FOUND');
    expect(await store.list('ns-b')).toEqual([]);
    await store.put('ns-b', 'shared-name', 'only-for-b');
    expect(await store.reveal('ns-a', 'shared-name')).toBe('only-for-a');
    expect(await store.reveal('ns-b', 'shared-name')).toBe('only-for-b');
    await store.delete('ns-b', 'shared-name');
    await expectCode(store.reveal('ns-b', 'shared-name'), 'AIOS_SECRETS_NOT_FOUND');
    expect(await store.reveal('ns-a', 'shared-name')).toBe('only-for-a');
  });

  it('deletes; a second delete is AIOS_SECRETS_NOT_FOUND', async () => {
    await store.put('del', 'gone', 'v');
    await store.delete('del', 'gone');
    await expectCode(store.get('del', 'gone'), 'AIOS_SECRETS_NOT_FOUND');
    await expectCode(store.delete('del', 'gone'), 'AIOS_SECRETS_NOT_FOUND');
  });

  it('audits every reveal, successful or not, without the value', async () => {
    await store.put('aud', 'mqtt', 'mqtt-pass-91');
    const before = audit.entries.length;
    await store.reveal('aud', 'mqtt', { actor: user, requestId: 'req-1', lineageId: 'lin-1' });
    await expectCode(store.reveal('aud', 'missing', { actor: user, requestId: 'req-2' }), 'AIOS_SECRETS_NOT_FOUND');
    const entries = audit.entries.slice(before);
    expect(entries).toEqual([
      { ns: 'aud', actor: user, action: 'secrets:reveal', resource: 'secret:mqtt', outcome: 'success', error: null, requestId: 'req-1', lineageId: 'lin-1' },
      { ns: 'aud', actor: user, action: 'secrets:reveal', resource: 'secret:missing', outcome: 'failure', error: 'AIOS_SECRETS_NOT_FOUND', requestId: 'req-2', lineageId: null },
    ]);
    expect(JSON.stringify(audit.entries)).not.toContain('mqtt-pass-91');
  });

  it('does not return a value the audit trail failed to record', async () => {
    await store.put('aud-down', 's', 'unaudited-value');
    const failing = new SecretStore({ database, clock, keyring, audit: { record: async () => Promise.reject(new AiosError('AIOS_UNAVAILABLE', 'audit down')) } });
    await expectCode(failing.reveal('aud-down', 's'), 'AIOS_UNAVAILABLE');
    // Without a recorder (library use) a reveal works and leaves no trace.
    expect(await new SecretStore({ database, clock, keyring }).reveal('aud-down', 's')).toBe('unaudited-value');
  });

  it('resolves configuration values: literals as is, references through an audited reveal', async () => {
    await store.put('cfg', 'historian-pw', 'hist-pw-77');
    expect(isSecretRef('secret:historian-pw')).toBe(true);
    expect(isSecretRef({ secret: 'historian-pw' })).toBe(true);
    expect(isSecretRef('plain')).toBe(false);
    expect(isSecretRef({ secret: 1 })).toBe(false);
    expect(isSecretRef(null)).toBe(false);
    const before = audit.entries.length;
    expect(await store.resolve('cfg', 'plain-literal')).toBe('plain-literal');
    expect(audit.entries.length).toBe(before);
    expect(await store.resolve('cfg', 'secret:historian-pw')).toBe('hist-pw-77');
    expect(await store.resolve('cfg', { secret: 'historian-pw' })).toBe('hist-pw-77');
    await expectCode(store.resolve('cfg', { secret: 'nope' }), 'AIOS_SECRETS_NOT_FOUND');
    await expectCode(store.resolve('other-ns', 'secret:historian-pw'), 'AIOS_SECRETS_NOT_FOUND');
    await expectCode(store.resolve('cfg', 7 as unknown as string), 'AIOS_SECRETS_INVALID');
    const system = { type: 'system', id: 'aios-system', authMethod: 'system' };
    expect(audit.entries.slice(before).map((e) => [e.actor, e.resource, e.outcome])).toEqual([
      [system, 'secret:historian-pw', 'success'],
      [system, 'secret:historian-pw', 'success'],
      [system, 'secret:nope', 'failure'],
      [system, 'secret:historian-pw', 'failure'],
    ]);
  });

  it('detects tampering: swapped or altered rows fail with an AiosError, never the wrong plaintext', async () => {
    const ns = 'tamper';
    const other = generateMasterKey();
    const twoKeys = new SecretStore({ database, clock, keyring: keyringOf(key, [other]), audit });
    const reset = async () => {
      await dropNs(ns);
      await store.put(ns, 'a', 'value-of-a');
      await store.put(ns, 'b', 'value-of-b');
      return Object.fromEntries((await rawRows(ns)).map((r) => [r.name, r]));
    };
    const expectBroken = async (s: SecretStore, name: string) => {
      const e = await expectCode(s.reveal(ns, name), 'AIOS_SECRETS_MASTER_KEY');
      expect(e.message).not.toContain('value-of-');
    };

    // The value's ciphertext, iv and tag of b copied onto a.
    let rows = await reset();
    await setColumns(ns, 'a', { iv: rows.b.iv, ciphertext: rows.b.ciphertext, tag: rows.b.tag });
    await expectBroken(store, 'a');
    expect(await store.reveal(ns, 'b')).toBe('value-of-b');

    // Every crypto column of b copied onto a (a whole-row swap): the data key's AAD names b.
    rows = await reset();
    await setColumns(ns, 'a', { iv: rows.b.iv, ciphertext: rows.b.ciphertext, tag: rows.b.tag, wrapped_key: rows.b.wrapped_key, master_key_id: rows.b.master_key_id });
    await expectBroken(store, 'a');

    // master_key_id changed to another loaded key, or to one nobody has.
    rows = await reset();
    await setColumns(ns, 'a', { master_key_id: other.id });
    await expectBroken(twoKeys, 'a');
    await setColumns(ns, 'a', { master_key_id: 'mk_0000000000000000' });
    await expectBroken(store, 'a');

    // An older version's columns replayed onto the row, or the version number changed.
    rows = await reset();
    await store.put(ns, 'a', 'value-of-a-v2');
    await setColumns(ns, 'a', { iv: rows.a.iv, ciphertext: rows.a.ciphertext, tag: rows.a.tag, wrapped_key: rows.a.wrapped_key });
    await expectBroken(store, 'a');
    rows = await reset();
    await setColumns(ns, 'b', { version: 5 });
    await expectBroken(store, 'b');

    // A flipped byte in the ciphertext.
    rows = await reset();
    const flipped = Buffer.from(rows.a.ciphertext, 'base64');
    flipped[0] ^= 1;
    await setColumns(ns, 'a', { ciphertext: flipped.toString('base64') });
    await expectBroken(store, 'a');

    expect(audit.entries.filter((e) => e.ns === ns && e.outcome === 'failure').every((e) => e.error === 'AIOS_SECRETS_MASTER_KEY')).toBe(true);
    await dropNs(ns);
  });

  it('fails with AIOS_SECRETS_MASTER_KEY when started with the wrong master key', async () => {
    await store.put('wrong', 's', 'right-key-only');
    const wrong = new SecretStore({ database, clock, keyring: keyringOf(generateMasterKey()), audit });
    const e = await expectCode(wrong.reveal('wrong', 's'), 'AIOS_SECRETS_MASTER_KEY');
    expect(e.message).toContain(key.id);
    expect(audit.entries.at(-1)).toMatchObject({ ns: 'wrong', outcome: 'failure', error: 'AIOS_SECRETS_MASTER_KEY' });
  });

  // Last in this block: it moves every row of the database to a new master key.
  it('rotates the master key: re-wraps every data key, values untouched, the old key no longer unwraps', async () => {
    const ns = 'rot';
    for (const n of ['one', 'two', 'three']) await store.put(ns, n, `rot-value-${n}`);
    const total = (await database.db.selectFrom('aios_secrets').select('ns').execute()).length;
    const before = await rawRows(ns);
    const newKey = generateMasterKey();

    const { rewrapped } = await rotateMasterKey({ database, keyring, newKey });
    expect(rewrapped).toBe(total);
    const after = await rawRows(ns);
    for (const [i, row] of after.entries()) {
      expect(row.master_key_id).toBe(newKey.id);
      expect(row.wrapped_key).not.toBe(before[i].wrapped_key);
      expect([row.iv, row.ciphertext, row.tag, row.version]).toEqual([before[i].iv, before[i].ciphertext, before[i].tag, before[i].version]);
    }
    const rotated = new SecretStore({ database, clock, keyring: keyringOf(newKey), audit });
    for (const n of ['one', 'two', 'three']) expect(await rotated.reveal(ns, n)).toBe(`rot-value-${n}`);
    expect((await rotated.get(ns, 'one')).masterKeyId).toBe(newKey.id);

    // The old key alone cannot open the re-wrapped keys, even when the row claims the old id.
    await expectCode(store.reveal(ns, 'one'), 'AIOS_SECRETS_MASTER_KEY');
    await setColumns(ns, 'one', { master_key_id: key.id });
    await expectCode(store.reveal(ns, 'one'), 'AIOS_SECRETS_MASTER_KEY');
    await setColumns(ns, 'one', { master_key_id: newKey.id });

    // Nothing left to do a second time; a key that is not loaded aborts the whole transaction.
    expect(await rotateMasterKey({ database, keyring: keyringOf(newKey), newKey })).toEqual({ rewrapped: 0 });
    const third = generateMasterKey();
    await expectCode(rotateMasterKey({ database, keyring: keyringOf(key), newKey: third }), 'AIOS_SECRETS_MASTER_KEY');
    expect((await rawRows(ns)).every((r) => r.master_key_id === newKey.id)).toBe(true);
  });
});

describe('master keys', () => {
  it('creates the key file on first start with mode 0600, and reads the same key after', () => {
    const dataDir = join(tmp('aios-mk-'), 'data');
    const first = loadMasterKeys({ dataDir, env: {} });
    const file = join(dataDir, 'master.key');
    expect(first.source).toEqual({ kind: 'file', path: file, created: true });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.active.id).toMatch(/^mk_[0-9a-f]{16}$/);
    expect(first.active.key).toHaveLength(32);
    expect(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').equals(first.active.key)).toBe(true);
    const second = loadMasterKeys({ dataDir, env: {} });
    expect(second.active.id).toBe(first.active.id);
    expect(second.source).toMatchObject({ created: false });
    expect([...second.all.keys()]).toEqual([first.active.id]);
  });

  it('takes the key file from keyFile or AIOS_MASTER_KEY_FILE', () => {
    const dir = tmp('aios-mk-');
    const viaOption = loadMasterKeys({ dataDir: dir, env: {}, keyFile: join(dir, 'keys', 'a.key') });
    expect(statSync(join(dir, 'keys', 'a.key')).mode & 0o777).toBe(0o600);
    const viaEnv = loadMasterKeys({ dataDir: dir, env: { AIOS_MASTER_KEY_FILE: join(dir, 'keys', 'a.key') } });
    expect(viaEnv.active.id).toBe(viaOption.active.id);
    expect(existsSync(join(dir, 'master.key'))).toBe(false);
  });

  it('uses AIOS_MASTER_KEY and AIOS_MASTER_KEY_PREVIOUS without touching a file', () => {
    const dataDir = tmp('aios-mk-');
    const k = generateMasterKey();
    const prev = generateMasterKey();
    const ring = loadMasterKeys({ dataDir, env: { AIOS_MASTER_KEY: b64(k), AIOS_MASTER_KEY_PREVIOUS: `${b64(prev)}\n` } });
    expect(ring.source).toEqual({ kind: 'env' });
    expect(ring.active.id).toBe(k.id);
    expect([...ring.all.keys()]).toEqual([k.id, prev.id]);
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
  });

  it('refuses a malformed AIOS_MASTER_KEY with AIOS_SECRETS_MASTER_KEY, saying how to make one, not echoing it', () => {
    const dataDir = tmp('aios-mk-');
    const bad = ['not-base64!!', Buffer.alloc(16, 7).toString('base64'), Buffer.alloc(33, 7).toString('base64'), Buffer.alloc(32, 7).toString('hex')];
    for (const value of bad) {
      let caught: unknown;
      try {
        loadMasterKeys({ dataDir, env: { AIOS_MASTER_KEY: value } });
      } catch (e) {
        caught = e;
      }
      expect(isAiosError(caught, 'AIOS_SECRETS_MASTER_KEY')).toBe(true);
      expect((caught as Error).message).toContain('openssl rand -base64 32');
      expect((caught as Error).message).not.toContain(value);
    }
    expect(() => loadMasterKeys({ dataDir, env: { AIOS_MASTER_KEY: b64(generateMasterKey()), AIOS_MASTER_KEY_PREVIOUS: 'short' } })).toThrow(/AIOS_MASTER_KEY_PREVIOUS/);
    writeFileSync(join(dataDir, 'master.key'), 'garbage\n', { mode: 0o600 });
    expect(() => loadMasterKeys({ dataDir, env: {} })).toThrow(AiosError);
  });

  it('refuses to invent a key when the key file is gone but an interrupted rotation left <keyFile>.next', () => {
    const dataDir = tmp('aios-mk-');
    writeFileSync(join(dataDir, 'master.key.next'), b64(generateMasterKey()), { mode: 0o600 });
    expect(() => loadMasterKeys({ dataDir, env: {} })).toThrow(/master\.key\.next/);
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
  });
});

describe('rotation of a file master key', () => {
  /** A SQLite data dir as `aios start` would leave it: migrated, key file, three secrets. */
  async function prepareDataDir(env: Record<string, string> = {}) {
    const dataDir = tmp('aios-rot-');
    const keyring = loadMasterKeys({ dataDir, env });
    const database = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    await migrate(database);
    const store = new SecretStore({ database, clock: new ManualClock(), keyring });
    const values: Record<string, string> = { 'plc-password': 'plc-secret-value-1', 'mqtt-token': 'mqtt-secret-value-2' };
    await store.put('default', 'plc-password', values['plc-password']);
    await store.put('plant-b', 'mqtt-token', values['mqtt-token']);
    await store.put('plant-b', 'api-key', 'api-secret-value-3');
    values['api-key'] = 'api-secret-value-3';
    await database.close();
    return { dataDir, keyring, values };
  }
  async function revealAll(dataDir: string, env: Record<string, string> = {}) {
    const database = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    try {
      const store = new SecretStore({ database, clock: new ManualClock(), keyring: loadMasterKeys({ dataDir, env }) });
      return {
        'plc-password': await store.reveal('default', 'plc-password'),
        'mqtt-token': await store.reveal('plant-b', 'mqtt-token'),
        'api-key': await store.reveal('plant-b', 'api-key'),
      };
    } finally {
      await database.close();
    }
  }
  const childEnv = (extra: Record<string, string> = {}) => {
    const env: Record<string, string | undefined> = { ...process.env, ...extra };
    for (const k of ['AIOS_MASTER_KEY', 'AIOS_MASTER_KEY_PREVIOUS', 'AIOS_NEW_MASTER_KEY', 'AIOS_MASTER_KEY_FILE', 'AIOS_DATABASE_URL', 'AIOS_DATA_DIR', 'AIOS_CONFIG']) {
      if (!(k in extra)) delete env[k];
    }
    return env;
  };

  it('keeps every secret readable when a rotation stopped after re-wrapping, before the rename', async () => {
    const { dataDir, keyring, values } = await prepareDataDir();
    const keyFile = join(dataDir, 'master.key');
    // Step 1 of the procedure: the new key in <keyFile>.next. The database is not yet touched.
    const newKey = generateMasterKey();
    writeFileSync(`${keyFile}.next`, `${b64(newKey)}\n`, { mode: 0o600 });
    expect(await revealAll(dataDir)).toEqual(values);
    // Step 2 committed; the process died before step 3 (the rename).
    const database = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    expect(await rotateMasterKey({ database, keyring, newKey })).toEqual({ rewrapped: 3 });
    await database.close();
    const loaded = loadMasterKeys({ dataDir, env: {} });
    expect(loaded.active.id).toBe(keyring.active.id);
    expect([...loaded.all.keys()].sort()).toEqual([keyring.active.id, newKey.id].sort());
    expect(await revealAll(dataDir)).toEqual(values);

    // Running the rotation again finishes it with the key in .next rather than a new one.
    const db2 = createDatabase({ sqliteFile: join(dataDir, 'aios.db') });
    const r = await rotateKeyFile({ database: db2, keyring: loaded, keyFile });
    await db2.close();
    expect(r).toMatchObject({ rewrapped: 0, newKeyId: newKey.id, oldKeyId: keyring.active.id, resumed: true });
    expect(existsSync(`${keyFile}.next`)).toBe(false);
    expect(loadMasterKeys({ dataDir, env: {} }).active.id).toBe(newKey.id);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(statSync(r.retiredFile!).mode & 0o777).toBe(0o600);
    expect(await revealAll(dataDir)).toEqual(values);
  });

  it('aios secrets rotate-master-key re-wraps under a new key file and prints ids only', async () => {
    const { dataDir, keyring, values } = await prepareDataDir();
    const keyFile = join(dataDir, 'master.key');
    const { stdout, stderr } = await run(process.execPath, [AIOS_BIN, 'secrets', 'rotate-master-key', '--data-dir', dataDir], { env: childEnv() });
    const m = /re-wrapped 3 data keys under master key (mk_[0-9a-f]{16})/.exec(stdout);
    expect(m).not.toBeNull();
    const loaded = loadMasterKeys({ dataDir, env: {} });
    expect(loaded.active.id).toBe(m![1]);
    expect(loaded.active.id).not.toBe(keyring.active.id);
    expect([...loaded.all.keys()]).toEqual([loaded.active.id]);
    expect(existsSync(`${keyFile}.next`)).toBe(false);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(await revealAll(dataDir)).toEqual(values);

    const output = stdout + stderr;
    for (const secret of [b64(keyring.active), b64(loaded.active), ...Object.values(values)]) expect(output).not.toContain(secret);

    // The old key is kept aside (0600, not loaded), and it no longer opens anything.
    const retired = `${keyFile}.retired-${keyring.active.id}`;
    expect(statSync(retired).mode & 0o777).toBe(0o600);
    await expectCode(revealAll(dataDir, { AIOS_MASTER_KEY: readFileSync(retired, 'utf8').trim() }), 'AIOS_SECRETS_MASTER_KEY');
  });

  it('aios secrets rotate-master-key fails with exit code 1 on a data dir without a key, creating nothing', async () => {
    const empty = join(tmp('aios-rot-'), 'missing');
    const failed = await run(process.execPath, [AIOS_BIN, 'secrets', 'rotate-master-key', '--data-dir', empty], { env: childEnv() }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(failed?.code).toBe(1);
    expect(failed?.stderr).toContain('no master key file');
    expect(existsSync(empty)).toBe(false);
  });

  it('with AIOS_MASTER_KEY, takes the new key from AIOS_NEW_MASTER_KEY and never prints it', async () => {
    const oldKey = generateMasterKey();
    const { dataDir, values } = await prepareDataDir({ AIOS_MASTER_KEY: b64(oldKey) });
    const args = [AIOS_BIN, 'secrets', 'rotate-master-key', '--data-dir', dataDir];

    const missing = await run(process.execPath, args, { env: childEnv({ AIOS_MASTER_KEY: b64(oldKey) }) }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(missing?.code).toBe(1);
    expect(missing?.stderr).toContain('AIOS_NEW_MASTER_KEY');

    const newKey = generateMasterKey();
    const { stdout, stderr } = await run(process.execPath, args, { env: childEnv({ AIOS_MASTER_KEY: b64(oldKey), AIOS_NEW_MASTER_KEY: b64(newKey) }) });
    expect(stdout).toContain(`re-wrapped 3 data keys under master key ${newKey.id}`);
    expect(stderr).toContain('set AIOS_MASTER_KEY');
    for (const secret of [b64(oldKey), b64(newKey), ...Object.values(values)]) expect(stdout + stderr).not.toContain(secret);
    expect(existsSync(join(dataDir, 'master.key'))).toBe(false);
    expect(await revealAll(dataDir, { AIOS_MASTER_KEY: b64(newKey) })).toEqual(values);
    await expectCode(revealAll(dataDir, { AIOS_MASTER_KEY: b64(oldKey) }), 'AIOS_SECRETS_MASTER_KEY');
  });
});
