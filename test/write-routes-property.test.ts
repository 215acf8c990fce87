import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { findNul, isNamespaceName } from '../src/core/index.ts';
import { routeInventory } from '../src/server/index.ts';
import { defineWorkflow } from '../src/workflows/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';

/*
 * Property tests over every write route (POST, PUT, PATCH, DELETE) of the inventory, on SQLite
 * and on PostgreSQL: random JSON, the route's own field names with wrong types, huge strings
 * (past the body limit too), malformed JSON, deep nesting, odd content types and odd path
 * parameters; NUL characters in body strings and keys, query values, path parameters and the
 * namespace header; integers beyond 2^53 and beyond int8; times outside what a clock reaches;
 * identifiers longer than any index takes, in multi-byte UTF-8 too. Each request goes out three
 * times: without credentials, with a wrong or revoked key, and with the admin key.
 *
 * Invariants: no answer is a 5xx; every 4xx is application/problem+json with a `code`; a request
 * without valid credentials gets 401 (unless it is malformed before authentication: a broken
 * path, or a NUL character in the URL or a header, which is 400 AIOS_VALIDATION whoever sends
 * it, or a namespace header that is not a namespace name, 400 AIOS_NAMESPACE_INVALID); a JSON body holding a NUL is a 400 (but on the append, which rejects such events one by
 * one); and a rejected request (>= 400) leaves every table as it was, except the audit trail
 * (denials and failures are audited by design) and aios_api_keys.last_used_at (touched when a
 * key is used).
 *
 * Failures print fast-check's seed and path; replay with FC_SEED=<seed> (the AIOS state carried
 * from earlier runs may differ, so a replay shows the input, not always the same answer).
 */

const BODY_LIMIT = 256 * 1024;
const RUNS = Number(process.env.FC_RUNS ?? 25);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const NS = 'default';

/** Written on every request, rejected or not, by design. */
const UNCOMPARED_TABLES = new Set(['aios_audit_log', 'aios_audit_head', 'aios_audit_checkpoints', 'aios_audit_checkpoint_chain']);
const UNCOMPARED_COLUMNS: Record<string, readonly string[]> = { aios_api_keys: ['last_used_at'] };
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

// ---- an AIOS per engine, seeded --------------------------------------------------------------

const SEED_TOPIC = {
  name: 'machines',
  keyField: 'machineId',
  partitions: 2,
  schema: { type: 'object', required: ['machineId', 'temp'], properties: { machineId: { type: 'string' }, temp: { type: 'number' } } },
};
const SEED_SECRET = 'db-password';
const SEED_GROUP = 'line-1';
const SEED_WORKFLOW = defineWorkflow('machine-check', { version: '1', input: { type: 'object', required: ['machineId'], properties: { machineId: { type: 'string' } } } }, async (ctx, input: { machineId: string }) => {
  await ctx.waitForSignal('approved');
  return input.machineId;
});
/** Never executed here (no worker): the run stays pending until a request cancels or terminates it. */
const SEED_RUN = 'seed-run';
const SEED_SCHEDULE = 'seed-schedule';

interface Engine {
  readonly name: string;
  readonly t: TestAios;
  readonly victim: { key: string; id: string };
  readonly revoked: { key: string; id: string };
  readonly originalPolicy: { text: string; hash: string };
  /** Per table (but the uncompared ones): row count and a hash over its rows, in any order. */
  snapshot(): Promise<Record<string, string>>;
  /** Puts back what earlier runs may have deleted or changed, before a run takes its snapshot. */
  reseed(): Promise<void>;
}

function rowHash(rows: readonly string[]): string {
  const h = createHash('sha256');
  for (const r of [...rows].sort()) h.update(r).update('\n');
  return h.digest('hex').slice(0, 16);
}

function sqliteSnapshot(t: TestAios): () => Promise<Record<string, string>> {
  const sqlite = t.aios.database.sqlite!;
  const selects = new Map<string, { all(): unknown[] }>();
  return async () => {
    const tables = sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
    const out: Record<string, string> = {};
    for (const table of tables) {
      if (UNCOMPARED_TABLES.has(table)) continue;
      let stmt = selects.get(table);
      if (!stmt) {
        const skip = UNCOMPARED_COLUMNS[table] ?? [];
        const cols = (sqlite.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]).filter((c) => !skip.includes(c));
        stmt = sqlite.prepare(`SELECT ${cols.map(quoteIdent).join(', ')} FROM ${quoteIdent(table)}`).raw();
        selects.set(table, stmt);
      }
      const rows = (stmt.all() as unknown[][]).map((row) => JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v)));
      out[table] = `${rows.length} rows, ${rowHash(rows)}`;
    }
    return out;
  };
}

/** The same through PostgreSQL itself: one statement hashing every table of the test's schema. */
function pgSnapshot(t: TestAios): () => Promise<Record<string, string>> {
  const db = t.aios.database.db;
  let statement: string | undefined;
  return async () => {
    if (!statement) {
      const cols = await sql<{ table_name: string; column_name: string }>`
        select table_name, column_name from information_schema.columns
        where table_schema = current_schema() order by table_name, ordinal_position`.execute(db);
      const byTable = new Map<string, string[]>();
      for (const c of cols.rows) {
        if (UNCOMPARED_TABLES.has(c.table_name) || (UNCOMPARED_COLUMNS[c.table_name] ?? []).includes(c.column_name)) continue;
        byTable.set(c.table_name, [...(byTable.get(c.table_name) ?? []), c.column_name]);
      }
      statement = [...byTable]
        .map(([table, columns]) => `select '${table}' as name, count(*)::int as n, md5(coalesce(string_agg(r::text, E'\\n' order by r::text), '')) as h from (select ${columns.map(quoteIdent).join(', ')} from ${quoteIdent(table)}) r`)
        .join(' union all ');
    }
    const r = await sql.raw<{ name: string; n: number; h: string }>(statement).execute(db);
    return Object.fromEntries(r.rows.map((x) => [x.name, `${x.n} rows, ${x.h.slice(0, 16)}`]).sort(([a], [b]) => a.localeCompare(b)));
  };
}

async function startEngine(name: string, config: Record<string, string | number>): Promise<Engine> {
  // No background work: no worker executes runs (nor heartbeats) and no scheduler fires, so every
  // change between two snapshots comes from the request under test.
  const t = await startTestAios({ bodyLimitBytes: BODY_LIMIT, rateLimitPrincipal: 0, rateLimitNamespace: 0, authFailureLimit: 0, workflowConcurrency: 0, scheduler: 0, ...config });
  t.aios.register(SEED_WORKFLOW);
  const admin = async (opts: InjectOptions) => {
    const r = await t.api(opts);
    if (r.statusCode >= 400) throw new Error(`seeding ${opts.method} ${opts.url} answered ${r.statusCode}: ${r.body}`);
    return r;
  };
  const createKey = async (keyName: string, roles: string[]) => {
    const r = (await admin({ method: 'POST', url: '/api/v1/keys', payload: { name: keyName, roles } })).json() as { key: string; info: { id: string } };
    return { key: r.key, id: r.info.id };
  };
  const victim = await createKey('victim', ['viewer']); // DELETE /keys/:id may revoke this one
  const revoked = await createKey('revoked', ['admin']);
  await admin({ method: 'DELETE', url: `/api/v1/keys/${revoked.id}` });
  const originalPolicy = await t.aios.governance.policies.current();
  const engine: Engine = {
    name,
    t,
    victim,
    revoked,
    originalPolicy,
    snapshot: t.aios.database.sqlite ? sqliteSnapshot(t) : pgSnapshot(t),
    async reseed() {
      const topic = await t.aios.events.getTopic(NS, SEED_TOPIC.name).catch(() => undefined);
      if (!topic || JSON.stringify(topic.schema) !== JSON.stringify(SEED_TOPIC.schema) || topic.retention.count !== null || topic.retention.ms !== null) {
        if (topic) await t.aios.events.deleteTopic(NS, SEED_TOPIC.name);
        await t.aios.events.createTopic(NS, SEED_TOPIC);
        const events = Array.from({ length: 6 }, (_, i) => ({ data: { machineId: `m${i % 3}`, temp: 20 + i } }));
        await t.aios.events.append(NS, SEED_TOPIC.name, events, { atomic: true });
        const fetched = (await admin({ method: 'POST', url: `/api/v1/topics/${SEED_TOPIC.name}/groups/${SEED_GROUP}/fetch`, payload: { max: 2 } })).json() as { events: { partition: number; offset: number }[] };
        const offsets = fetched.events.map((e) => ({ partition: e.partition, offset: e.offset }));
        await admin({ method: 'POST', url: `/api/v1/topics/${SEED_TOPIC.name}/groups/${SEED_GROUP}/commit`, payload: { offsets } });
      }
      const secret = await t.aios.governance.secrets.get(NS, SEED_SECRET).catch(() => undefined);
      if (!secret) await admin({ method: 'PUT', url: `/api/v1/secrets/${SEED_SECRET}`, payload: { value: 'hunter2' } });
      if (!(await t.aios.workflows.getRun(NS, SEED_RUN))) await t.aios.workflows.submit(NS, SEED_WORKFLOW.name, { machineId: 'm1' }, { id: SEED_RUN });
      if (!(await t.aios.schedules.get(NS, SEED_SCHEDULE))) await t.aios.schedules.create(NS, { id: SEED_SCHEDULE, workflow: SEED_WORKFLOW.name, cron: '@daily', createdBy: 'user:property-test' });
      if ((await t.aios.governance.policies.current()).hash !== originalPolicy.hash) await t.aios.governance.policies.put(originalPolicy.text, { comment: 'restored by the property test' });
    },
  };
  await engine.reseed();
  return engine;
}

const engines: Engine[] = [await startEngine('SQLite', {})];
const pgUp = await pgAvailable();
const pgSchema = pgUp ? await freshPgSchema() : undefined;
if (pgSchema) engines.push(await startEngine('PostgreSQL', { databaseUrl: pgSchema.url }));
afterAll(async () => {
  for (const e of engines) await e.t.cleanup();
  await pgSchema?.drop();
});

// ---- arbitraries that need no engine ---------------------------------------------------------

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
}

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const asciiString = (maxLength: number) => fc.string({ unit: printable, maxLength });
const sizeAbove = (min: number, max: number) => fc.integer({ min, max });

/** A string holding a NUL character somewhere: alone, at either end, or inside. */
const nulString: fc.Arbitrary<string> = fc.tuple(asciiString(12), asciiString(12)).map(([a, b]) => `${a}\u0000${b}`);

/** Integers a double holds only approximately (beyond 2^53), and beyond what int8 holds (2^63). */
const hugeInteger: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(2 ** 53, 2 ** 53 + 2, 2 ** 63, -(2 ** 63) - 4096, 2 ** 64, 1e19, 1e21, 1e300),
  fc.double({ min: 2 ** 53, max: 1e30, noNaN: true }).map(Math.floor),
);

/** Times a date-time format takes but no clock reaches, or that lie outside the epoch-ms range AIOS keeps. */
const oddTime: fc.Arbitrary<string | number> = fc.constantFrom(
  '0000-01-01T00:00:00Z',
  '1969-12-31T23:59:59Z',
  '9999-12-31T23:59:59.999Z',
  '2016-12-31T23:59:60Z',
  '2024-02-30T00:00:00Z',
  '2024-01-01T24:00:00Z',
  '+275760-09-13T00:00:00.001Z',
  '-000001-01-01T00:00:00Z',
  8.64e15 + 1,
  -1,
  2 ** 63,
);

/** Identifiers longer than an index takes: ASCII, 2-, 3- and 4-byte UTF-8 (a PostgreSQL index row holds 2,704 bytes). */
const longIdentifier: fc.Arbitrary<string> = fc
  .tuple(fc.constantFrom('x', 'é', '€', '😀'), fc.integer({ min: 200, max: 3000 }))
  .map(([c, n]) => c.repeat(n));

/** Values of a wrong type, or of the right type but out of range, for any field. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, '', ' ', [], {}, '__proto__', 'constructor', '1', 'true', 'null', '\u0000', '\ud800'),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  sizeAbove(2_000, 70_000).map((n) => 'x'.repeat(n)),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
  nulString,
  nulString.map((k) => ({ [k]: 1 })),
  fc.tuple(asciiString(8), nulString).map(([k, v]) => ({ [k]: [v] })),
  hugeInteger,
  oddTime,
  longIdentifier,
);

const MALFORMED = ['{', '{"a":', '[1,2', '{"value":"x",}', '{"name":"a"}{"name":"b"}', "{'name':'a'}", 'nul', 'NaN', '{"a":1e999999}', '"\\ud800"', '\u0000', '\ufeff{}', '{"a":"\\x"}', '[' + ']'.repeat(3)];

interface Body {
  readonly kind: string;
  readonly payload: string | undefined;
}

const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      undefined,
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'text/plain',
      'application/x-ndjson',
      'application/cloudevents+json',
      'application/cloudevents-batch+json',
      'application/octet-stream',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      '',
    ),
  },
  { weight: 1, arbitrary: asciiString(40) },
);

const query = fc.option(
  fc.oneof(
    fc.constantFrom('atomic=true', 'atomic=false', 'atomic=maybe', 'atomic=true&atomic=false', 'limit=-1', 'a=%ZZ'),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((q) => `${encodeURIComponent(q)}=${encodeURIComponent(q)}`),
    fc.constantFrom('atomic=true%00', 'atomic=%00', '%00=1', 'a%00b=true', 'atomic=true&x=%00'),
    nulString.map((s) => `atomic=true&${encodeURIComponent(s)}=${encodeURIComponent(s)}`),
    hugeInteger.map((n) => `limit=${BigInt(n)}&after=${BigInt(n)}&atomic=${BigInt(n)}`),
  ),
  { freq: 3 },
);

const namespaceHeader = fc.option(
  fc.oneof(
    { weight: 4, arbitrary: fc.oneof(fc.constantFrom('default', 'other', '*', ''), asciiString(30)) },
    { weight: 1, arbitrary: nulString },
    // Longer than any index takes: random, so that PostgreSQL cannot compress it into an index row.
    { weight: 1, arbitrary: fc.string({ unit: printable, minLength: 200, maxLength: 3000 }) },
  ),
  { freq: 5 },
);

function decoded(s: string): string | undefined {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/**
 * The router refuses a path whose percent-encoding is broken, or whose parameter is longer than
 * Fastify's maxParamLength (100), before any route or hook runs: so before authentication too.
 */
/** The guard refuses a namespace header that is not a namespace name (or `*`) before authentication. */
const validNamespaceHeader = (ns: string | null) => ns === null || ns === '' || ns === '*' || isNamespaceName(ns);

function refusedByRouter(url: string): boolean {
  return url.split('?')[0].split('/').some((s) => s.length > 100 || decoded(s) === undefined);
}

/** A NUL character in a path segment, the query string or a header: refused before authentication, like a broken path. */
function nulOutsideBody(req: WriteRequest): boolean {
  const [path, qs = ''] = req.url.split(/\?(.*)/s);
  return [...path.split('/'), ...qs.split(/[&=]/)].some((s) => decoded(s)?.includes('\u0000')) || (req.namespace?.includes('\u0000') ?? false);
}

/** A JSON body (as the JSON parser reads it) holding a NUL character in a string or a key. */
function nulInJsonBody(req: WriteRequest): boolean {
  if (req.contentType !== 'application/json' || req.body.payload === undefined || req.body.payload.length > BODY_LIMIT) return false;
  try {
    return findNul(JSON.parse(req.body.payload)) !== undefined;
  } catch {
    return false;
  }
}

interface WriteRequest {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly namespace: string | null;
  readonly body: Body;
}

function describeRequest(req: WriteRequest, auth: string): string {
  const p = req.body.payload;
  const shown = p === undefined ? '(no body)' : p.length > 300 ? `${JSON.stringify(p.slice(0, 300))}... (${p.length} chars)` : JSON.stringify(p);
  const url = req.url.length > 200 ? `${req.url.slice(0, 200)}... (${req.url.length} chars)` : req.url;
  const ns = req.namespace !== null && req.namespace.length > 60 ? `${JSON.stringify(req.namespace.slice(0, 60))}... (${req.namespace.length} chars)` : JSON.stringify(req.namespace);
  return `${auth}: ${req.method} ${url} content-type=${JSON.stringify(req.contentType)} ns=${ns} body[${req.body.kind}]=${shown}`;
}

function expectWellFormed(res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    expect(res.headers['content-type'], `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toMatch(/^application\/problem\+json/);
    const code = (JSON.parse(res.body) as { code?: unknown }).code;
    expect(typeof code, `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toBe('string');
  }
}

const routeKey = (r: { method: string; url: string }) => `${r.method} ${r.url}`;

// ---- arbitraries that name what an engine holds, and the property ------------------------------

async function propertiesOf(engine: Engine) {
  const { t, victim, revoked, originalPolicy } = engine;
  const adminKeyId = t.adminKey.split('_').slice(0, 2).join('_');

  /** Valid-looking values per path parameter name; random strings are drawn as well. */
  const PARAM_SAMPLES: Record<string, string[]> = {
    topic: [SEED_TOPIC.name, 'no-such-topic'],
    group: [SEED_GROUP, 'other-group'],
    id: [victim.id, revoked.id, 'aios_abcdefghijkm', SEED_RUN, SEED_SCHEDULE],
    name: [SEED_SECRET, 'no-such-secret', 'approved'],
  };
  // Never revoke the key the test itself uses.
  if (PARAM_SAMPLES.id.includes(adminKeyId)) throw new Error('the admin key id must not be a sample');

  /** The request body schema of each operation, from the API's own OpenAPI description. */
  const openapi = (await t.api({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>> };
  function bodySchemaOf(method: string, url: string): JsonSchema | undefined {
    const path = url.replace(/:(\w+)/g, '{$1}');
    return openapi.paths[path]?.[method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema;
  }

  /** Values chosen for a few field names: valid enough to reach the handler, but bounded. */
  const FIELD_VALUES: Record<string, fc.Arbitrary<unknown>> = {
    // A valid fetch may wait up to 30 s; keep waits short so the run stays fast.
    waitMs: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(-1, 30_001, 1.5, '5', null, 'x', [], {}), hugeInteger),
    data: fc.oneof(
      fc.record({ machineId: fc.string({ maxLength: 12 }), temp: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
      fc.record({ machineId: wrongValue, temp: wrongValue }, { requiredKeys: [] }),
      fc.record({ machineId: nulString, temp: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
      fc.jsonValue({ maxDepth: 3 }),
    ),
    text: fc.oneof(fc.constant(originalPolicy.text), fc.constantFrom('permit(', 'forbid(principal, action, resource) when { 1 };', '@id("x") permit(principal, action == Action::"nope", resource);'), asciiString(200), fc.constant(`${originalPolicy.text}\n// \u0000`)),
  };

  /** Valid values mixed into a field's draws, where a field must name something that exists to get far. */
  const FIELD_SAMPLES: Record<string, unknown[]> = {
    name: [SEED_WORKFLOW.name],
    workflow: [SEED_WORKFLOW.name],
    input: [{ machineId: 'm1' }, { machineId: 'm\u00001' }],
    cron: ['*/5 * * * *', '@daily'],
    timezone: ['Europe/Berlin'],
  };

  /** A value that matches the schema (as far as a random draw goes). */
  function fitting(s: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
    if (s.enum) return fc.constantFrom(...s.enum);
    if (s.anyOf) return fc.oneof(...s.anyOf.map((x) => fitting(x, depth + 1)));
    switch (s.type) {
      case 'string':
        if (s.format === 'date-time') return fc.oneof({ weight: 4, arbitrary: fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('2200-01-01') }).map((d) => d.toISOString()) }, { weight: 1, arbitrary: oddTime });
        if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
        return fc.string({ unit: 'grapheme', maxLength: Math.min(s.maxLength ?? 40, 40) });
      case 'integer':
        return fc.oneof({ weight: 5, arbitrary: fc.integer({ min: s.minimum ?? -1000, max: Math.min(s.maximum ?? 1000, 1000) }) }, { weight: 1, arbitrary: hugeInteger });
      case 'number':
        return fc.double({ noNaN: true, noDefaultInfinity: true });
      case 'boolean':
        return fc.boolean();
      case 'array':
        return fc.array(s.items && depth < 4 ? fitting(s.items, depth + 1) : fc.jsonValue({ maxDepth: 1 }), { maxLength: 4 });
      case 'object':
        if (s.properties && Object.keys(s.properties).length && depth < 4) return shaped(s, depth + 1);
        return fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 });
      default:
        return fc.jsonValue({ maxDepth: 3 });
    }
  }

  /** An object with the schema's field names: each value fits, or has a wrong type; some fields are missing, some extra. */
  function shaped(s: JsonSchema, depth = 0): fc.Arbitrary<Record<string, unknown>> {
    const fields: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [name, sub] of Object.entries(s.properties ?? {})) {
      const samples = FIELD_SAMPLES[name] ? [{ weight: 2, arbitrary: fc.constantFrom(...FIELD_SAMPLES[name]) }] : [];
      fields[name] = FIELD_VALUES[name] ?? fc.oneof({ weight: 3, arbitrary: fitting(sub, depth) }, { weight: 1, arbitrary: wrongValue }, ...samples);
    }
    return fc
      .tuple(fc.record(fields, { requiredKeys: [] }), fc.option(fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', '', 'a\u0000b'), wrongValue), { freq: 4 }))
      .map(([obj, extra]) => (extra ? { ...obj, [extra[0]]: extra[1] } : obj));
  }

  /** Field names of a body schema, through unions and arrays (the append route takes an event or an array of them). */
  function objectSchemaOf(s: JsonSchema | undefined): JsonSchema | undefined {
    if (!s) return undefined;
    if (s.properties) return s;
    for (const alt of s.anyOf ?? []) {
      const found = objectSchemaOf(alt.type === 'array' ? alt.items : alt);
      if (found) return found;
    }
    return s.items ? objectSchemaOf(s.items) : undefined;
  }

  function bodyFor(s: JsonSchema | undefined): fc.Arbitrary<Body> {
    const obj = objectSchemaOf(s);
    const someObject = obj ? shaped(obj) : fc.dictionary(fc.string({ maxLength: 10 }), wrongValue, { maxKeys: 4 });
    const fieldName = obj ? fc.constantFrom(...Object.keys(obj.properties ?? { x: {} })) : fc.constant('value');
    const json = (kind: string) => (v: unknown): Body => ({ kind, payload: JSON.stringify(v) });
    return fc.oneof(
      { weight: 3, arbitrary: fc.jsonValue().map(json('json')) },
      { weight: 5, arbitrary: someObject.map(json('shaped')) },
      { weight: 2, arbitrary: fc.array(someObject, { maxLength: 4 }).map(json('array')) },
      // One field holding a NUL character, or a number beyond int8 written out in full (JSON.stringify would round it).
      { weight: 1, arbitrary: fc.tuple(someObject, fieldName, nulString).map(([o, f, v]): Body => ({ kind: 'nul', payload: JSON.stringify({ ...o, [f]: v }) })) },
      { weight: 1, arbitrary: fc.tuple(fieldName, fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n })).map(([f, n]): Body => ({ kind: 'huge-integer', payload: `{"${f}":${n},"offsets":[{"partition":0,"offset":${n}}],"max":${n}}` })) },
      { weight: 1, arbitrary: fc.tuple(fieldName, sizeAbove(100_000, 2_000_000)).map(([f, n]): Body => ({ kind: `huge-field(${n})`, payload: JSON.stringify({ [f]: 'x'.repeat(n) }) })) },
      { weight: 1, arbitrary: sizeAbove(100_000, 2_000_000).map((n): Body => ({ kind: `huge-raw(${n})`, payload: 'x'.repeat(n) })) },
      // Nesting a JSON parser accepts, deeper than any recursive walk of the value survives.
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 10_000, max: 100_000 }), fieldName).map(([d, f]): Body => ({ kind: `deep(${d})`, payload: `{"${f}":${'['.repeat(d)}${']'.repeat(d)}}` })) },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...MALFORMED), fc.string({ unit: 'grapheme', maxLength: 60 })).map((p): Body => ({ kind: 'malformed', payload: p })) },
      { weight: 1, arbitrary: fc.constantFrom<Body>({ kind: 'none', payload: undefined }, { kind: 'empty', payload: '' }) },
    );
  }

  /** A path parameter: a sample, or something odd. Raw values go into the path as they are. */
  const paramValue = (name: string): fc.Arbitrary<{ raw: boolean; value: string }> =>
    fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...(PARAM_SAMPLES[name] ?? ['x'])).map((value) => ({ raw: false, value })) },
      { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map((value) => ({ raw: false, value })) },
      { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,30}$/).map((value) => ({ raw: false, value })) },
      { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 101, maxLength: 3000 }).map((value) => ({ raw: false, value })) },
      { weight: 1, arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%ZZ', '%c0%af', '%', 'a%20b', `${PARAM_SAMPLES[name]?.[0] ?? 'x'}%00`).map((value) => ({ raw: true, value })) },
      { weight: 1, arbitrary: nulString.map((value) => ({ raw: false, value })) },
      // Multi-byte characters under the router's 100-character cap, and over it.
      { weight: 1, arbitrary: fc.tuple(fc.constantFrom('é', '€', '😀'), fc.integer({ min: 20, max: 200 })).map(([c, n]) => ({ raw: false, value: c.repeat(n) })) },
    );

  /** Credentials that must not get in. */
  const wrongAuth: fc.Arbitrary<string> = fc.oneof(
    fc.constant(`Bearer ${revoked.key}`),
    fc.constant(`Bearer ${t.adminKey.slice(0, -4)}AAAA`),
    fc.constant(`Bearer ${t.adminKey}x`),
    fc.constant(t.adminKey),
    fc.constant(`Basic ${Buffer.from(`admin:${t.adminKey}`).toString('base64')}`),
    fc.constant('Bearer'),
    fc.constant(''),
    fc.stringMatching(/^aios_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$/).map((k) => `Bearer ${k}`),
    asciiString(60).map((s) => `Bearer ${s}`),
  );

  function requestFor(route: { method: string; url: string }): fc.Arbitrary<WriteRequest> {
    const names = [...route.url.matchAll(/:(\w+)/g)].map((m) => m[1]);
    const params = fc.tuple(...names.map(paramValue));
    return fc.record({ params, query, contentType, namespace: namespaceHeader, body: bodyFor(bodySchemaOf(route.method, route.url)) }).map((r) => {
      let i = 0;
      const path = route.url.replace(/:(\w+)/g, () => {
        const p = r.params[i++];
        return p.raw ? p.value : encodeURIComponent(p.value);
      });
      return { method: route.method, url: r.query === null ? path : `${path}?${r.query}`, contentType: r.contentType, namespace: r.namespace, body: r.body };
    });
  }

  function send(req: WriteRequest, authorization: string | undefined): Promise<LightMyRequestResponse> {
    const headers: Record<string, string> = {};
    if (authorization !== undefined) headers.authorization = authorization;
    if (req.contentType !== undefined) headers['content-type'] = req.contentType;
    if (req.namespace !== null) headers['x-aios-namespace'] = req.namespace;
    return t.aios.http.inject({ method: req.method as InjectOptions['method'], url: req.url, headers, payload: req.body.payload });
  }

  return { requestFor, wrongAuth, send };
}

for (const engine of engines) {
  const { t } = engine;
  const { requestFor, wrongAuth, send } = await propertiesOf(engine);
  const writeRoutes = routeInventory(t.aios.http).filter((r) => WRITE_METHODS.has(r.method));
  /** Per route: requests sent, admin requests that got past authentication, and whether every run passed. */
  const exercised = new Map<string, { sent: number; pastTheGate: number; passed: boolean }>();

  describe(`write routes under random input, on ${engine.name}`, () => {
    it('the inventory has the write routes this test is meant to cover', () => {
      expect(writeRoutes.length).toBeGreaterThanOrEqual(13);
    });

    it('the snapshot notices a write, and ignores only what it should', async () => {
      const before = await engine.snapshot();
      expect(Object.keys(before)).toEqual(expect.arrayContaining(['aios_topics', 'aios_events', 'aios_api_keys', 'aios_secrets', 'aios_lineage_nodes', 'aios_policy_sets', 'aios_wf_runs', 'aios_wf_schedules']));
      expect(Object.keys(before).filter((k) => k.startsWith('aios_audit'))).toEqual([]);
      await t.api({ method: 'PUT', url: `/api/v1/secrets/${SEED_SECRET}`, payload: { value: 'same length, new value' } });
      expect((await engine.snapshot()).aios_secrets).not.toBe(before.aios_secrets);
      const mid = await engine.snapshot();
      expect((await t.api({ method: 'POST', url: `/api/v1/topics/${SEED_TOPIC.name}/events`, payload: { data: { machineId: 'm9', temp: 1 } } })).statusCode).toBe(200);
      const after = await engine.snapshot();
      expect(after.aios_events).not.toBe(mid.aios_events);
      expect(after.aios_lineage_nodes).not.toBe(mid.aios_lineage_nodes);
      // A cancel changes one column of one run: the hash covers every column.
      await t.api({ method: 'POST', url: `/api/v1/workflows/${SEED_RUN}/cancel`, payload: {} });
      expect((await engine.snapshot()).aios_wf_runs).not.toBe(after.aios_wf_runs);
    });

    for (const route of writeRoutes) {
      it(`${route.method} ${route.url}: no 5xx, problem+json 4xx, 401 without valid credentials, nothing written when rejected`, async () => {
        const stats = { sent: 0, pastTheGate: 0, passed: false };
        exercised.set(routeKey(route), stats);
        await fc.assert(
          fc.asyncProperty(requestFor(route), wrongAuth, async (req, wrong) => {
            await engine.reseed();
            const before = await engine.snapshot();
            const sends: [string, string | undefined][] = [['no credentials', undefined], [`wrong credentials ${JSON.stringify(wrong.slice(0, 40))}`, wrong], ['admin key', `Bearer ${t.adminKey}`]];
            for (const [label, authorization] of sends) {
              const what = describeRequest(req, label);
              const res = await send(req, authorization);
              stats.sent++;
              expectWellFormed(res, what);
              const code = res.statusCode >= 400 ? (JSON.parse(res.body) as { code: string }).code : undefined;
              if (!refusedByRouter(req.url) && nulOutsideBody(req)) {
                // One rule on both engines, whoever asks: a NUL character is a 400 naming the field.
                expect([res.statusCode, code], `${what}\n→ ${res.body.slice(0, 300)}`).toEqual([400, 'AIOS_VALIDATION']);
              } else if (authorization !== `Bearer ${t.adminKey}`) {
                if (refusedByRouter(req.url)) expect(res.statusCode, what).toBeGreaterThanOrEqual(400);
                else if (!validNamespaceHeader(req.namespace)) expect(code, what).toBe('AIOS_NAMESPACE_INVALID');
                else expect(res.statusCode, `${what}\n→ ${res.body.slice(0, 300)}`).toBe(401);
              } else {
                if (res.statusCode !== 401 && res.statusCode !== 403) stats.pastTheGate++;
                // Only the append takes a NUL in its body, to reject that item alone (207 or 422).
                if (nulInJsonBody(req) && route.url !== '/api/v1/topics/:topic/events') expect(res.statusCode, `${what}\n→ ${res.body.slice(0, 300)}`).toBe(400);
              }
              if (res.statusCode >= 400) expect(await engine.snapshot(), `${what}\n→ ${res.statusCode}: the rejected request wrote`).toEqual(before);
            }
          }),
          {
            numRuns: RUNS,
            seed: process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined,
            // Shrinking megabyte bodies can take long; stop it in time to report the seed and the input.
            interruptAfterTimeLimit: 40_000,
          },
        );
        stats.passed = true;
      });
    }

    it('every write route in the inventory was exercised, and got past authentication with the admin key', () => {
      const now = routeInventory(t.aios.http).filter((r) => WRITE_METHODS.has(r.method));
      expect(now.filter((r) => !exercised.has(routeKey(r))).map(routeKey), 'write routes this test did not exercise').toEqual([]);
      // A route whose property failed is reported by its own test; the others must have had every run.
      const passed = now.filter((r) => exercised.get(routeKey(r))?.passed);
      expect(passed.filter((r) => exercised.get(routeKey(r))!.sent < RUNS * 3).map(routeKey), 'write routes cut short (time limit)').toEqual([]);
      expect(passed.filter((r) => exercised.get(routeKey(r))!.pastTheGate === 0).map(routeKey), 'write routes whose admin requests never got past authentication').toEqual([]);
    });
  });
}
