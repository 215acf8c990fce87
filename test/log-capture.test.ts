import { createPrivateKey, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { format } from 'node:util';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { createAios, ROLES, type Aios } from '../src/index.ts';
import { createLogger } from '../src/core/index.ts';
import { startAiosProcess } from './support/child.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { useTempDirs } from './support/temp-dirs.ts';

/*
 * Captures every log line (pino at trace, and anything written through console) through a whole
 * scenario, in process and in a real child process, and looks for credentials in it: API keys
 * (whole, and the secret part alone), secret values (whole, and any 8 characters of one), the
 * master key and the audit signing key.
 */

const tmp = useTempDirs();

/** Letters that never occur in hex, so an 8-character window of a secret cannot match a request id or a hash by chance. */
const NON_HEX = 'ghjkmnpqrstuvwxyz';
function secretValue(): string {
  return `s3cr3t-${[...randomBytes(20)].map((b) => NON_HEX[b % NON_HEX.length]).join('')}`;
}

const KEY_SECRET = /^aios_[a-z2-9]{12}_([A-Za-z0-9_-]{43})$/;

/** Everything that must never be written to a log, each with the name a failure shows. */
function credentialsOf(dataDir: string, apiKeys: readonly string[], secretValues: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of apiKeys) {
    const secret = KEY_SECRET.exec(key)?.[1];
    expect(secret, `not an AIOS API key: ${key.slice(0, 18)}...`).toBeDefined();
    out.set(key, `API key ${key.slice(0, 17)}`);
    out.set(secret!, `secret part of API key ${key.slice(0, 17)}`);
    for (let i = 0; i + 16 <= secret!.length; i += 4) out.set(secret!.slice(i, i + 16), `16 characters of API key ${key.slice(0, 17)}`);
  }
  for (const v of secretValues) {
    for (let i = 0; i + 8 <= v.length; i++) out.set(v.slice(i, i + 8), `8 characters of secret value ${v.slice(0, 10)}...`);
  }
  const masterFile = join(dataDir, 'master.key');
  if (existsSync(masterFile)) {
    const b64 = readFileSync(masterFile, 'utf8').trim();
    const raw = Buffer.from(b64, 'base64');
    out.set(b64, 'master key (base64)');
    out.set(raw.toString('hex'), 'master key (hex)');
    out.set(raw.toString('base64url'), 'master key (base64url)');
  }
  const signingFile = join(dataDir, 'audit-signing.key');
  if (existsSync(signingFile)) {
    const pem = readFileSync(signingFile, 'utf8');
    const body = pem.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const d = createPrivateKey(pem).export({ format: 'jwk' }).d!;
    out.set(body, 'audit signing key (PKCS#8 base64)');
    out.set(d, 'audit signing key (JWK d)');
    out.set(Buffer.from(d, 'base64url').toString('hex'), 'audit signing key (hex)');
    out.set(Buffer.from(d, 'base64url').toString('base64'), 'audit signing key seed (base64)');
  }
  return out;
}

/** Each line that holds a credential, with what it holds. */
function leaks(lines: readonly string[], credentials: Map<string, string>): string[] {
  const found: string[] = [];
  for (const line of lines) {
    const what = new Set<string>();
    for (const [needle, name] of credentials) if (line.includes(needle)) what.add(name);
    if (what.size) found.push(`${[...what].join('; ')}\n    in: ${line.trim().slice(0, 600)}`);
  }
  return found;
}

describe('no credential in the logs', () => {
  it('an embedded AIOS at trace level, through keys, events, secrets, audit and every kind of refusal', async () => {
    const dataDir = tmp('aios-logs-');
    const logs: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        logs.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const consoleLines: string[] = [];
    const spies = (['log', 'info', 'warn', 'error', 'debug', 'trace'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => {
        consoleLines.push(format(...args));
      }),
    );
    // startTestAios logs at info; this test wants every level, from the first line of start-up on.
    const aios: Aios = await createAios({
      config: { dataDir, retentionIntervalMs: 0, logLevel: 'trace', bodyLimitBytes: 64 * 1024, auditCheckpointEvery: 5 },
      env: {},
      logger: createLogger({ level: 'trace', destination }),
    });
    const apiKeys: string[] = [];
    const secretValues: string[] = [];
    const statuses = new Set<number>();
    try {
      await aios.start();
      expect(aios.logger.isLevelEnabled('trace')).toBe(true);
      const adminKey = readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
      apiKeys.push(adminKey);

      async function call(key: string | null, opts: InjectOptions, expected?: number): Promise<LightMyRequestResponse> {
        const headers: Record<string, string> = { ...((opts.headers as Record<string, string>) ?? {}) };
        if (key !== null && headers.authorization === undefined) headers.authorization = `Bearer ${key}`;
        const res = await aios.http.inject({ ...opts, headers });
        statuses.add(res.statusCode);
        expect(res.statusCode, `${opts.method} ${opts.url}: ${res.body.slice(0, 300)}`).toBeLessThan(500);
        if (expected !== undefined) expect(res.statusCode, `${opts.method} ${opts.url}: ${res.body.slice(0, 300)}`).toBe(expected);
        return res;
      }

      // API keys of every role, plus a user key with an expiry; each is used.
      const byRole: Record<string, string> = {};
      for (const role of ROLES) {
        const r = await call(adminKey, { method: 'POST', url: '/api/v1/keys', payload: { name: `${role} key`, roles: [role] } }, 201);
        byRole[role] = r.json().key as string;
        apiKeys.push(byRole[role]);
      }
      const userKey = (await call(adminKey, { method: 'POST', url: '/api/v1/keys', payload: { name: 'alice', roles: ['engineer', 'viewer'], type: 'user', principalId: 'alice', expiresAt: '2999-01-01T00:00:00Z' } }, 201)).json().key as string;
      apiKeys.push(userKey);
      for (const key of apiKeys) await call(key, { method: 'GET', url: '/api/v1/auth/whoami' }, 200);
      await call(adminKey, { method: 'GET', url: '/api/v1/keys' }, 200);

      // Topics and events: allowed, forbidden, invalid.
      const topic = { name: 'vibration', keyField: 'turbineId', schema: { type: 'object', required: ['turbineId', 'rms'], properties: { turbineId: { type: 'string' }, rms: { type: 'number' } } } };
      await call(adminKey, { method: 'POST', url: '/api/v1/topics', payload: topic }, 201);
      await call(byRole.viewer, { method: 'POST', url: '/api/v1/topics', payload: { name: 'not-allowed' } }, 403);
      await call(adminKey, { method: 'POST', url: '/api/v1/topics', payload: { name: 'Not A Name' } }, 400);
      for (const key of [adminKey, byRole.operator, byRole.engineer, byRole.service, userKey]) {
        await call(key, { method: 'POST', url: '/api/v1/topics/vibration/events', payload: [{ data: { turbineId: 't1', rms: 0.4 } }, { data: { turbineId: 't2', rms: 0.5 } }] });
      }
      await call(adminKey, { method: 'POST', url: '/api/v1/topics/vibration/events', payload: { data: { turbineId: 't3' } } }, 422);
      await call(adminKey, { method: 'POST', url: '/api/v1/topics/vibration/events', payload: 'x', headers: { 'content-type': 'application/xml' } }, 415);
      await call(adminKey, { method: 'POST', url: '/api/v1/topics/vibration/events', payload: JSON.stringify({ data: { turbineId: 'x'.repeat(100 * 1024), rms: 1 } }), headers: { 'content-type': 'application/json' } }, 413);
      await call(byRole.viewer, { method: 'GET', url: '/api/v1/topics/vibration/events?partition=0' }, 200);
      await call(adminKey, { method: 'GET', url: '/api/v1/topics/nope' }, 404);
      await call(adminKey, { method: 'POST', url: '/api/v1/topics/vibration/groups/billing/fetch', payload: { max: 10 } }, 200);

      // Secrets: written, updated, listed, read, revealed; and refused in every way, carrying a value.
      const names = ['db-password', 'plc-token', 'historian'];
      for (const name of names) {
        const value = secretValue();
        secretValues.push(value);
        await call(adminKey, { method: 'PUT', url: `/api/v1/secrets/${name}`, payload: { value, description: `the ${name}` } }, 200);
      }
      const updated = secretValue();
      secretValues.push(updated);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/db-password', payload: { value: updated } }, 200);
      await call(adminKey, { method: 'GET', url: '/api/v1/secrets' }, 200);
      await call(adminKey, { method: 'GET', url: '/api/v1/secrets/plc-token' }, 200);
      for (const name of names) {
        const r = await call(adminKey, { method: 'POST', url: `/api/v1/secrets/${name}/reveal` }, 200);
        expect(secretValues).toContain(r.json().value);
      }
      await call(byRole.viewer, { method: 'POST', url: '/api/v1/secrets/plc-token/reveal' }, 403);
      await call(adminKey, { method: 'POST', url: '/api/v1/secrets/nope/reveal' }, 404);
      await call(adminKey, { method: 'DELETE', url: '/api/v1/secrets/historian' }, 204);

      const refused = secretValue();
      secretValues.push(refused);
      const json = { 'content-type': 'application/json' };
      await call(null, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: { value: refused } }, 401);
      await call(byRole.viewer, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: { value: refused } }, 403);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/not%20a%20name', payload: { value: refused } }, 400);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: { value: refused, extra: true } }, 400);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: { value: refused, description: { text: 'x' } } }, 400);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: { value: { v: refused } } }, 400);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: `{"value":"${refused}",}`, headers: json }, 400);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: `{"value": ${refused}}`, headers: json }, 400);
      // The same mistake (the value left unquoted) under the other JSON content types AIOS parses
      // (for appends only: refused here before the body is read).
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: `{"value": ${refused}}`, headers: { 'content-type': 'application/x-ndjson' } }, 415);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: `{"value": ${refused}}`, headers: { 'content-type': 'application/cloudevents+json' } }, 415);
      await call(adminKey, { method: 'PUT', url: '/api/v1/secrets/leaked', payload: JSON.stringify({ value: refused, description: 'x'.repeat(70 * 1024) }), headers: json }, 413);
      await call(adminKey, { method: 'POST', url: '/api/v1/topics/vibration/events', payload: { data: { turbineId: 7, rms: refused } } }, 422);
      expect((await call(adminKey, { method: 'GET', url: '/api/v1/secrets/leaked' }, 404)).statusCode).toBe(404);

      // Credentials where they do not belong, and credentials that do not work.
      const operatorKeyId = byRole.operator.slice(0, 'aios_'.length + 12);
      await call(adminKey, { method: 'DELETE', url: `/api/v1/keys/${operatorKeyId}` }, 200);
      await call(byRole.operator, { method: 'GET', url: '/api/v1/topics' }, 401);
      await call(null, { method: 'GET', url: '/api/v1/topics', headers: { authorization: `Bearer ${adminKey.slice(0, -1)}${adminKey.endsWith('A') ? 'B' : 'A'}` } }, 401);
      await call(null, { method: 'GET', url: '/api/v1/topics', headers: { authorization: adminKey } }, 401);
      await call(null, { method: 'GET', url: '/api/v1/topics', headers: { authorization: `Basic ${Buffer.from(`admin:${adminKey}`).toString('base64')}` } }, 401);
      await call(null, { method: 'GET', url: '/api/v1/topics', headers: { 'x-api-key': byRole.viewer } }, 401);
      await call(null, { method: 'GET', url: `/api/v1/topics?key=${encodeURIComponent(byRole.viewer)}` }, 401);
      await call(byRole.viewer, { method: 'GET', url: `/api/v1/topics?api_key=${encodeURIComponent(byRole.viewer)}` }, 200);
      await call(null, { method: 'GET', url: '/api/v1/topics' }, 401);

      // The audit trail, lineage and the open routes.
      await call(adminKey, { method: 'GET', url: '/api/v1/audit?limit=1000' }, 200);
      await call(adminKey, { method: 'GET', url: '/api/v1/audit/export' }, 200);
      expect((await call(adminKey, { method: 'GET', url: '/api/v1/audit/verify' }, 200)).json().ok).toBe(true);
      await call(adminKey, { method: 'GET', url: '/api/v1/lineage/nope' });
      await call(null, { method: 'GET', url: '/healthz' }, 200);
      await call(null, { method: 'GET', url: '/readyz' }, 200);
    } finally {
      await aios.stop();
      for (const s of spies) s.mockRestore();
    }

    expect([...statuses].sort()).toEqual(expect.arrayContaining([200, 201, 204, 400, 401, 403, 404, 413, 415, 422]));
    const lines = [...logs, ...consoleLines];
    // Enough was logged for the search to mean something: every request, refusals, start and stop.
    expect(logs.length).toBeGreaterThan(60);
    expect(logs.some((l) => l.includes('"msg":"request refused"'))).toBe(true);
    expect(logs.some((l) => l.includes('"status":401'))).toBe(true);
    expect(logs.some((l) => l.includes('"msg":"AIOS stopped"'))).toBe(true);
    expect(logs.some((l) => /"level":(10|20),/.test(l)), 'no debug or trace line was captured').toBe(true);
    const credentials = credentialsOf(dataDir, apiKeys, secretValues);
    expect(credentials.size).toBeGreaterThan(apiKeys.length * 2 + secretValues.length);
    expect(existsSync(join(dataDir, 'master.key')) && existsSync(join(dataDir, 'audit-signing.key'))).toBe(true);
    expect(leaks(lines, credentials)).toEqual([]);
  });

  it('a real `aios start` at trace level prints where the admin key is, never the key', async () => {
    const dir = tmp('aios-logs-child-');
    const proc = await startAiosProcess(['--data-dir', dir], { AIOS_LOG_LEVEL: 'trace' });
    const apiKeys: string[] = [];
    const secretValues: string[] = [];
    try {
      const adminKey = readFileSync(join(dir, 'admin.key'), 'utf8').trim();
      apiKeys.push(adminKey);
      expect(proc.auth.authorization).toBe(`Bearer ${adminKey}`);
      const req = async (path: string, init: { method?: string; body?: unknown; auth?: Record<string, string> } = {}) => {
        const res = await fetch(`${proc.url}${path}`, {
          method: init.method ?? 'GET',
          headers: { ...(init.auth ?? proc.auth), ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
          body: init.body === undefined ? undefined : JSON.stringify(init.body),
        });
        const text = await res.text();
        expect(res.status, `${init.method ?? 'GET'} ${path}: ${text.slice(0, 300)}`).toBeLessThan(500);
        return { status: res.status, json: () => JSON.parse(text) as Record<string, unknown> };
      };
      expect((await req('/api/v1/auth/whoami')).status).toBe(200);
      expect((await req('/api/v1/topics', { method: 'POST', body: { name: 'plant' } })).status).toBe(201);
      expect((await req('/api/v1/topics/plant/events', { method: 'POST', body: { data: { v: 1 } } })).status).toBe(200);
      const created = await req('/api/v1/keys', { method: 'POST', body: { name: 'svc', roles: ['service'] } });
      expect(created.status).toBe(201);
      const serviceKey = created.json().key as string;
      apiKeys.push(serviceKey);
      expect((await req('/api/v1/auth/whoami', { auth: { authorization: `Bearer ${serviceKey}` } })).status).toBe(200);
      const value = secretValue();
      secretValues.push(value);
      expect((await req('/api/v1/secrets/opc-ua', { method: 'PUT', body: { value } })).status).toBe(200);
      expect((await req('/api/v1/secrets/opc-ua/reveal', { method: 'POST' })).json().value).toBe(value);
      expect((await req('/api/v1/secrets/opc-ua', { method: 'PUT', body: { value, extra: 1 } })).status).toBe(400);
      expect((await req('/api/v1/topics', { auth: { authorization: `Bearer ${adminKey.slice(0, -2)}zz` } })).status).toBe(401);
      expect((await req('/api/v1/topics', { auth: { authorization: adminKey } })).status).toBe(401);
    } finally {
      proc.child.kill('SIGTERM');
      await proc.exited;
    }
    const output = proc.output.join('');
    const lines = output.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(10);
    expect(output).toContain(join(dir, 'admin.key'));
    const credentials = credentialsOf(dir, apiKeys, secretValues);
    expect(leaks(lines, credentials)).toEqual([]);
  });
});

const pgUp = await pgAvailable();

describe.skipIf(!pgUp)('no request payload in the logs when PostgreSQL refuses a statement', () => {
  it('logs the SQLSTATE and the constraint, never the detail, where, hint or message that quote the values', async () => {
    const schema = await freshPgSchema();
    const logs: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, cb) {
        logs.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
    const aios = await createAios({
      config: { dataDir: tmp('aios-logs-pg-'), databaseUrl: schema.url, retentionIntervalMs: 0, workflowConcurrency: 0, scheduler: 0 },
      env: {},
      logger: createLogger({ level: 'trace', destination }),
    });
    const token = `apiToken=${secretValue()}`;
    const admin = new pg.Client({ connectionString: schema.url });
    try {
      await aios.start();
      const adminKey = readFileSync(join(aios.config.dataDir, 'admin.key'), 'utf8').trim();
      // Three ways a statement fails with the row's values in the error: a CHECK constraint
      // ("Failing row contains (...)" in detail), a trigger's RAISE (message, detail and hint),
      // and a cast to jsonb in a trigger (detail "Token ... is invalid", where "JSON data, line 1: ...").
      await admin.connect();
      await admin.query(`alter table aios_secrets add constraint test_no_tokens check (description not like '%apiToken%')`);
      await admin.query(`create function test_refuse() returns trigger language plpgsql as $$
        begin raise exception 'refused %', new.description using detail = new.description, hint = new.description; end $$`);
      await admin.query(`create trigger test_refuse before insert on aios_topics for each row when (new.description like '%apiToken%') execute function test_refuse()`);
      await admin.query(`create function test_cast() returns trigger language plpgsql as $$ begin perform new.name::jsonb; return new; end $$`);
      await admin.query(`create trigger test_cast before insert on aios_api_keys for each row when (new.name like '%apiToken%') execute function test_cast()`);

      const requests: InjectOptions[] = [
        { method: 'PUT', url: '/api/v1/secrets/historian', payload: { value: 'v', description: token } },
        { method: 'POST', url: '/api/v1/topics', payload: { name: 'vibration', description: token } },
        // Invalid JSON only at its end, so that `where` quotes all of it up to there.
        { method: 'POST', url: '/api/v1/keys', payload: { name: `{"apiToken": "${token.slice('apiToken='.length)}",}`, roles: ['viewer'] } },
      ];
      for (const r of requests) {
        const res = await aios.http.inject({ ...r, headers: { authorization: `Bearer ${adminKey}` } });
        expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBe(500);
        expect(res.body).not.toContain('apiToken');
      }
    } finally {
      await admin.end().catch(() => undefined);
      await aios.stop();
      await schema.drop();
    }
    const failures = logs.filter((l) => l.includes('"msg":"request failed"')).map((l) => JSON.parse(l) as { err: Record<string, unknown> });
    // The log still says what failed: the SQLSTATE, and the constraint where there is one.
    expect(failures.map((f) => f.err.code)).toEqual(['23514', 'P0001', '22P02']);
    expect(failures[0].err.constraint).toBe('test_no_tokens');
    expect(failures[0].err.table).toBe('aios_secrets');
    const secret = token.slice('apiToken='.length);
    const found = logs.filter((l) => l.includes(secret) || [...Array(secret.length - 7).keys()].some((i) => l.includes(secret.slice(i, i + 8))));
    expect(found, 'log lines holding the token').toEqual([]);
  }, 60_000);
});
