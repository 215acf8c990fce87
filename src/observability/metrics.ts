import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';

/** prom-client's default metrics are collected under this prefix: `aios_process_nodejs_*` keeps its names. */
const PREFIX = 'aios_process_';

/**
 * Gauges that prom-client names with a counter's `_total` suffix, which Prometheus tooling
 * refuses; each is the sum of the per-type gauge of the same name without `_total`.
 */
const DROPPED = new Set(['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map((n) => PREFIX + n));

/**
 * A Prometheus registry per runtime (no global registry: two runtimes in one process stay apart),
 * with the Node.js process metrics: `aios_process_*` (CPU, memory, file descriptors, start time)
 * and `aios_process_nodejs_*` (event loop lag, heap, GC, active handles by type).
 *
 * @example
 * const registry = createMetricsRegistry();
 * const text = await registry.metrics(); // what /metrics serves
 */
export function createMetricsRegistry(opts: { defaultMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) addProcessMetrics(registry);
  return registry;
}

function addProcessMetrics(registry: Registry): void {
  const collected = new Registry();
  collectDefaultMetrics({ register: collected, prefix: PREFIX });
  for (const { name } of collected.getMetricsAsArray()) {
    if (DROPPED.has(name)) continue;
    const metric = collected.getSingleMetric(name)!;
    // prom-client prefixes its own `process_` names, which gave `aios_process_process_*`.
    if (name.startsWith(`${PREFIX}process_`)) renamed(registry, metric, `aios_${name.slice(PREFIX.length)}`);
    else registry.registerMetric(metric);
  }
}

/** Serves `source`'s values under another name (process metrics carry no labels). */
function renamed(registry: Registry, source: Metric, name: string): void {
  const help = (source as unknown as { help: string }).help;
  const read = async () => (await source.get()).values;
  if (source instanceof Counter) {
    new Counter({
      name,
      help,
      registers: [registry],
      async collect() {
        const values = await read();
        this.reset();
        for (const v of values) this.inc(v.value);
      },
    });
  } else {
    new Gauge({
      name,
      help,
      registers: [registry],
      async collect() {
        for (const v of await read()) this.set(v.value);
      },
    });
  }
}
