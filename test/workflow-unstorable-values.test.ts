import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineWorkflow } from '../src/workflows/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { until } from './support/until.ts';

/**
 * A value no write can store (larger than the payload limit, or holding a NUL character, which
 * PostgreSQL cannot keep) fails the step, the state update or the run that produced it, with the
 * reason. It must never fail the run's write instead: the run would be released and replayed,
 * producing the same value again, forever.
 */

const NS = 'default';
const LIMIT = 4096;

let executions = 0;
const big = defineWorkflow('big-result', { version: '1' }, async (ctx) => {
  await ctx.step('make', () => {
    executions++;
    return 'x'.repeat(LIMIT * 2);
  });
  return 'unreachable';
});
const nul = defineWorkflow('nul-result', { version: '1' }, async (ctx) => ctx.step('make', () => ({ label: 'a\u0000b' })));
const caught = defineWorkflow('caught-result', { version: '1' }, async (ctx) => {
  try {
    await ctx.step('make', () => 'y'.repeat(LIMIT * 2));
  } catch (e) {
    await ctx.step('fallback', () => 'stored a reference instead');
    return `recovered from ${(e as { code?: string }).code}`;
  }
  return 'unreachable';
});
const state = defineWorkflow('big-state', { version: '1' }, async (ctx) => {
  try {
    await ctx.setState({ blob: 'z'.repeat(LIMIT * 2) });
  } catch (e) {
    return `state refused: ${(e as { code?: string }).code}`;
  }
  return 'unreachable';
});
const output = defineWorkflow('big-output', { version: '1' }, async () => 'o'.repeat(LIMIT * 2));

const pg = await pgAvailable();
for (const backend of [{ name: 'sqlite', available: true }, { name: 'postgres', available: pg }]) {
  describe.skipIf(!backend.available)(`values no write can store: ${backend.name}`, () => {
    let t: TestAios;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const config: Record<string, string | number> = { maxWorkflowPayloadBytes: LIMIT };
      if (backend.name === 'postgres') {
        const schema = await freshPgSchema();
        config.databaseUrl = schema.url;
        drop = schema.drop;
      }
      t = await startTestAios(config);
      t.aios.register(big, nul, caught, state, output);
    });
    afterAll(async () => {
      await t?.cleanup();
      await drop?.();
    });

    const ended = (id: string) => until(async () => {
      const run = await t.aios.workflows.getRun(NS, id);
      return run && ['completed', 'failed', 'cancelled', 'terminated'].includes(run.status) ? run : undefined;
    }, `run ${id} to end`, 60_000);

    it('fails the step whose result is over the limit, once, and the run with it', async () => {
      executions = 0;
      await t.aios.workflows.startRun(NS, 'big-result', {}, { id: `big-${backend.name}` });
      const run = await ended(`big-${backend.name}`);
      expect(run.status).toBe('failed');
      expect(run.error?.message).toMatch(/more than the limit of 4096/);
      expect(executions).toBe(1);
      const journal = await t.aios.workflows.history(NS, run.id);
      expect(journal.map((e) => [e.kind, e.name, e.status])).toEqual([['step', 'make', 'error']]);
    });

    it('fails the step whose result holds a NUL character', async () => {
      await t.aios.workflows.startRun(NS, 'nul-result', {}, { id: `nul-${backend.name}` });
      const run = await ended(`nul-${backend.name}`);
      expect(run.status).toBe('failed');
      expect(run.error?.message).toMatch(/NUL/);
    });

    it('lets the workflow catch the failed step and go on', async () => {
      await t.aios.workflows.startRun(NS, 'caught-result', {}, { id: `caught-${backend.name}` });
      const run = await ended(`caught-${backend.name}`);
      expect(run.status).toBe('completed');
      expect(run.output).toBe('recovered from AIOS_WF_PAYLOAD_TOO_LARGE');
    });

    it('throws an unstorable state to the workflow code', async () => {
      await t.aios.workflows.startRun(NS, 'big-state', {}, { id: `state-${backend.name}` });
      const run = await ended(`state-${backend.name}`);
      expect(run.status).toBe('completed');
      expect(run.output).toBe('state refused: AIOS_WF_PAYLOAD_TOO_LARGE');
    });

    it('fails a run whose output is over the limit', async () => {
      await t.aios.workflows.startRun(NS, 'big-output', {}, { id: `output-${backend.name}` });
      const run = await ended(`output-${backend.name}`);
      expect(run.status).toBe('failed');
      expect(run.error?.message).toMatch(/output .* more than the limit/);
    });
  });
}
