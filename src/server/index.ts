export { buildServer, routeInventory, API_PREFIX, NAMESPACE_HEADER, LINEAGE_HEADER } from './app.ts';
export type { App, RouteInfo, ServerDeps } from './app.ts';
export { toProblem, PROBLEM_CONTENT_TYPE } from './problem.ts';
