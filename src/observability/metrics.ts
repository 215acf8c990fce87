import { collectDefaultMetrics, Registry } from 'prom-client';

/** A Prometheus registry per runtime (no global registry: two runtimes in one process stay apart). */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'aios_process_' });
  return registry;
}
