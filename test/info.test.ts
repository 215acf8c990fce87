import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/core/index.ts';
import { createAios } from '../src/runtime/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

let t: TestAios;
beforeAll(async () => {
  t = await startTestAios({ instanceName: 'line-3' });
});
afterAll(() => t.cleanup());

describe('the info capability', () => {
  it('GET /api/v1/info: the version, the capabilities of the list, and this instance', async () => {
    const r = await t.api({ method: 'GET', url: '/api/v1/info' });
    expect(r.statusCode).toBe(200);
    const info = r.json();
    expect(info.version).toBe('0.1.0');
    expect(info.capabilities).toEqual(['events', 'governance', 'workflows', 'info']);
    expect(info.instance).toMatchObject({ name: 'line-3', version: '0.1.0' });
    expect(info.instances.map((i: { id: string }) => i.id)).toEqual([info.instance.id]);
    const one = await t.api({ method: 'GET', url: `/api/v1/info/instances/${info.instance.id}` });
    expect(one.json()).toEqual(info.instance);
  });

  it('lists the instances started on the same database, newest first', async () => {
    const second = await createAios({ config: { dataDir: t.dataDir, retentionIntervalMs: 0, instanceName: 'line-4', scheduler: 0 }, env: {}, logger: createLogger({ level: 'silent' }) });
    await second.start();
    try {
      const r = await second.http.inject({ method: 'GET', url: '/api/v1/info', headers: { authorization: `Bearer ${t.adminKey}` } });
      expect(r.json().instances.map((i: { name: string }) => i.name)).toEqual(['line-4', 'line-3']);
    } finally {
      await second.stop();
    }
  });

  it('answers AIOS_INFO_INSTANCE_NOT_FOUND, as problem+json, for an instance that never started here', async () => {
    const r = await t.api({ method: 'GET', url: '/api/v1/info/instances/no-such-instance' });
    expect(r.statusCode).toBe(404);
    expect(r.headers['content-type']).toContain('application/problem+json');
    expect(r.json()).toMatchObject({ code: 'AIOS_INFO_INSTANCE_NOT_FOUND', status: 404 });
  });

  it('is guarded by its own action, in the Cedar schema', async () => {
    expect((await t.aios.http.inject({ method: 'GET', url: '/api/v1/info' })).statusCode).toBe(401);
    const schema = await t.api({ method: 'GET', url: '/api/v1/policies/schema' });
    expect(schema.json().schema).toContain('action "info:read" in ["read"]');
    const viewer = (await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name: 'viewer', roles: ['viewer'] } })).json().key;
    expect((await t.aios.http.inject({ method: 'GET', url: '/api/v1/info', headers: { authorization: `Bearer ${viewer}` } })).statusCode).toBe(200);
  });

  it('serves the aios_info gauge, and documents its operations', async () => {
    const metrics = await t.api({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/^aios_info\{version="0\.1\.0",instance="line-3"\} 1$/m);
    const doc = (await t.aios.http.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(doc.paths['/api/v1/info'].get.operationId).toBe('getInfo');
    expect(doc.paths['/api/v1/info/instances/{id}'].get.operationId).toBe('getInstance');
  });
});
