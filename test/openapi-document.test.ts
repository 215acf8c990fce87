import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv } from 'ajv';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operationRegistry } from '../src/server/operations.ts';
import { defineWorkflow } from '../src/workflows/index.ts';
import { freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/*
 * /openapi.json as generators and gateways use it: validated by a maintained OpenAPI validator,
 * turned into TypeScript types by openapi-typescript, typechecked with tsc, and used through a
 * typed fetch against a listening AIOS; and each real answer's status and media type checked to
 * be declared for its operation.
 */
const run = promisify(execFile);
const REPO = fileURLToPath(new URL('..', import.meta.url));
const TSC = join(REPO, 'node_modules/typescript/bin/tsc');

interface Operation {
  operationId?: string;
  security?: unknown[];
  requestBody?: { content: Record<string, { schema?: unknown }> };
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }>; headers?: Record<string, unknown> }>;
}
type Doc = { servers?: { url: string }[]; components: { schemas: Record<string, object> }; paths: Record<string, Record<string, Operation>> };

const greet = defineWorkflow('greet', { version: '1', input: { type: 'object', required: ['who'], properties: { who: { type: 'string' } } } }, async (ctx, input: { who: string }) => ({
  greeting: await ctx.step('hello', () => `hello ${input.who}`),
}));

let t: TestAios;
let doc: Doc;
let viewerKey: string;
const operations: [string, string, Operation][] = [];
beforeAll(async () => {
  t = await startTestAios({ port: await freePort(), bodyLimitBytes: 64 * 1024 }, { listen: true });
  t.aios.register(greet);
  const res = await fetch(`${t.aios.url}/openapi.json`);
  expect(res.status).toBe(200);
  doc = (await res.json()) as Doc;
  for (const [path, methods] of Object.entries(doc.paths)) for (const [method, op] of Object.entries(methods)) operations.push([method, path, op]);
  viewerKey = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'viewer', roles: ['viewer'] } })).json().key;
});
afterAll(() => t.cleanup());

describe('the OpenAPI document', () => {
  it('is valid OpenAPI for a maintained validator', async () => {
    const result = await new Validator().validate(structuredClone(doc) as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.servers?.length).toBeGreaterThan(0);
  });

  it('names every operation with a unique, readable operationId', () => {
    expect(operations.length).toBeGreaterThanOrEqual(50);
    const ids = operations.map(([, , op]) => op.operationId);
    expect(ids.filter((id) => !id)).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z]+$/);
    const byId = Object.fromEntries(operations.map(([m, p, op]) => [op.operationId, `${m.toUpperCase()} ${p}`]));
    expect(byId).toMatchObject({
      appendEvents: 'POST /api/v1/topics/{topic}/events',
      getWorkflowRun: 'GET /api/v1/workflows/{id}',
      createTopic: 'POST /api/v1/topics',
      streamEvents: 'GET /api/v1/topics/{topic}/stream',
      getMetrics: 'GET /metrics',
    });
  });

  it('declares every error as application/problem+json, referencing one Problem schema', () => {
    expect(doc.components.schemas.Problem).toMatchObject({ type: 'object', required: ['type', 'title', 'status', 'detail', 'code'] });
    expect(JSON.stringify(doc).match(/"required":\["type","title","status","detail","code"\]/g)).toHaveLength(1);
    for (const [method, path, op] of operations) {
      for (const [status, r] of Object.entries(op.responses)) {
        if (Number(status) < 400 || path === '/readyz') continue;
        expect(Object.keys(r.content ?? {}), `${method} ${path} ${status}`).toEqual(['application/problem+json']);
        expect(r.content!['application/problem+json'].schema, `${method} ${path} ${status}`).toEqual({ $ref: '#/components/schemas/Problem' });
      }
    }
  });

  it('declares 400/401/403/404/429/503 where they apply, with Retry-After and WWW-Authenticate', () => {
    for (const [method, path, op] of operations) {
      const has = (s: number) => s in op.responses;
      const where = `${method.toUpperCase()} ${path}`;
      expect(has(400), where).toBe(true);
      const secured = op.security === undefined || op.security.length > 0;
      for (const s of [401, 403, 429]) expect(has(s), `${where} ${s}`).toBe(secured);
      if (path.includes('{')) expect(has(404), where).toBe(true);
      if (path.startsWith('/api/')) expect(has(503), where).toBe(true);
      if (op.requestBody) for (const s of [413, 415]) expect(has(s), `${where} ${s}`).toBe(true);
      if (secured) {
        expect(op.responses['401'].headers, where).toHaveProperty('WWW-Authenticate');
        expect(op.responses['429'].headers, where).toHaveProperty('Retry-After');
      }
    }
    expect(operations.filter(([, , op]) => op.security === undefined || op.security.length > 0).length).toBeGreaterThanOrEqual(48);
  });

  it('lists the append body\'s media types and the answers that are not JSON', () => {
    const append = doc.paths['/api/v1/topics/{topic}/events'].post;
    expect(Object.keys(append.requestBody!.content)).toEqual(['application/json', 'application/x-ndjson', 'application/cloudevents+json', 'application/cloudevents-batch+json']);
    expect(append.requestBody!.content['application/cloudevents+json'].schema).toEqual({ $ref: '#/components/schemas/CloudEvent' });
    expect(Object.keys(doc.paths['/api/v1/topics/{topic}/stream'].get.responses['200'].content!)).toEqual(['text/event-stream']);
    expect(Object.keys(doc.paths['/metrics'].get.responses['200'].content!)).toEqual(['text/plain; version=0.0.4']);
    expect(Object.keys(doc.paths['/api/v1/audit/export'].get.responses['200'].content!)).toEqual(['application/x-ndjson']);
  });
});

describe('the operations table', () => {
  it('refuses at start a route without an operationId, an id used twice, and an entry no route matches', () => {
    const ops = operationRegistry({ 'GET /a/{id}': { id: 'getA' }, 'GET /b': { id: 'getA' }, 'GET /gone': { id: 'getGone' } });
    expect(ops.route('GET', '/a/:id').id).toBe('getA');
    expect(() => ops.route('GET', '/b')).toThrow('operationId "getA" of GET /b is already the id of GET /a/{id}');
    expect(() => ops.route('POST', '/c')).toThrow('route POST /c has no operationId');
    expect(ops.route('POST', '/c', 'postC').id).toBe('postC');
    expect(() => ops.checkComplete()).toThrow('GET /gone');
  });
});

/** A media type as the document writes it: no charset, no spaces. */
const mediaType = (header: string | null) => (header ?? '').split(';').map((p) => p.trim()).filter((p) => p && !p.startsWith('charset=')).join('; ');

describe('what the server really sends is declared', () => {
  const json = { 'content-type': 'application/json' };
  const cases: [string, string, string, string, RequestInit & { key?: 'admin' | 'viewer' | 'none' }][] = [
    ['201 created', 'post', '/api/v1/topics', '/api/v1/topics', { method: 'POST', headers: json, body: JSON.stringify({ name: 'declared', schema: { type: 'object', required: ['v'] } }) }],
    ['200 the same again', 'post', '/api/v1/topics', '/api/v1/topics', { method: 'POST', headers: json, body: JSON.stringify({ name: 'declared', schema: { type: 'object', required: ['v'] } }) }],
    ['400 malformed JSON', 'post', '/api/v1/topics', '/api/v1/topics', { method: 'POST', headers: json, body: '{"name":' }],
    ['403 for a viewer', 'post', '/api/v1/topics', '/api/v1/topics', { method: 'POST', headers: json, body: JSON.stringify({ name: 'viewer-may-not' }), key: 'viewer' }],
    ['401 without a key', 'get', '/api/v1/topics', '/api/v1/topics', { key: 'none' }],
    ['200 a topic', 'get', '/api/v1/topics/{topic}', '/api/v1/topics/declared', {}],
    ['404 no such topic', 'get', '/api/v1/topics/{topic}', '/api/v1/topics/missing', {}],
    ['207 one of two rejected', 'post', '/api/v1/topics/{topic}/events', '/api/v1/topics/declared/events', { method: 'POST', headers: json, body: JSON.stringify([{ data: { v: 1 } }, { data: {} }]) }],
    ['422 all rejected', 'post', '/api/v1/topics/{topic}/events', '/api/v1/topics/declared/events', { method: 'POST', headers: json, body: JSON.stringify([{ data: {} }]) }],
    ['200 NDJSON', 'post', '/api/v1/topics/{topic}/events', '/api/v1/topics/declared/events', { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: '{"data":{"v":2}}\n' }],
    ['415 CSV', 'post', '/api/v1/topics/{topic}/events', '/api/v1/topics/declared/events', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: 'v\n1\n' }],
    ['413 over the limit', 'post', '/api/v1/topics/{topic}/events', '/api/v1/topics/declared/events', { method: 'POST', headers: json, body: JSON.stringify({ data: { v: 'x'.repeat(70 * 1024) } }) }],
    ['400 no such partition', 'get', '/api/v1/topics/{topic}/events', '/api/v1/topics/declared/events?partition=99', {}],
    ['200 an SSE stream', 'get', '/api/v1/topics/{topic}/stream', '/api/v1/topics/declared/stream?from=earliest', {}],
    ['400 a bad cursor', 'get', '/api/v1/topics/{topic}/stream', '/api/v1/topics/declared/stream?from=garbage', {}],
    ['404 deleting nothing', 'delete', '/api/v1/topics/{topic}', '/api/v1/topics/missing', { method: 'DELETE' }],
    ['201 a run', 'post', '/api/v1/workflows', '/api/v1/workflows', { method: 'POST', headers: json, body: JSON.stringify({ name: 'greet', input: { who: 'x' }, id: 'declared-run' }) }],
    ['404 no such workflow', 'post', '/api/v1/workflows', '/api/v1/workflows', { method: 'POST', headers: json, body: JSON.stringify({ name: 'no-such-workflow' }) }],
    ['200 a run', 'get', '/api/v1/workflows/{id}', '/api/v1/workflows/declared-run', {}],
    ['200 Prometheus text', 'get', '/metrics', '/metrics', {}],
    ['200 NDJSON export', 'get', '/api/v1/audit/export', '/api/v1/audit/export', {}],
    ['200 liveness', 'get', '/healthz', '/healthz', { key: 'none' }],
  ];

  it.each(cases)('%s: %s %s', async (_what, method, template, url, init) => {
    const key = init.key === 'none' ? undefined : init.key === 'viewer' ? viewerKey : t.adminKey;
    const ac = new AbortController();
    const res = await fetch(`${t.aios.url}${url}`, { ...init, signal: ac.signal, headers: { ...(init.headers as Record<string, string>), ...(key ? { authorization: `Bearer ${key}` } : {}) } });
    ac.abort(); // an SSE stream would go on forever; its status and headers are what is checked
    const declared = doc.paths[template][method].responses[String(res.status)];
    expect(declared, `${method} ${template} answered ${res.status}, which is not declared`).toBeDefined();
    const sent = mediaType(res.headers.get('content-type'));
    if (res.status === 204) expect(sent).toBe('');
    else expect(Object.keys(declared.content ?? {}), `${method} ${template} ${res.status}`).toContain(sent);
  });
});

describe('a client generated from the document', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'aios-openapi-client-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('generates types (openapi-typescript), typechecks (tsc) and drives the API through them', async () => {
    writeFileSync(join(dir, 'schema.ts'), astToString(await openapiTS(structuredClone(doc) as never)));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(dir, 'usage.ts'), usageSource(join(REPO, 'test/fixtures/openapi-client/typed-fetch.ts')));
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, skipLibCheck: true,
          allowImportingTsExtensions: true, verbatimModuleSyntax: true, lib: ['ES2023', 'DOM', 'DOM.Iterable'], types: ['node'], typeRoots: [join(REPO, 'node_modules/@types')],
        },
        files: ['usage.ts', 'schema.ts'],
      }),
    );
    const tsc = await run(process.execPath, [TSC, '-p', join(dir, 'tsconfig.json')], { timeout: 120_000 }).catch((e: { stdout: string; stderr: string }) => e);
    expect(`${tsc.stdout}${tsc.stderr}`.trim()).toBe('');

    const { drive } = (await import(pathToFileURL(join(dir, 'usage.ts')).href)) as { drive(url: string, key: string): Promise<Record<string, { status: number; contentType: string; body: any }>> };
    const r = await drive(t.aios.url!, t.adminKey);
    expect(r.topic).toMatchObject({ status: 201, body: { name: 'generated', partitions: 2 } });
    expect(r.appended).toMatchObject({ status: 200, body: { accepted: [{ id: 'g-1', duplicate: false }], rejected: [] } });
    expect(r.ndjson).toMatchObject({ status: 200, body: { accepted: [{ id: 'g-2', line: 1 }] } });
    expect(r.read.status).toBe(200);
    expect(r.read.body.events.map((e: { id: string }) => e.id).sort()).toEqual(['g-1', 'g-2']);
    expect(r.run).toMatchObject({ status: 201, body: { id: 'gen-run', name: 'greet' } });
    expect(r.fetched).toMatchObject({ status: 200, body: { id: 'gen-run' } });
    expect(r.missing.status).toBe(404);
    expect(r.missing.contentType).toMatch(/^application\/problem\+json/);
    const problem = new Ajv({ strict: false }).compile(doc.components.schemas.Problem);
    expect(problem(r.missing.body), JSON.stringify(problem.errors)).toBe(true);
    expect(r.missing.body.code).toBe('AIOS_EVENTS_TOPIC_NOT_FOUND');
  }, 180_000);
});

/** A program against the generated types; the `@ts-expect-error` lines prove the types are real. */
function usageSource(typedFetchPath: string): string {
  return `import type { components, operations, paths } from './schema.ts';
import { createTypedFetch } from ${JSON.stringify(typedFetchPath)};

type Problem = components['schemas']['Problem'];
// The operationIds are the names generated code uses.
type Append = operations['appendEvents'];
type GetRun = operations['getWorkflowRun'];
export type Ops = [Append, GetRun];

export async function drive(baseUrl: string, key: string) {
  const api = createTypedFetch<paths>(baseUrl, { authorization: 'Bearer ' + key });
  const topic = await api('post', '/api/v1/topics', { body: { name: 'generated', partitions: 2 } });
  if (topic.status === 201) { const name: string = topic.body.name; void name; }
  const appended = await api('post', '/api/v1/topics/{topic}/events', { path: { topic: 'generated' }, body: [{ id: 'g-1', data: { v: 1 } }] });
  if (appended.status === 200) { const offsets: number[] = appended.body.accepted.map((a) => a.offset); void offsets; }
  const ndjson = await api('post', '/api/v1/topics/{topic}/events', { path: { topic: 'generated' }, contentType: 'application/x-ndjson', body: '{"id":"g-2","data":{"v":2}}\\n' });
  const read = await api('get', '/api/v1/topics/{topic}/events', { path: { topic: 'generated' }, query: { limit: 10 } });
  const run = await api('post', '/api/v1/workflows', { body: { name: 'greet', input: { who: 'gen' }, id: 'gen-run' } });
  const fetched = await api('get', '/api/v1/workflows/{id}', { path: { id: 'gen-run' } });
  const missing = await api('get', '/api/v1/topics/{topic}', { path: { topic: 'no-such-topic' } });
  if (missing.status === 404) { const p: Problem = missing.body; const code: string = p.code; void code; }
  return { topic, appended, ndjson, read, run, fetched, missing };
}

export async function wrongUses(api: ReturnType<typeof createTypedFetch<paths>>) {
  // @ts-expect-error a topic's name is a string
  await api('post', '/api/v1/topics', { body: { name: 42 } });
  // @ts-expect-error /api/v1/topics has no PATCH
  await api('patch', '/api/v1/topics', {});
  // @ts-expect-error appends take no text/csv
  await api('post', '/api/v1/topics/{topic}/events', { path: { topic: 'x' }, contentType: 'text/csv', body: 'v' });
  // @ts-expect-error there is no such path
  await api('get', '/api/v1/no-such-path', {});
  const r = await api('get', '/api/v1/workflows/{id}', { path: { id: 'x' } });
  // @ts-expect-error a 200 answer is a run, not a problem
  if (r.status === 200) { const c: number = r.body.code; void c; }
}
`;
}
