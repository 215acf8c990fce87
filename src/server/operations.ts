import type { OperationSpec } from '../capability/index.ts';
import { JSON_ONLY, NDJSON, PROMETHEUS_TEXT } from '../http/index.ts';

export type { OperationSpec };
export { JSON_ONLY, NDJSON, PROMETHEUS_TEXT };

/**
 * Every documented operation, by method and OpenAPI path. A route missing here, an id used
 * twice, or an entry no route matches fails the server at start-up.
 */
/**
 * The server's own operations (health, readiness, metrics). Each capability declares its own in
 * its definition; the server checks them all against the routes at start-up.
 */
export const OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'GET /healthz': { id: 'getLiveness' },
  'GET /readyz': { id: 'getReadiness' },
  'GET /metrics': { id: 'getMetrics', produces: PROMETHEUS_TEXT },
};

/** `/topics/:topic` as OpenAPI writes it: `/topics/{topic}`. */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

/**
 * Checks each route against `OPERATIONS` as it is registered, and the table against the routes
 * at the end: every documented route has a unique operationId, every entry names a route.
 *
 * @example
 * const ops = operationRegistry();
 * app.addHook('onRoute', (r) => ops.route(r.method, r.url, r.schema?.operationId));
 * // ...register the routes, then:
 * ops.checkComplete();
 */
export function operationRegistry(table: Readonly<Record<string, OperationSpec>> = OPERATIONS) {
  const used = new Map<string, string>();
  const seen = new Set<string>();
  return {
    /** The spec of a documented route; throws when it has none or its id is taken. */
    route(method: string, url: string, ownId?: string): OperationSpec {
      const key = `${method} ${openApiPath(url)}`;
      const spec = table[key];
      const id = ownId ?? spec?.id;
      if (!id) throw new Error(`route ${key} has no operationId: add it to the operations of its capability's definition`);
      const other = used.get(id);
      if (other && other !== key) throw new Error(`operationId "${id}" of ${key} is already the id of ${other}`);
      used.set(id, key);
      seen.add(key);
      return { ...spec, id };
    },
    /** Throws when an entry of the table matched no route. */
    checkComplete(): void {
      const stale = Object.keys(table).filter((k) => !seen.has(k));
      if (stale.length) throw new Error(`the operations tables name routes that do not exist: ${stale.join(', ')}`);
    },
  };
}
