export { createMetricsRegistry } from './metrics.ts';
export type { Registry } from 'prom-client';
