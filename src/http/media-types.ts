export const JSON_ONLY: readonly string[] = ['application/json'];
export const NDJSON = 'application/x-ndjson';
/** The Prometheus text exposition format, as scrapers ask for it. */
export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4';
