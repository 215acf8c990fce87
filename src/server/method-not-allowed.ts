import type { RouteInfo } from '../http/index.ts';

/** A route URL (`/topics/:topic/events`, `/docs/*`) as a matcher of concrete paths. */
function matcher(url: string): RegExp {
  const pattern = url
    .split('/')
    .map((seg) => (seg === '*' ? '.*' : seg.includes(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}$`);
}

/**
 * The methods registered for a concrete path, sorted: what a 405 lists in `Allow` when a path
 * exists but not with the method asked for (an empty list: no such path, a 404).
 *
 * @example
 * const allowed = methodsAllowed(routeInventory(app));
 * allowed('/api/v1/topics/vibration/stream'); // ['GET', 'HEAD']
 */
export function methodsAllowed(routes: readonly RouteInfo[]): (path: string) => string[] {
  let compiled: { re: RegExp; method: string }[] | undefined;
  return (path) => {
    // Built on first use, once every route is registered.
    compiled ??= routes.map((r) => ({ re: matcher(r.url), method: r.method }));
    return [...new Set(compiled.filter((c) => c.re.test(path)).map((c) => c.method))].sort();
  };
}
