/**
 * An app module: `aios start --app examples/turbine-workflows/app.ts` loads it (TypeScript, no
 * build step) and registers every workflow definition it exports.
 */
import { TerminalError, defineWorkflow } from 'aios';

/** Stands in for a maintenance system (CMMS) client: one order per idempotency key. */
const cmms = {
  orders: new Map<string, string>(),
  open(turbine: string, idempotencyKey: string): string {
    if (!this.orders.has(idempotencyKey)) this.orders.set(idempotencyKey, `WO-${turbine}-${this.orders.size + 1}`);
    return this.orders.get(idempotencyKey)!;
  },
};

interface Alert {
  readonly turbine: string;
  readonly score: number;
}

/** A vibration alert: open a work order, and when the model is unsure, ask an engineer first. */
export const inspectTurbine = defineWorkflow(
  'inspect-turbine',
  { version: '1', input: { type: 'object', required: ['turbine', 'score'], properties: { turbine: { type: 'string' }, score: { type: 'number' } } } },
  async (ctx, alert: Alert) => {
    await ctx.setState({ phase: 'triage' });
    if (alert.score < 0.8) {
      // Low confidence: an engineer decides, within 8 hours, or the alert is escalated.
      const answer = await ctx.waitForSignal<{ confirmed: boolean; by: string }>('engineer-review', { timeoutMs: 8 * 3600_000 });
      if (answer.timedOut) return { turbine: alert.turbine, outcome: 'escalated' };
      if (!answer.payload.confirmed) return { turbine: alert.turbine, outcome: 'dismissed', by: answer.payload.by };
    }
    await ctx.setState({ phase: 'work-order' });
    const workOrder = await ctx.step(
      'open-work-order',
      ({ idempotencyKey, emit }) => {
        // A real CMMS call passes idempotencyKey, so a retried attempt never opens a second order.
        const id = cmms.open(alert.turbine, idempotencyKey);
        emit('work-orders', { key: alert.turbine, data: { id, turbine: alert.turbine, score: alert.score } });
        return id;
      },
      { retry: { maxAttempts: 5, initialIntervalMs: 1000 } },
    );
    const parts = await ctx.step('order-parts', () => {
      if (alert.turbine === 'T-000') throw new TerminalError('no supplier for the test turbine');
      return ['bearing-6205', 'seal-kit'];
    });
    await ctx.setState({ phase: 'done', workOrder });
    return { turbine: alert.turbine, outcome: 'work-order', workOrder, parts };
  },
);

/** Nightly: a report step, scheduled with `aios schedules create --workflow fleet-report --cron "0 2 * * *"`. */
export const fleetReport = defineWorkflow('fleet-report', { version: '1' }, async (ctx) => {
  const at = ctx.now();
  return ctx.step('summarise', () => ({ at, turbines: 42 }));
});
