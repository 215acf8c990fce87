export { API_PREFIX, LINEAGE_HEADER, NAMESPACE_HEADER } from './context.ts';
export type { App, HttpDeps, RouteDeps, RouteInfo, ServerLimits } from './context.ts';
export { actorOf, auditInput, namespaceOf, traceIdOf } from './request-context.ts';
export type { AuditExtra, RequestAuth } from './request-context.ts';
export { CLOUDEVENTS_BATCH, NDJSON_LINES, ndjsonLines } from './body-marks.ts';
export { PageQuery, ProblemSchema } from './schemas.ts';
export { JSON_ONLY, NDJSON, PROMETHEUS_TEXT } from './media-types.ts';
export { DEFAULT_PAGE_LIMIT, pagedList, pageOf, pageSchema } from './paged-list.ts';
export type { Page } from './paged-list.ts';
