import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TerminalError, defineWorkflow } from '../src/workflows/index.ts';
import { freshPgSchema, pgAvailable } from './support/services.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { until } from './support/until.ts';

/**
 * Workflows through createAios: every run's lifecycle in the audit trail (with who did it), a
 * lineage node per step in the run's lineage, written in the step's own transaction.
 */

const NS = 'default';

const inspect = defineWorkflow('inspect', { version: '1' }, async (ctx, input: { asset: string; fail?: boolean }) => {
  const reading = await ctx.step('read', () => ({ rms: 0.7 }));
  await ctx.waitForSignal('approved');
  await ctx.step('score', () => reading.rms * 2);
  if (input.fail) await ctx.step('order-parts', () => Promise.reject(new TerminalError('supplier offline', { code: 'SUPPLIER_DOWN' })));
  return ctx.step('report', () => `report for ${input.asset}`);
});


const pg = await pgAvailable();
const backends = [{ name: 'sqlite', available: true }, { name: 'postgres', available: pg }];

for (const backend of backends) {
  describe.skipIf(!backend.available)(`workflow audit and lineage: ${backend.name}`, () => {
    let t: TestAios;
    let drop: (() => Promise<void>) | undefined;
    beforeAll(async () => {
      const config: Record<string, string> = {};
      if (backend.name === 'postgres') {
        const schema = await freshPgSchema();
        config.databaseUrl = schema.url;
        drop = schema.drop;
      }
      t = await startTestAios(config);
      t.aios.register(inspect);
    });
    afterAll(async () => {
      await t?.cleanup();
      await drop?.();
    });

    it('audits start, signal, cancel and end with who did them, and records a lineage node per step', async () => {
      const { workflows, governance } = t.aios;
      const ok = await workflows.startRun(NS, 'inspect', { asset: 'T-7' }, { id: 'ok-1', createdBy: 'user:ana' });
      const bad = await workflows.startRun(NS, 'inspect', { asset: 'T-8', fail: true }, { id: 'bad-1', createdBy: 'service:scada-gw' });
      const gone = await workflows.startRun(NS, 'inspect', { asset: 'T-9' }, { id: 'gone-1', createdBy: 'user:ana' });
      await until(async () => (await workflows.getRun(NS, 'gone-1'))?.status === 'waiting', 'the runs to wait');
      await workflows.signal(NS, 'ok-1', 'approved', { by: 'bo' }, { by: 'user:bo' });
      await workflows.signal(NS, 'bad-1', 'approved', {}, { by: 'user:bo' });
      await workflows.cancel(NS, 'gone-1', { reason: 'asset retired', by: 'user:cy' });
      await until(async () => (await Promise.all([ok, bad, gone].map((r) => workflows.getRun(NS, r.id)))).every((r) => r && ['completed', 'failed', 'cancelled'].includes(r.status)), 'the runs to end');

      const trail = async (id: string) => (await governance.audit.query(NS, { resource: `workflow:${id}`, limit: 100 })).map((r) => `${r.action} ${r.actor.type}:${r.actor.id} ${r.outcome}${r.error ? ` ${r.error}` : ''}`);
      expect(await trail('ok-1')).toEqual(['workflows:started user:ana success', 'workflows:signalled user:bo success', 'workflows:completed system:workflow-engine success']);
      expect(await trail('bad-1')).toEqual(['workflows:started service:scada-gw success', 'workflows:signalled user:bo success', 'workflows:failed system:workflow-engine failure SUPPLIER_DOWN']);
      expect(await trail('gone-1')).toEqual(['workflows:started user:ana success', 'workflows:cancel_requested user:cy success', 'workflows:cancelled system:workflow-engine failure AIOS_WF_CANCELLED']);
      const records = await governance.audit.query(NS, { resource: 'workflow:ok-1', limit: 10 });
      expect(new Set(records.map((r) => r.lineageId))).toEqual(new Set([ok.lineageId]));

      const graph = await governance.lineage.graph(NS, ok.lineageId);
      const steps = graph.nodes.filter((n) => n.kind === 'workflow_step');
      expect(steps.map((n) => `${n.name} ${n.ref}`).sort()).toEqual(['read workflow:ok-1/step:0', 'report workflow:ok-1/step:4', 'score workflow:ok-1/step:3']);
      const failed = (await governance.lineage.graph(NS, bad.lineageId)).nodes.find((n) => n.name === 'order-parts');
      expect(failed?.attrs).toMatchObject({ status: 'error', error: 'SUPPLIER_DOWN', workflow: 'inspect' });
      expect((await governance.verifyAudit()).ok).toBe(true);

      // The same story in the engine's Prometheus metrics.
      const text = await t.aios.metrics.metrics();
      const value = (line: string) => Number(text.split('\n').find((l) => l.startsWith(line + ' '))?.split(' ').at(-1));
      expect(value('aios_workflow_runs_started_total{workflow="inspect"}')).toBe(3);
      for (const status of ['completed', 'failed', 'cancelled']) expect(value(`aios_workflow_runs_ended_total{workflow="inspect",status="${status}"}`), status).toBe(1);
      expect(value('aios_workflow_steps_total{workflow="inspect",status="ok"}')).toBe(6); // read x3, score x2, report x1
      expect(value('aios_workflow_steps_total{workflow="inspect",status="error"}')).toBe(1);
      expect(value('aios_workflow_run_seconds_count{workflow="inspect",status="completed"}')).toBe(1);
    });
  });
}
