import { spawn, spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/** promtool (Debian's `prometheus` package) lints the exposition format as Prometheus reads it. */
function promtoolAvailable(): boolean {
  const found = spawnSync('promtool', ['--version'], { stdio: 'ignore' }).status === 0;
  if (!found) {
    if (process.env.AIOS_REQUIRE_SERVICES === '1') throw new Error('promtool is required (AIOS_REQUIRE_SERVICES=1) but not on PATH: apt-get install prometheus');
    console.warn('skipping the promtool check: promtool is not on PATH (apt-get install prometheus; AIOS_REQUIRE_SERVICES=1 fails instead)');
  }
  return found;
}

function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
    child.stdin.end(text);
  });
}

let t: TestAios;
let scrape: () => Promise<Response>;
beforeAll(async () => {
  t = await startTestAios({ port: await freePort() }, { listen: true });
  scrape = () => fetch(`${t.aios.url}/metrics`, { headers: { authorization: `Bearer ${t.adminKey}` } });
  // Something in every family: appends, a commit, a consumer group with lag, authz decisions, an auth failure.
  await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'scraped', partitions: 2 } });
  await t.api({ method: 'POST', url: '/api/v1/topics/scraped/events', payload: [{ data: 1 }, { data: 2 }] });
  await t.api({ method: 'POST', url: '/api/v1/topics/scraped/groups/g/fetch', payload: { max: 1 } });
  await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics' });
});
afterAll(() => t.cleanup());

describe('/metrics', () => {
  it.skipIf(!promtoolAvailable())('passes `promtool check metrics`', async () => {
    const res = await scrape();
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('aios_events_appended_total');
    const { code, output } = await promtoolCheck(text);
    expect(output.trim()).toBe('');
    expect(code).toBe(0);
  });

  it('names process metrics aios_process_* once, and gives no gauge a counter suffix', async () => {
    const text = await (await scrape()).text();
    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
    expect([...types.keys()].filter((n) => n.startsWith('aios_process_process_'))).toEqual([]);
    expect([...types].filter(([n, type]) => type !== 'counter' && n.endsWith('_total'))).toEqual([]);
    expect([...types].filter(([n, type]) => type === 'counter' && !n.endsWith('_total'))).toEqual([]);
    for (const name of ['aios_process_cpu_seconds_total', 'aios_process_resident_memory_bytes', 'aios_process_start_time_seconds', 'aios_process_nodejs_eventloop_lag_seconds', 'aios_process_nodejs_heap_size_used_bytes', 'aios_process_nodejs_active_handles']) {
      expect(types.has(name), name).toBe(true);
    }
    expect(types.get('aios_process_cpu_seconds_total')).toBe('counter');
    expect(Number(/^aios_process_cpu_seconds_total (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(0);
    expect(Number(/^aios_process_start_time_seconds (\S+)$/m.exec(text)?.[1])).toBeGreaterThan(1.7e9);
  });
});
