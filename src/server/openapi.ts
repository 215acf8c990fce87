import { PROBLEM_CONTENT_TYPE } from './problem.ts';
import { NDJSON, OPERATIONS, type OperationSpec } from './operations.ts';
import { ProblemSchema } from '../http/index.ts';

type Json = Record<string, unknown>;

interface Operation {
  operationId?: string;
  security?: unknown[];
  parameters?: unknown[];
  requestBody?: { content?: Record<string, { schema?: Json }> };
  responses?: Record<string, Response>;
}

interface Response {
  description?: string;
  content?: Record<string, { schema?: Json }>;
  headers?: Record<string, unknown>;
}

/** The parts of the document this module reads and completes. */
export interface OpenApiDocument {
  security?: unknown[];
  servers?: { url: string; description?: string }[];
  components?: { schemas?: Record<string, unknown>; headers?: Record<string, unknown>; [k: string]: unknown };
  paths?: Record<string, Record<string, Operation>>;
  [k: string]: unknown;
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' };
const CLOUD_EVENT_REF = { $ref: '#/components/schemas/CloudEvent' };

/** A CloudEvents 1.0 event in structured JSON mode, as the append route reads it. */
const CLOUD_EVENT = {
  type: 'object',
  description: 'A CloudEvents 1.0 event (structured mode). `id` is the idempotency key, `partitionkey` the key; source, type, subject and extensions become ce-* headers.',
  required: ['specversion', 'id', 'source', 'type'],
  properties: {
    specversion: { type: 'string', enum: ['1.0'] },
    id: { type: 'string', minLength: 1 },
    source: { type: 'string', minLength: 1 },
    type: { type: 'string', minLength: 1 },
    subject: { type: 'string' },
    time: { type: 'string', format: 'date-time' },
    datacontenttype: { type: 'string' },
    dataschema: { type: 'string' },
    partitionkey: { type: 'string' },
    data: { description: 'must match the topic\'s data contract' },
  },
  additionalProperties: true,
};

/** Request body schemas of the media types that are not plain JSON. */
const BODY_SCHEMAS: Record<string, Json> = {
  [NDJSON]: { type: 'string', description: 'one JSON value per line (for appends, an event {id?, key?, time?, data, headers?}); blank lines are skipped' },
  'application/cloudevents+json': CLOUD_EVENT_REF,
  'application/cloudevents-batch+json': { type: 'array', items: CLOUD_EVENT_REF },
};

const RETRY_AFTER = { 'Retry-After': { description: 'seconds to wait before retrying', schema: { type: 'integer', minimum: 0 } } };
const WWW_AUTHENTICATE = { 'WWW-Authenticate': { description: 'Bearer realm="aios", with error="invalid_token" when credentials were sent', schema: { type: 'string' } } };

const ERROR_DESCRIPTIONS: Record<string, string> = {
  400: 'The request (a parameter, the body, or a header such as x-aios-lineage-id) is malformed or does not match the schema; `errors` names each field',
  401: 'No valid credentials (AIOS_AUTH_UNAUTHENTICATED)',
  403: 'The principal may not do this, or not in this namespace (AIOS_AUTH_FORBIDDEN)',
  404: 'No such resource',
  409: 'Conflict with the current state of the resource',
  413: 'The body is larger than the limit; `limitBytes` gives it (AIOS_PAYLOAD_TOO_LARGE)',
  415: 'The content type is not accepted here; `accepted` lists the ones that are (AIOS_UNSUPPORTED_MEDIA_TYPE)',
  422: 'The request was refused because of rejected items; nothing was changed',
  429: 'Too many requests; retry after Retry-After seconds',
  503: 'Starting, stopping, or a backing service is unreachable; retry after Retry-After seconds',
};

function problemResponse(status: string, description?: string): Response {
  const r: Response = { description: description ?? ERROR_DESCRIPTIONS[status] ?? 'An error', content: { [PROBLEM_CONTENT_TYPE]: { schema: PROBLEM_REF } } };
  if (status === '429' || status === '503') r.headers = RETRY_AFTER;
  if (status === '401') r.headers = WWW_AUTHENTICATE;
  return r;
}

/** A response Fastify documented from `ProblemSchema` (inline, as application/json). */
function isInlineProblem(r: Response): boolean {
  const required = r.content?.['application/json']?.schema?.required;
  return Array.isArray(required) && ['type', 'title', 'status', 'detail', 'code'].every((k) => required.includes(k));
}

/** The statuses every operation of this shape can answer, whatever its route declares. */
function standardErrors(path: string, op: Operation, secured: boolean): string[] {
  // Every request may carry a malformed x-aios-lineage-id or x-aios-namespace header: 400 anywhere.
  const out: string[] = ['400'];
  if (secured) out.push('401', '403');
  if (path.includes('{')) out.push('404');
  if (op.requestBody) out.push('413', '415');
  if (secured) out.push('429');
  if (path.startsWith('/api/')) out.push('503');
  return out;
}

/**
 * Completes the document @fastify/swagger builds from the routes' schemas with what those
 * cannot say: operationIds, every error an operation can answer as `application/problem+json`
 * referencing one `Problem` schema, the append body's media types, the non-JSON answers (SSE,
 * Prometheus text, NDJSON) and a `servers` entry.
 *
 * @example
 * await app.register(swagger, { openapi: {...}, transformObject: ({ openapiObject }) => completeDocument(openapiObject) });
 */
export function completeDocument<T extends OpenApiDocument>(doc: T, operations: Readonly<Record<string, OperationSpec>> = OPERATIONS): T {
  doc.servers = [{ url: '/', description: 'the AIOS server that serves this document' }];
  doc.components = { ...doc.components, schemas: { ...doc.components?.schemas, Problem: JSON.parse(JSON.stringify(ProblemSchema)), CloudEvent: CLOUD_EVENT } };
  const securedByDefault = (doc.security?.length ?? 0) > 0;
  for (const [path, methods] of Object.entries(doc.paths ?? {})) {
    for (const [method, op] of Object.entries(methods)) {
      const spec = operations[`${method.toUpperCase()} ${path}`];
      op.operationId ??= spec?.id;
      const responses = (op.responses ??= {});
      for (const [status, r] of Object.entries(responses)) if (Number(status) >= 400 && isInlineProblem(r)) responses[status] = problemResponse(status);
      const secured = op.security === undefined ? securedByDefault : op.security.length > 0;
      for (const status of standardErrors(path, op, secured)) responses[status] ??= problemResponse(status);
      if (spec?.produces) {
        const ok = Object.keys(responses).find((s) => s.startsWith('2')) ?? '200';
        responses[ok] = { ...responses[ok], description: responses[ok]?.description ?? 'OK', content: { [spec.produces]: { schema: { type: 'string' } } } };
      }
      if (spec?.accepts && op.requestBody) {
        const json = op.requestBody.content?.['application/json'];
        op.requestBody.content = Object.fromEntries(spec.accepts.map((type) => [type, type === 'application/json' ? (json ?? {}) : { schema: BODY_SCHEMAS[type] ?? {} }]));
      }
      // Keep the answers in status order: generated clients and readers expect it.
      op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
    }
  }
  return doc;
}
