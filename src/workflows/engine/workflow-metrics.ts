import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Prometheus metrics of the workflow engine, on the registry the runtime passes in. */
export class WorkflowMetrics {
  readonly #started: Counter<'workflow'>;
  readonly #ended: Counter<'workflow' | 'status'>;
  readonly #steps: Counter<'workflow' | 'status'>;
  readonly #runSeconds: Histogram<'workflow' | 'status'>;

  constructor(registry: Registry, inMemory: () => number) {
    const registers = [registry];
    this.#started = new Counter({ name: 'aios_workflow_runs_started_total', help: 'Workflow runs created (an idempotent start of an existing id is not counted)', labelNames: ['workflow'], registers });
    this.#ended = new Counter({ name: 'aios_workflow_runs_ended_total', help: 'Workflow runs that ended, by final status', labelNames: ['workflow', 'status'], registers });
    this.#steps = new Counter({ name: 'aios_workflow_steps_total', help: 'Step results journaled by this process (ok, or error once retries are spent)', labelNames: ['workflow', 'status'], registers });
    this.#runSeconds = new Histogram({
      name: 'aios_workflow_run_seconds',
      help: 'From a run\'s creation to its end',
      labelNames: ['workflow', 'status'],
      buckets: [0.01, 0.1, 1, 10, 60, 600, 3600, 86_400, 604_800],
      registers,
    });
    new Gauge({
      name: 'aios_workflow_runs_in_memory',
      help: 'Runs this process holds in memory (executing, or waiting briefly)',
      registers,
      collect() {
        this.set(inMemory());
      },
    });
  }

  started(workflow: string): void {
    this.#started.inc({ workflow });
  }

  ended(workflow: string, status: string, seconds: number): void {
    this.#ended.inc({ workflow, status });
    this.#runSeconds.observe({ workflow, status }, Math.max(0, seconds));
  }

  step(workflow: string, status: 'ok' | 'error'): void {
    this.#steps.inc({ workflow, status });
  }
}
