import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineWorkflow } from '../src/workflows/index.ts';
import { AIOS_BIN, freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

/* `aios workflows` and `aios schedules`, through the real binary, against a listening AIOS. */

const run = promisify(execFile);
/** Each CLI call starts a Node process that loads the TypeScript sources: about a second, more on a busy machine. */
const CLI_CALL_TIMEOUT = 120_000;
/** A test makes up to twenty calls. */
const CLI_TEST_TIMEOUT = 20 * CLI_CALL_TIMEOUT;
let t: TestAios;
let url: string;

const inspect = defineWorkflow(
  'inspect',
  { version: '1', input: { type: 'object', required: ['asset'], properties: { asset: { type: 'string' } } } },
  async (ctx, input: { asset: string }) => {
    const reading = await ctx.step('read', () => ({ asset: input.asset, rms: 0.42 }));
    await ctx.setState({ phase: 'awaiting approval' });
    const decision = await ctx.waitForSignal<{ by: string }>('approved');
    return { reading, approvedBy: decision.timedOut ? null : decision.payload.by };
  },
);

beforeAll(async () => {
  t = await startTestAios({ port: await freePort(), rateLimitPrincipal: 0, rateLimitNamespace: 0 }, { listen: true });
  t.aios.register(inspect);
  url = t.aios.url!;
});
afterAll(() => t.cleanup());

// The CLI reads the admin key from <data-dir>/admin.key by default.
const cli = (...args: string[]) => run(process.execPath, [AIOS_BIN, ...args, '--url', url], { timeout: CLI_CALL_TIMEOUT, env: { ...process.env, AIOS_DATA_DIR: t.dataDir } });
const json = async (...args: string[]) => JSON.parse((await cli(...args)).stdout);
const failure = (...args: string[]) => cli(...args).then(
  () => {
    throw new Error(`aios ${args.join(' ')} succeeded`);
  },
  (e: { code: number; stdout: string; stderr: string }) => e,
);

async function untilStatus(id: string, status: string): Promise<Record<string, any>> {
  const end = Date.now() + 120_000;
  for (;;) {
    const r = (await t.api({ method: 'GET', url: `/api/v1/workflows/${id}` })).json();
    if (r.status === status) return r;
    if (Date.now() > end) throw new Error(`run ${id} is ${r.status}, not ${status}`);
    await new Promise((res) => setTimeout(res, 25));
  }
}

describe('aios workflows', () => {
  it('starts, reads, lists, signals a run and prints its history', async () => {
    expect(await json('workflows', 'definitions')).toEqual({ workflows: [{ name: 'inspect', versions: ['1'] }] });

    const started = await cli('workflows', 'start', 'inspect', '--input', '{"asset":"T-7"}', '--id', 'inspect-T-7');
    expect(JSON.parse(started.stdout)).toMatchObject({ id: 'inspect-T-7', name: 'inspect', version: '1', input: { asset: 'T-7' } });
    expect(started.stderr).toBe('');
    const again = await cli('workflows', 'start', 'inspect', '--input', '{"asset":"T-7"}', '--id', 'inspect-T-7');
    expect(JSON.parse(again.stdout).id).toBe('inspect-T-7');
    expect(again.stderr).toContain('already existed');

    await untilStatus('inspect-T-7', 'waiting');
    expect(await json('workflows', 'get', 'inspect-T-7')).toMatchObject({ status: 'waiting', state: { phase: 'awaiting approval' } });

    const file = join(t.dataDir, 'input.json');
    writeFileSync(file, JSON.stringify({ asset: 'T-8' }));
    expect((await json('workflows', 'start', 'inspect', '--input-file', file)).input).toEqual({ asset: 'T-8' });
    const listed = await json('workflows', 'list', '--name', 'inspect', '--limit', '1');
    expect(listed.runs.map((r: { id: string }) => r.id)).toEqual(['inspect-T-7']);
    expect(listed.next).toEqual(expect.any(String));
    expect((await json('workflows', 'list', '--name', 'inspect', '--after', listed.next)).runs).toHaveLength(1);

    expect(await json('workflows', 'signal', 'inspect-T-7', 'approved', '--payload', '{"by":"ana"}')).toEqual({ seq: expect.any(Number) });
    const waited = await json('workflows', 'wait', 'inspect-T-7');
    expect(waited).toMatchObject({ id: 'inspect-T-7', status: 'completed' });
    const done = await untilStatus('inspect-T-7', 'completed');
    expect(done.output).toEqual({ reading: { asset: 'T-7', rms: 0.42 }, approvedBy: 'ana' });
    const history = await json('workflows', 'history', 'inspect-T-7');
    expect(history.entries.map((e: { kind: string; name: string }) => `${e.kind}:${e.name}`)).toEqual(['step:read', 'wait:approved', 'signal:approved']);
    expect((await json('workflows', 'list', '--status', 'completed')).runs.map((r: { id: string }) => r.id)).toEqual(['inspect-T-7']);
  }, CLI_TEST_TIMEOUT);

  it('cancels and terminates with a reason', async () => {
    const a = (await json('workflows', 'start', 'inspect', '--input', '{"asset":"A"}')).id;
    const b = (await json('workflows', 'start', 'inspect', '--input', '{"asset":"B"}')).id;
    await untilStatus(a, 'waiting');
    expect(await json('workflows', 'cancel', a, '--reason', 'asset sold')).toMatchObject({ id: a, cancelRequested: true });
    expect((await untilStatus(a, 'cancelled')).error.message).toContain('asset sold');
    expect(await json('workflows', 'terminate', b)).toMatchObject({ id: b, status: 'terminated' });
    const cancelled = await failure('workflows', 'wait', a);
    expect(cancelled.code).toBe(1);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ id: a, status: 'cancelled' });
    expect(cancelled.stderr).toContain(`run ${a} ended cancelled`);
    expect((await failure('workflows', 'wait', b)).stderr).toContain(`run ${b} ended terminated`);
  }, CLI_TEST_TIMEOUT);

  it('prints the problem and exits 1 on an API error or bad JSON', async () => {
    const unknown = await failure('workflows', 'start', 'no-such-workflow');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('AIOS_NOT_FOUND');
    const invalid = await failure('workflows', 'start', 'inspect', '--input', '{"asset":7}');
    expect(invalid.stderr).toContain('AIOS_VALIDATION');
    const badJson = await failure('workflows', 'signal', 'inspect-T-7', 'approved', '--payload', '{nope');
    expect(badJson.code).toBe(1);
    expect(badJson.stderr).toContain('--payload is not valid JSON');
    const reserved = await failure('workflows', 'signal', 'inspect-T-7', 'aios.cancel');
    expect(reserved.stderr).toContain('reserved');
    expect((await failure('workflows', 'retry', 'inspect-T-7')).stderr).toContain('AIOS_CONFLICT');
    // A run that waits for a signal nobody sends: the wait gives up, however fast or slow the machine.
    const waiting = (await json('workflows', 'start', 'inspect', '--input', '{"asset":"W"}')).id;
    const gaveUp = await failure('workflows', 'wait', waiting, '--timeout', '0.2');
    expect(gaveUp.code).toBe(1);
    expect(gaveUp.stderr).toMatch(new RegExp(`run ${waiting} is still (pending|running|waiting) after 0.2 s`));
    expect((await failure('workflows', 'wait', waiting, '--timeout', 'soon')).stderr).toContain('--timeout must be a positive number');
  }, CLI_TEST_TIMEOUT);
});

describe('aios schedules', () => {
  it('creates, lists, reads, pauses and deletes a schedule', async () => {
    const created = await json('schedules', 'create', '--id', 'daily-inspect', '--workflow', 'inspect', '--cron', '0 9 * * *', '--timezone', 'Europe/Berlin', '--input', '{"asset":"T-7"}', '--overlap', 'buffer_one', '--catch-up', 'all', '--catch-up-limit', '5');
    expect(created).toMatchObject({ id: 'daily-inspect', workflow: 'inspect', cron: '0 9 * * *', timezone: 'Europe/Berlin', input: { asset: 'T-7' }, overlap: 'buffer_one', catchUp: 'all', catchUpLimit: 5, paused: false });
    expect((await json('schedules', 'list')).schedules.map((s: { id: string }) => s.id)).toEqual(['daily-inspect']);
    expect(await json('schedules', 'update', 'daily-inspect', '--pause')).toMatchObject({ paused: true });
    expect(await json('schedules', 'get', 'daily-inspect')).toMatchObject({ paused: true, cron: '0 9 * * *' });
    expect(await json('schedules', 'update', 'daily-inspect', '--resume', '--cron', '15 9 * * *')).toMatchObject({ paused: false, cron: '15 9 * * *' });

    const bad = await failure('schedules', 'create', '--id', 'bad', '--workflow', 'inspect', '--cron', 'every morning', '--input', '{"asset":"T-7"}');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('AIOS_VALIDATION');
    expect(bad.stderr).toContain('/cron');

    const deleted = await cli('schedules', 'delete', 'daily-inspect');
    expect(deleted.stderr).toContain('deleted schedule daily-inspect');
    expect((await failure('schedules', 'get', 'daily-inspect')).stderr).toContain('AIOS_NOT_FOUND');
  }, CLI_TEST_TIMEOUT);
});
