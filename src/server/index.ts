export { buildServer, API_PREFIX, NAMESPACE_HEADER } from './app.ts';
export type { App, ServerDeps } from './app.ts';
export { toProblem, PROBLEM_CONTENT_TYPE } from './problem.ts';
