/**
 * The workload every system runs, so that figures compare: a workflow of N trivial durable steps
 * (step i returns i + input; no external I/O), started by the client and awaited to completion, with
 * `concurrency` workflows in flight. Latency is start-to-result per workflow, measured here, by the
 * caller. Throughput is over the whole measured batch, after a warm-up batch that is not counted.
 */
import { percentile, round } from '../_report.ts';

export type Workload = '1-step' | '10-step';

export interface PeerOptions {
  workload: Workload;
  /** Workflows in the measured batch. */
  workflows: number;
  /** Workflows in flight at once. */
  concurrency: number;
  /** PostgreSQL to use (DBOS); defaults to AIOS_TEST_PG_URL or postgres://postgres@127.0.0.1:5432/test. */
  pgUrl?: string;
  /** Workflows run first and not counted; default max(20, 2 × concurrency). */
  warmup?: number;
}

export interface PeerResult {
  system: 'dbos' | 'restate';
  backend: 'postgres' | 'restate';
  workload: Workload;
  concurrency: number;
  workflows: number;
  /** Steps per workflow (1 or 10). */
  steps: number;
  /** Wall time of the measured batch. */
  seconds: number;
  workflowsPerSec: number;
  stepsPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

export const stepsOf = (workload: Workload): number => (workload === '10-step' ? 10 : 1);

/** What a workflow of `steps` steps returns for `input`: the sum of i + input over its steps. */
export const expectedResult = (steps: number, input: number): number => steps * input + (steps * (steps - 1)) / 2;

/**
 * Runs `count` workflows through `runOne` (start it, await its result, return the result), at most
 * `concurrency` at a time; checks each result, so a system that skips steps cannot look fast.
 */
export async function drive(count: number, concurrency: number, steps: number, runOne: (seq: number, input: number) => Promise<number>) {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const seq = next++;
        const input = seq % 1000;
        const t0 = performance.now();
        const got = await runOne(seq, input);
        latencies.push(performance.now() - t0);
        if (got !== expectedResult(steps, input)) throw new Error(`workflow ${seq} returned ${got}, expected ${expectedResult(steps, input)}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { seconds, latencies };
}

/** Warm-up, then the measured batch; returns the figures in the shape every result shares (AIOS's too). */
export async function measure<S extends string, B extends string>(
  system: S,
  backend: B,
  opts: PeerOptions,
  runOne: (seq: number, input: number) => Promise<number>,
): Promise<Omit<PeerResult, 'system' | 'backend'> & { system: S; backend: B }> {
  const steps = stepsOf(opts.workload);
  const warmup = opts.warmup ?? Math.max(20, 2 * opts.concurrency);
  let offset = 0;
  const withOffset = (seq: number, input: number) => runOne(offset + seq, input);
  if (warmup > 0) await drive(warmup, opts.concurrency, steps, withOffset);
  offset = warmup;
  const { seconds, latencies } = await drive(opts.workflows, opts.concurrency, steps, withOffset);
  const workflowsPerSec = opts.workflows / seconds;
  return {
    system,
    backend,
    workload: opts.workload,
    concurrency: opts.concurrency,
    workflows: opts.workflows,
    steps,
    seconds: round(seconds),
    workflowsPerSec: Math.round(workflowsPerSec),
    stepsPerSec: Math.round(workflowsPerSec * steps),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
  };
}
