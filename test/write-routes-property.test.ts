import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { routeInventory } from '../src/server/index.ts';
import { defineWorkflow } from '../src/workflows/index.ts';
import { startTestAios } from './support/runtime.ts';

/*
 * Property tests over every write route (POST, PUT, PATCH, DELETE) of the inventory: random
 * JSON, the route's own field names with wrong types, huge strings (past the body limit too),
 * malformed JSON, deep nesting, odd content types and odd path parameters. Each request goes
 * out three times: without credentials, with a wrong or revoked key, and with the admin key.
 *
 * Invariants: no answer is a 5xx; every 4xx is application/problem+json with a `code`; a request
 * without valid credentials gets 401; and a rejected request (>= 400) leaves every table as it
 * was, except the audit trail (denials and failures are audited by design) and
 * aios_api_keys.last_used_at (touched when a key is used).
 *
 * Failures print fast-check's seed and path; replay with FC_SEED=<seed> (the AIOS state carried
 * from earlier runs may differ, so a replay shows the input, not always the same answer).
 */

const BODY_LIMIT = 256 * 1024;
const RUNS = Number(process.env.FC_RUNS ?? 25);
const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

// No background work: no worker executes runs (nor heartbeats) and no scheduler fires, so every
// change between two snapshots comes from the request under test.
const t = await startTestAios({ bodyLimitBytes: BODY_LIMIT, rateLimitPrincipal: 0, rateLimitNamespace: 0, workflowConcurrency: 0, scheduler: 0 });
afterAll(() => t.cleanup());

const sqlite = t.aios.database.sqlite;
if (!sqlite) throw new Error('this test reads the embedded SQLite database');

// ---- seed -------------------------------------------------------------------------------------

const NS = 'default';
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
t.aios.register(SEED_WORKFLOW);
/** Never executed here (no worker): the run stays pending until a request cancels or terminates it. */
const SEED_RUN = 'seed-run';
const SEED_SCHEDULE = 'seed-schedule';

async function admin(opts: InjectOptions): Promise<LightMyRequestResponse> {
  const r = await t.api(opts);
  if (r.statusCode >= 400) throw new Error(`seeding ${opts.method} ${opts.url} answered ${r.statusCode}: ${r.body}`);
  return r;
}

async function createKey(name: string, roles: string[]): Promise<{ key: string; id: string }> {
  const r = (await admin({ method: 'POST', url: '/api/v1/keys', payload: { name, roles } })).json() as { key: string; info: { id: string } };
  return { key: r.key, id: r.info.id };
}

const victim = await createKey('victim', ['viewer']); // DELETE /keys/:id may revoke this one
const revoked = await createKey('revoked', ['admin']);
await admin({ method: 'DELETE', url: `/api/v1/keys/${revoked.id}` });
const adminKeyId = t.adminKey.split('_').slice(0, 2).join('_');
const originalPolicy = await t.aios.governance.policies.current();

/** Puts back what earlier runs may have deleted or changed, before a run takes its snapshot. */
async function reseed(): Promise<void> {
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
}
await reseed();

/** Valid-looking values per path parameter name; random strings are drawn as well. */
const PARAM_SAMPLES: Record<string, string[]> = {
  topic: [SEED_TOPIC.name, 'no-such-topic'],
  group: [SEED_GROUP, 'other-group'],
  id: [victim.id, revoked.id, 'aios_abcdefghijkm', SEED_RUN, SEED_SCHEDULE],
  name: [SEED_SECRET, 'no-such-secret', 'approved'],
};
// Never revoke the key the test itself uses.
if (PARAM_SAMPLES.id.includes(adminKeyId)) throw new Error('the admin key id must not be a sample');

// ---- database snapshot ------------------------------------------------------------------------

/** Written on every request, rejected or not, by design. */
const UNCOMPARED_TABLES = new Set(['aios_audit_log', 'aios_audit_head', 'aios_audit_checkpoints']);
const UNCOMPARED_COLUMNS: Record<string, readonly string[]> = { aios_api_keys: ['last_used_at'] };
const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;
const selects = new Map<string, { all(): unknown[] }>();

/** Per table: row count and a sha256 over every row (every column but the uncompared ones). */
function snapshot(): Record<string, string> {
  const tables = sqlite!.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all() as string[];
  const out: Record<string, string> = {};
  for (const table of tables) {
    if (UNCOMPARED_TABLES.has(table)) continue;
    let stmt = selects.get(table);
    if (!stmt) {
      const skip = UNCOMPARED_COLUMNS[table] ?? [];
      const cols = (sqlite!.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]).filter((c) => !skip.includes(c));
      stmt = sqlite!.prepare(`SELECT ${cols.map(quoteIdent).join(', ')} FROM ${quoteIdent(table)}`).raw();
      selects.set(table, stmt);
    }
    const rows = stmt.all() as unknown[][];
    const h = createHash('sha256');
    for (const row of rows) h.update(JSON.stringify(row, (_k, v) => (typeof v === 'bigint' ? v.toString() : Buffer.isBuffer(v) ? v.toString('base64') : v))).update('\n');
    out[table] = `${rows.length} rows, ${h.digest('hex').slice(0, 16)}`;
  }
  return out;
}

// ---- arbitraries ------------------------------------------------------------------------------

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

/** The request body schema of each operation, from the API's own OpenAPI description. */
const openapi = (await admin({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, { schema?: JsonSchema }> } }>> };
function bodySchemaOf(method: string, url: string): JsonSchema | undefined {
  const path = url.replace(/:(\w+)/g, '{$1}');
  return openapi.paths[path]?.[method.toLowerCase()]?.requestBody?.content?.['application/json']?.schema;
}

const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
const asciiString = (maxLength: number) => fc.string({ unit: printable, maxLength });
const sizeAbove = (min: number, max: number) => fc.integer({ min, max });

/** Values of a wrong type, or of the right type but out of range, for any field. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, '', ' ', [], {}, '__proto__', 'constructor', '1', 'true', 'null', '\u0000', '\ud800'),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  sizeAbove(2_000, 70_000).map((n) => 'x'.repeat(n)),
  fc.dictionary(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }),
);

/** Values chosen for a few field names: valid enough to reach the handler, but bounded. */
const FIELD_VALUES: Record<string, fc.Arbitrary<unknown>> = {
  // A valid fetch may wait up to 30 s; keep waits short so the run stays fast.
  waitMs: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.constantFrom(-1, 30_001, 1.5, '5', null, 'x', [], {})),
  data: fc.oneof(
    fc.record({ machineId: fc.string({ maxLength: 12 }), temp: fc.double({ noNaN: true, noDefaultInfinity: true }) }),
    fc.record({ machineId: wrongValue, temp: wrongValue }, { requiredKeys: [] }),
    fc.jsonValue({ maxDepth: 3 }),
  ),
  text: fc.oneof(fc.constant(originalPolicy.text), fc.constantFrom('permit(', 'forbid(principal, action, resource) when { 1 };', '@id("x") permit(principal, action == Action::"nope", resource);'), asciiString(200)),
};

/** Valid values mixed into a field's draws, where a field must name something that exists to get far. */
const FIELD_SAMPLES: Record<string, unknown[]> = {
  name: [SEED_WORKFLOW.name],
  workflow: [SEED_WORKFLOW.name],
  input: [{ machineId: 'm1' }],
  cron: ['*/5 * * * *', '@daily'],
  timezone: ['Europe/Berlin'],
};

/** A value that matches the schema (as far as a random draw goes). */
function fitting(s: JsonSchema, depth = 0): fc.Arbitrary<unknown> {
  if (s.enum) return fc.constantFrom(...s.enum);
  if (s.anyOf) return fc.oneof(...s.anyOf.map((x) => fitting(x, depth + 1)));
  switch (s.type) {
    case 'string':
      if (s.format === 'date-time') return fc.date({ noInvalidDate: true, min: new Date(0), max: new Date('2200-01-01') }).map((d) => d.toISOString());
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      return fc.string({ unit: 'grapheme', maxLength: Math.min(s.maxLength ?? 40, 40) });
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1000, max: Math.min(s.maximum ?? 1000, 1000) });
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
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.option(fc.tuple(fc.constantFrom('extra', '__proto__', 'constructor', ''), wrongValue), { freq: 4 }))
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

const MALFORMED = ['{', '{"a":', '[1,2', '{"value":"x",}', '{"name":"a"}{"name":"b"}', "{'name':'a'}", 'nul', 'NaN', '{"a":1e999999}', '"\\ud800"', '\u0000', '\ufeff{}', '{"a":"\\x"}', '[' + ']'.repeat(3)];

interface Body {
  readonly kind: string;
  readonly payload: string | undefined;
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
    { weight: 1, arbitrary: fc.tuple(fieldName, sizeAbove(100_000, 2_000_000)).map(([f, n]): Body => ({ kind: `huge-field(${n})`, payload: JSON.stringify({ [f]: 'x'.repeat(n) }) })) },
    { weight: 1, arbitrary: sizeAbove(100_000, 2_000_000).map((n): Body => ({ kind: `huge-raw(${n})`, payload: 'x'.repeat(n) })) },
    // Nesting a JSON parser accepts, deeper than any recursive walk of the value survives.
    { weight: 1, arbitrary: fc.tuple(fc.integer({ min: 10_000, max: 100_000 }), fieldName).map(([d, f]): Body => ({ kind: `deep(${d})`, payload: `{"${f}":${'['.repeat(d)}${']'.repeat(d)}}` })) },
    { weight: 2, arbitrary: fc.oneof(fc.constantFrom(...MALFORMED), fc.string({ unit: 'grapheme', maxLength: 60 })).map((p): Body => ({ kind: 'malformed', payload: p })) },
    { weight: 1, arbitrary: fc.constantFrom<Body>({ kind: 'none', payload: undefined }, { kind: 'empty', payload: '' }) },
  );
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

/** A path parameter: a sample, or something odd. Raw values go into the path as they are. */
const paramValue = (name: string): fc.Arbitrary<{ raw: boolean; value: string }> =>
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(...(PARAM_SAMPLES[name] ?? ['x'])).map((value) => ({ raw: false, value })) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }).map((value) => ({ raw: false, value })) },
    { weight: 1, arbitrary: fc.stringMatching(/^[a-z0-9][a-z0-9_-]{0,30}$/).map((value) => ({ raw: false, value })) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 101, maxLength: 3000 }).map((value) => ({ raw: false, value })) },
    { weight: 1, arbitrary: fc.constantFrom('..', '.', '%2e%2e', '%2F', '%00', '%ZZ', '%c0%af', '%', 'a%20b').map((value) => ({ raw: true, value })) },
  );

const query = fc.option(
  fc.oneof(
    fc.constantFrom('atomic=true', 'atomic=false', 'atomic=maybe', 'atomic=true&atomic=false', 'limit=-1', 'a=%ZZ'),
    fc.string({ unit: 'grapheme', maxLength: 30 }).map((q) => `${encodeURIComponent(q)}=${encodeURIComponent(q)}`),
  ),
  { freq: 3 },
);

const namespaceHeader = fc.option(fc.oneof(fc.constantFrom('default', 'other', '*', ''), asciiString(30)), { freq: 5 });

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

interface WriteRequest {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly namespace: string | null;
  readonly body: Body;
}

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

// ---- the property -----------------------------------------------------------------------------

const writeRoutes = routeInventory(t.aios.http).filter((r) => WRITE_METHODS.has(r.method));
/** Per route: requests sent, admin requests that got past authentication, and whether every run passed. */
const exercised = new Map<string, { sent: number; pastTheGate: number; passed: boolean }>();
const routeKey = (r: { method: string; url: string }) => `${r.method} ${r.url}`;

function describeRequest(req: WriteRequest, auth: string): string {
  const p = req.body.payload;
  const shown = p === undefined ? '(no body)' : p.length > 300 ? `${JSON.stringify(p.slice(0, 300))}... (${p.length} chars)` : JSON.stringify(p);
  const url = req.url.length > 200 ? `${req.url.slice(0, 200)}... (${req.url.length} chars)` : req.url;
  return `${auth}: ${req.method} ${url} content-type=${JSON.stringify(req.contentType)} ns=${JSON.stringify(req.namespace)} body[${req.body.kind}]=${shown}`;
}

function send(req: WriteRequest, authorization: string | undefined): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (req.contentType !== undefined) headers['content-type'] = req.contentType;
  if (req.namespace !== null) headers['x-aios-namespace'] = req.namespace;
  return t.aios.http.inject({ method: req.method as InjectOptions['method'], url: req.url, headers, payload: req.body.payload });
}

/**
 * The router refuses a path whose percent-encoding is broken, or whose parameter is longer than
 * Fastify's maxParamLength (100), before any route or hook runs: so before authentication too.
 */
function refusedByRouter(url: string): boolean {
  const segments = url.split('?')[0].split('/');
  return segments.some((s) => s.length > 100) || segments.some((s) => {
    try {
      decodeURIComponent(s);
      return false;
    } catch {
      return true;
    }
  });
}

function expectWellFormed(res: LightMyRequestResponse, what: string): void {
  expect(res.statusCode, `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toBeLessThan(500);
  if (res.statusCode >= 400) {
    expect(res.headers['content-type'], `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toMatch(/^application\/problem\+json/);
    const code = (JSON.parse(res.body) as { code?: unknown }).code;
    expect(typeof code, `${what}\n→ ${res.statusCode} ${res.body.slice(0, 500)}`).toBe('string');
  }
}

describe('write routes under random input', () => {
  it('the inventory has the write routes this test is meant to cover', () => {
    expect(writeRoutes.length).toBeGreaterThanOrEqual(13);
  });

  it('the snapshot notices a write, and ignores only what it should', async () => {
    const before = snapshot();
    expect(Object.keys(before)).toEqual(expect.arrayContaining(['aios_topics', 'aios_events', 'aios_api_keys', 'aios_secrets', 'aios_lineage_nodes', 'aios_policy_sets']));
    expect(Object.keys(before).filter((k) => k.startsWith('aios_audit'))).toEqual([]);
    await admin({ method: 'PUT', url: `/api/v1/secrets/${SEED_SECRET}`, payload: { value: 'same length, new value' } });
    expect(snapshot().aios_secrets).not.toBe(before.aios_secrets);
    const mid = snapshot();
    await admin({ method: 'POST', url: `/api/v1/topics/${SEED_TOPIC.name}/events`, payload: { data: { machineId: 'm9', temp: 1 } } });
    const after = snapshot();
    expect(after.aios_events).not.toBe(mid.aios_events);
    expect(after.aios_lineage_nodes).not.toBe(mid.aios_lineage_nodes);
  });

  for (const route of writeRoutes) {
    it(`${route.method} ${route.url}: no 5xx, problem+json 4xx, 401 without valid credentials, nothing written when rejected`, async () => {
      const stats = { sent: 0, pastTheGate: 0, passed: false };
      exercised.set(routeKey(route), stats);
      await fc.assert(
        fc.asyncProperty(requestFor(route), wrongAuth, async (req, wrong) => {
          await reseed();
          const before = snapshot();
          const sends: [string, string | undefined][] = [['no credentials', undefined], [`wrong credentials ${JSON.stringify(wrong.slice(0, 40))}`, wrong], ['admin key', `Bearer ${t.adminKey}`]];
          for (const [label, authorization] of sends) {
            const what = describeRequest(req, label);
            const res = await send(req, authorization);
            stats.sent++;
            expectWellFormed(res, what);
            if (authorization !== `Bearer ${t.adminKey}`) {
              if (refusedByRouter(req.url)) expect(res.statusCode, what).toBeGreaterThanOrEqual(400);
              else expect(res.statusCode, `${what}\n→ ${res.body.slice(0, 300)}`).toBe(401);
            } else if (res.statusCode !== 401 && res.statusCode !== 403) {
              stats.pastTheGate++;
            }
            if (res.statusCode >= 400) expect(snapshot(), `${what}\n→ ${res.statusCode}: the rejected request wrote`).toEqual(before);
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
