import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AIOS_BIN, freePort, startAiosProcess, type AiosProcess } from './support/child.ts';
import { until } from './support/until.ts';

/**
 * The two ways user code reaches AIOS, run for real as the README shows them: an app module
 * loaded by `aios start --app` (TypeScript, no build step), and a program embedding AIOS.
 */

const APP = 'examples/turbine-workflows/app.ts';
const dirs: string[] = [];
const procs: AiosProcess[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'aios-app-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  for (const p of procs) p.child.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});


describe('aios start --app', () => {
  it('registers the module\'s workflows; a run waits for the engineer, then opens a work order and emits it', async () => {
    const dataDir = tempDir();
    const p = await startAiosProcess(['--data-dir', dataDir, '--app', APP]);
    procs.push(p);
    const call = (method: string, path: string, body?: unknown) =>
      fetch(`${p.url}/api/v1${path}`, { method, headers: { ...p.auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
    expect(((await (await call('GET', '/workflows/definitions')).json()) as { workflows: unknown }).workflows).toEqual([
      { name: 'fleet-report', versions: ['1'] },
      { name: 'inspect-turbine', versions: ['1'] },
    ]);
    expect((await call('POST', '/topics', { name: 'work-orders', keyField: 'turbine' })).status).toBe(201);
    const started = await call('POST', '/workflows', { name: 'inspect-turbine', id: 'alert-T-3', input: { turbine: 'T-3', score: 0.55 } });
    expect(started.status).toBe(201);
    await until(async () => ((await (await call('GET', '/workflows/alert-T-3')).json()) as { status: string }).status === 'waiting' || undefined, 'the run to wait for the engineer');
    expect((await call('POST', '/workflows/alert-T-3/signals/engineer-review', { confirmed: true, by: 'ana' })).status).toBe(202);
    const done = await until(async () => {
      const r = (await (await call('GET', '/workflows/alert-T-3')).json()) as { status: string; output: unknown };
      return r.status === 'completed' ? r : undefined;
    }, 'the run to complete');
    expect(done.output).toEqual({ turbine: 'T-3', outcome: 'work-order', workOrder: 'WO-T-3-1', parts: ['bearing-6205', 'seal-kit'] });
    const events = (await (await call('GET', '/topics/work-orders/events')).json()) as { events: { data: unknown }[] };
    expect(events.events.map((e) => e.data)).toEqual([{ id: 'WO-T-3-1', turbine: 'T-3', score: 0.55 }]);
    p.child.kill('SIGTERM');
    expect(await p.exited).toBe(0);
  });

  it('refuses to start with a module that is missing or exports no workflow, and says why', async () => {
    const dir = tempDir();
    const empty = join(dir, 'empty.ts');
    writeFileSync(empty, 'export const answer: number = 42;\n');
    for (const [app, message] of [
      [join(dir, 'nope.ts'), 'does not exist'],
      [empty, 'exports no workflow definition'],
    ]) {
      const port = await freePort();
      const child = spawn(process.execPath, [AIOS_BIN, 'start', '--port', String(port), '--data-dir', join(dir, 'data'), '--app', app], { env: { ...process.env, AIOS_LOG_LEVEL: 'warn' } });
      let err = '';
      child.stderr.on('data', (d) => (err += String(d)));
      const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
      expect(code).toBe(1);
      expect(err).toContain('AIOS_CONFIG_INVALID');
      expect(err).toContain(message);
    }
  });
});

describe('AIOS embedded in a program', () => {
  it('runs the README\'s library example to a completed run', async () => {
    const dataDir = tempDir();
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/turbine-workflows/embedded.ts'], {
      env: { ...process.env, AIOS_DATA_DIR: dataDir, AIOS_PORT: String(await freePort()), AIOS_EXAMPLE_EXIT: '1', AIOS_LOG_LEVEL: 'warn' },
    });
    let out = '';
    child.stdout.on('data', (d) => (out += String(d)));
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    const run = JSON.parse(out.trim().split('\n').at(-1)!);
    expect(run).toMatchObject({ id: 'alert-T-17-0001', status: 'completed', createdBy: 'service:anomaly-model', output: { outcome: 'work-order', workOrder: 'WO-T-17-1' } });
  });
});
