import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Aios } from '../src/index.ts';
import { AiosClient } from '../src/sdk/index.ts';
import { AIOS_BIN, freePort } from './support/child.ts';
import { startTestAios } from './support/runtime.ts';

const run = promisify(execFile);
let aios: Aios;
let cleanup: () => Promise<void>;
let url: string;
let dataDir: string;
let auth: Record<string, string>;

beforeAll(async () => {
  const port = await freePort();
  let adminKey: string;
  ({ aios, cleanup, dataDir, adminKey } = await startTestAios({ port }, { listen: true }));
  url = aios.url!;
  auth = { authorization: `Bearer ${adminKey}` };
});
afterAll(() => cleanup());

describe('live tail over Server-Sent Events', () => {
  it('streams appends and resumes from Last-Event-ID', async () => {
    const client = new AiosClient({ url, token: auth.authorization.slice(7) });
    await client.createTopic({ name: 'sse', partitions: 2 });
    await client.publish('sse', [{ id: 's0', data: 0 }]);
    const ac = new AbortController();
    const seen: { id: string; cursor: string }[] = [];
    const reading = (async () => {
      for await (const e of client.tail('sse', { from: 'earliest', signal: ac.signal })) {
        seen.push({ id: e.id, cursor: e.cursor });
        if (seen.length === 4) ac.abort();
      }
    })();
    await new Promise((r) => setTimeout(r, 200));
    await client.publish('sse', [{ id: 's1', data: 1 }, { id: 's2', data: 2 }]);
    await client.publish('sse', [{ id: 's3', data: 3 }]);
    await reading;
    expect(seen.map((s) => s.id).sort()).toEqual(['s0', 's1', 's2', 's3']);

    // Reconnect as a browser EventSource would, with Last-Event-ID: only what came after.
    const res = await fetch(`${url}/api/v1/topics/sse/stream`, { headers: { 'last-event-id': seen[1].cursor, ...auth } });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    let text = '';
    while ((text.match(/^event: event$/gm) ?? []).length < 2) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    const ids = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]).id);
    expect(ids.sort()).toEqual(seen.slice(2).map((s) => s.id).sort());
    expect(text).toMatch(/^id: \d+:\d+,\d+:\d+$/m);
  });

  it('answers an unknown topic with a 404 problem before streaming', async () => {
    const r = await fetch(`${url}/api/v1/topics/none/stream`, { headers: auth });
    expect(r.status).toBe(404);
    expect((await r.json()).code).toBe('AIOS_EVENTS_TOPIC_NOT_FOUND');
  });
});

describe('the aios CLI', () => {
  // The CLI reads the admin key from <data-dir>/admin.key by default, as a newcomer's would.
  const cli = (...args: string[]) => run(process.execPath, [AIOS_BIN, ...args, '--url', url], { timeout: 120_000, env: { ...process.env, AIOS_DATA_DIR: dataDir } });

  it('creates a topic, publishes and tails', async () => {
    const created = await cli('topics', 'create', 'cli-topic', '--partitions', '2', '--key-field', 'unit', '--schema', '{"type":"object","required":["unit"]}');
    expect(JSON.parse(created.stdout)).toMatchObject({ name: 'cli-topic', partitions: 2, keyField: 'unit' });
    const pub = await cli('events', 'publish', 'cli-topic', '--id', 'c1', '--data', '{"unit":"u1","v":1}');
    expect(JSON.parse(pub.stdout).accepted[0]).toMatchObject({ id: 'c1', duplicate: false });
    const tail = await cli('events', 'tail', 'cli-topic', '--from', 'earliest', '--count', '1');
    expect(JSON.parse(tail.stdout.trim())).toMatchObject({ id: 'c1', data: { unit: 'u1', v: 1 } });
    const list = await cli('topics', 'list');
    expect(list.stdout).toContain('cli-topic');
  });

  it('prints the problem and fails on bad input', async () => {
    const err = await cli('events', 'publish', 'cli-topic', '--data', '{"v":1}').catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toContain('AIOS_EVENTS_SCHEMA_VIOLATION');
  });

  it('creates, lists and revokes API keys, and reads the policy set', async () => {
    const created = await cli('keys', 'create', 'gateway', '--role', 'service', 'viewer');
    const key = created.stdout.trim();
    expect(key).toMatch(/^aios_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toContain('not shown again');
    const id = key.slice(0, 17);
    const list = await cli('keys', 'list');
    expect(list.stdout).toContain(id);
    expect(list.stdout).not.toContain(key);
    // The new key works from the environment, instead of the admin key file.
    const asService = await run(process.execPath, [AIOS_BIN, 'topics', 'list', '--url', url], { env: { ...process.env, AIOS_API_KEY: key, AIOS_DATA_DIR: '/nonexistent' } });
    expect(asService.stdout).toContain('cli-topic');
    expect((await cli('keys', 'revoke', id)).stdout).toContain(`revoked ${id}`);
    const refused = await run(process.execPath, [AIOS_BIN, 'topics', 'list', '--url', url], { env: { ...process.env, AIOS_API_KEY: key } }).catch((e) => e);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('AIOS_AUTH_UNAUTHENTICATED');
    const policies = await cli('policies', 'get');
    expect(policies.stdout).toContain('@id("namespace-isolation")');
    const revocations = (await cli('audit', 'query', '--action', 'keys:revoke')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(revocations).toEqual([expect.objectContaining({ action: 'keys:revoke', resource: `ApiKey:${id}`, outcome: 'success' })]);
    const exported = (await cli('audit', 'export', '--action', 'keys:create')).stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(exported.map((r) => r.action)).toEqual(['keys:create']);
  });

  it('lists every configuration option in `aios start --help`', async () => {
    const { stdout } = await run(process.execPath, [AIOS_BIN, 'start', '--help']);
    for (const flag of ['--port', '--data-dir', '--database-url', '--nats-url', '--append-queue-events', '--config']) expect(stdout).toContain(flag);
    expect(stdout).toContain('AIOS_PORT');
  });
});
