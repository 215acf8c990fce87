import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeInventory } from '../src/server/index.ts';
import { freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/** Errors where a client (a browser, curl, a generated client, a gateway) expects them. */
const BODY_LIMIT = 64 * 1024;
const APPEND_TYPES = ['application/json', 'application/x-ndjson', 'application/cloudevents+json', 'application/cloudevents-batch+json'];

let t: TestAios;
beforeAll(async () => {
  t = await startTestAios({ port: await freePort(), bodyLimitBytes: BODY_LIMIT, headersTimeoutMs: 1000, requestTimeoutMs: 30_000 }, { listen: true });
  await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'shapes', schema: { type: 'object', required: ['v'], properties: { v: { type: 'number' } } } } });
});
afterAll(() => t.cleanup());

/** Sends raw bytes on a real socket and returns what the server wrote before it closed. */
function rawRequest(bytes: string | Buffer): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(t.aios.url!);
    const socket = connect({ host: url.hostname, port: Number(url.port) });
    const chunks: Buffer[] = [];
    socket.setTimeout(10_000, () => socket.destroy(new Error('the server did not answer within 10 s')));
    socket.on('data', (d) => chunks.push(d));
    socket.once('error', reject);
    socket.once('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') });
    });
    socket.write(bytes);
  });
}

describe('401 says how to authenticate', () => {
  it('carries WWW-Authenticate: Bearer on every guarded route, with invalid_token when credentials were sent', async () => {
    const guarded = routeInventory(t.aios.http).filter((r) => r.action);
    expect(guarded.length).toBeGreaterThan(30);
    for (const r of guarded) {
      const url = r.url.replace(/:(\w+)/g, 'x');
      const anon = await t.aios.http.inject({ method: r.method as 'GET', url });
      expect(anon.statusCode, `${r.method} ${r.url}`).toBe(401);
      expect(anon.headers['www-authenticate'], `${r.method} ${r.url}`).toBe('Bearer realm="aios"');
    }
    const forged = await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics', headers: { authorization: 'Bearer aios_abcdefghijkm_notakey' } });
    expect(forged.statusCode).toBe(401);
    expect(forged.headers['www-authenticate']).toBe('Bearer realm="aios", error="invalid_token"');
  });
});

describe('405 for a wrong method on a path that exists', () => {
  it('answers 405 with Allow, and 404 only for a path that does not exist', async () => {
    const r = await t.api({ method: 'PUT', url: '/api/v1/topics/shapes/events', payload: {} });
    expect(r.statusCode).toBe(405);
    expect(r.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(r.headers.allow).toBe('GET, HEAD, POST');
    expect(r.json()).toMatchObject({ code: 'AIOS_METHOD_NOT_ALLOWED', status: 405, allowed: ['GET', 'HEAD', 'POST'] });
    const stream = await t.api({ method: 'DELETE', url: '/api/v1/topics/shapes/stream' });
    expect([stream.statusCode, stream.headers.allow]).toEqual([405, 'GET, HEAD']);
    const health = await t.aios.http.inject({ method: 'POST', url: '/healthz' });
    expect([health.statusCode, health.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await t.api({ method: 'PUT', url: '/api/v1/no-such-thing' })).statusCode).toBe(404);
    // Whatever the body: the method is what is wrong.
    const csv = await t.api({ method: 'PUT', url: '/api/v1/topics/shapes/events', headers: { 'content-type': 'text/csv' }, payload: 'v\n1\n' });
    expect([csv.statusCode, csv.json().code]).toEqual([405, 'AIOS_METHOD_NOT_ALLOWED']);
    expect((await t.api({ method: 'POST', url: '/api/v1/no-such-thing', headers: { 'content-type': 'text/csv' }, payload: 'v' })).statusCode).toBe(404);
    expect((await t.api({ method: 'GET', url: '/api/v1/topics/shapes/events/extra' })).statusCode).toBe(404);
    // Without credentials, an API path is not described at all.
    expect((await t.aios.http.inject({ method: 'PUT', url: '/api/v1/topics/shapes/events' })).statusCode).toBe(401);
  });
});

describe('413 and 415 say what is accepted', () => {
  it('413 names the limit', async () => {
    const r = await t.api({ method: 'POST', url: '/api/v1/topics/shapes/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ data: { v: 1, pad: 'x'.repeat(BODY_LIMIT) } }) });
    expect(r.statusCode).toBe(413);
    expect(r.json()).toMatchObject({ code: 'AIOS_PAYLOAD_TOO_LARGE', limitBytes: BODY_LIMIT });
    expect(r.json().detail).toContain(String(BODY_LIMIT));
  });

  it('415 lists the media types of the route, in the body and in Accept', async () => {
    const append = await t.api({ method: 'POST', url: '/api/v1/topics/shapes/events', headers: { 'content-type': 'text/csv' }, payload: 'v\n1\n' });
    expect(append.statusCode).toBe(415);
    expect(append.json()).toMatchObject({ code: 'AIOS_UNSUPPORTED_MEDIA_TYPE', accepted: APPEND_TYPES });
    expect(append.headers.accept).toBe(APPEND_TYPES.join(', '));
    for (const type of APPEND_TYPES) expect(append.json().detail).toContain(type);
    // A type another route takes is refused the same way, not parsed into something else.
    for (const type of ['application/x-ndjson', 'text/plain', 'application/cloudevents+json']) {
      const topic = await t.api({ method: 'POST', url: '/api/v1/topics', headers: { 'content-type': type }, payload: '{"name":"x"}' });
      expect(topic.statusCode, type).toBe(415);
      expect(topic.json(), type).toMatchObject({ code: 'AIOS_UNSUPPORTED_MEDIA_TYPE', accepted: ['application/json'] });
    }
    const none = await t.api({ method: 'POST', url: '/api/v1/topics', headers: { 'content-type': '' }, payload: '{"name":"x"}' });
    expect(none.statusCode).toBe(415);
  });
});

describe('Node\'s own HTTP errors answer problem+json', () => {
  it('a NUL in a header value', async () => {
    const r = await rawRequest('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Thing: a\u0000b\r\n\r\n');
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.body)).toMatchObject({ status: 400, code: 'AIOS_BAD_REQUEST', type: 'urn:aios:error:AIOS_BAD_REQUEST' });
    expect(JSON.parse(r.body).detail).toContain('NUL');
  });

  it('headers over the limit', async () => {
    const r = await rawRequest(`GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'x'.repeat(64 * 1024)}\r\n\r\n`);
    expect(r.status).toBe(431);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength(r.body));
    expect(JSON.parse(r.body)).toMatchObject({ status: 431, code: 'AIOS_HEADERS_TOO_LARGE' });
  });

  it('a malformed request line', async () => {
    const r = await rawRequest('G@T / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    expect(r.status).toBe(400);
    expect(JSON.parse(r.body)).toMatchObject({ code: 'AIOS_BAD_REQUEST' });
  });

  it('headers that do not arrive in time', async () => {
    // Half a request, then silence: Node's headers timer answers (within its check interval).
    const r = await rawRequest('GET /healthz HTTP/1.1\r\nHost: localhost\r\n');
    expect(r.status).toBe(408);
    expect(r.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(r.body)).toMatchObject({ status: 408, code: 'AIOS_REQUEST_TIMEOUT' });
  });

  it('the server keeps serving afterwards', async () => {
    expect((await fetch(`${t.aios.url}/healthz`)).status).toBe(200);
  });
});

describe('append refusals name what was refused, and how it is numbered', () => {
  const append = (payload: string, type = 'application/json', query = '') => t.api({ method: 'POST', url: `/api/v1/topics/shapes/events${query}`, headers: { 'content-type': type }, payload });

  it('?atomic=true with one bad item of two says the request was refused because of that item', async () => {
    const r = await append(JSON.stringify([{ id: 'ok-1', data: { v: 1 } }, { id: 'bad-1', data: { v: 'x' } }]), 'application/json', '?atomic=true');
    expect(r.statusCode).toBe(422);
    const p = r.json();
    expect(p.code).toBe('AIOS_EVENTS_BATCH_REJECTED');
    expect(p.detail).toMatch(/refused because event 1 \(AIOS_EVENTS_SCHEMA_VIOLATION: .*\) was rejected/);
    expect(`${p.title} ${p.detail}`).not.toMatch(/every|all 2 events were rejected/i);
    expect(p.rejected).toEqual([expect.objectContaining({ index: 1, id: 'bad-1', code: 'AIOS_EVENTS_SCHEMA_VIOLATION' })]);
    expect((await t.api({ method: 'GET', url: '/api/v1/topics/shapes/events' })).json().events.map((e: { id: string }) => e.id)).not.toContain('ok-1');
    const all = await append(JSON.stringify([{ data: { v: 'x' } }, { data: {} }]));
    expect(all.statusCode).toBe(422);
    expect(all.json().detail).toContain('all 2 events were rejected');
  });

  it('NDJSON answers carry each event\'s physical line, the numbering of a malformed line', async () => {
    const body = ['{"id":"nd-1","data":{"v":1}}', '', '{"id":"nd-2","data":{"v":"x"}}', '{"id":"nd-3","data":{"v":3}}', ''].join('\n');
    const r = await append(body, 'application/x-ndjson');
    expect(r.statusCode).toBe(207);
    expect(r.json().accepted.map((a: { index: number; line: number }) => [a.index, a.line])).toEqual([[0, 1], [2, 4]]);
    expect(r.json().rejected).toEqual([expect.objectContaining({ index: 1, line: 3, id: 'nd-2' })]);

    const atomic = await append(body.replace('nd-1', 'nd-4').replace('nd-3', 'nd-5'), 'application/x-ndjson', '?atomic=true');
    expect(atomic.statusCode).toBe(422);
    expect(atomic.json().rejected).toEqual([expect.objectContaining({ index: 1, line: 3 })]);
    expect(atomic.json().errors[0].message).toMatch(/^line 3: /);

    const broken = await append(['{"data":{"v":1}}', '', '{"data":'].join('\n'), 'application/x-ndjson');
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ code: 'AIOS_MALFORMED_JSON', line: 3 });
    expect(broken.json().detail).toContain('line 3');
  });
});
