import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { AiosError, type ErrorCode, type FieldError } from '../core/index.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Media types the route's body may have (415 for others); set from the operations table at start. */
    accepts?: readonly string[];
  }
}

/** RFC 9457 problem details, with our stable `code` and field errors. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance?: string;
  errors?: readonly FieldError[];
  [extra: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export function problemType(code: string): string {
  return `urn:aios:error:${code}`;
}

/** Fastify's own error codes, translated once into ours. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'AIOS_PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'AIOS_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'AIOS_BAD_REQUEST',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'AIOS_MALFORMED_JSON',
  FST_ERR_CTP_INVALID_JSON_BODY: 'AIOS_MALFORMED_JSON',
  FST_ERR_VALIDATION: 'AIOS_VALIDATION',
};

export function toAiosError(err: unknown): AiosError {
  if (err instanceof AiosError) return err;
  const fe = err as FastifyError & { validation?: { instancePath?: string; message?: string; params?: Record<string, unknown> }[]; validationContext?: string };
  if (fe?.validation) {
    const errors = fe.validation.map((v) => ({
      path: `${fe.validationContext ?? ''}${v.instancePath || (v.params?.missingProperty ? `/${v.params.missingProperty}` : '')}`,
      message: v.message ?? 'is invalid',
    }));
    return new AiosError('AIOS_VALIDATION', fe.message, { errors });
  }
  const mapped = fe?.code ? FASTIFY_CODES[fe.code] : undefined;
  if (mapped) {
    const detail = mapped === 'AIOS_MALFORMED_JSON' ? `the body is not valid JSON: ${fe.message}` : fe.message;
    return new AiosError(mapped, detail, { cause: err });
  }
  if (err instanceof SyntaxError) return new AiosError('AIOS_MALFORMED_JSON', `the body is not valid JSON: ${err.message}`);
  if (typeof fe?.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return new AiosError('AIOS_BAD_REQUEST', fe.message, { cause: err });
  }
  return new AiosError('AIOS_INTERNAL', 'internal error; the request id in the logs has the details', { cause: err });
}

export function toProblem(e: AiosError, instance?: string): Problem {
  const p: Problem = { type: problemType(e.code), title: e.title, status: e.status, detail: e.message, code: e.code };
  if (instance) p.instance = instance;
  if (e.errors?.length) p.errors = e.errors;
  if (e.extra) for (const [k, v] of Object.entries(e.extra)) if (!(k in p)) p[k] = v;
  return p;
}

export function sendProblem(reply: FastifyReply, e: AiosError, req?: FastifyRequest): FastifyReply {
  if (e.status === 429 || e.status === 503) reply.header('retry-after', String(e.extra?.retryAfterSeconds ?? 1));
  // RFC 6750: the scheme to authenticate with, and whether the credentials sent were refused.
  if (e.status === 401) reply.header('www-authenticate', req?.headers.authorization ? 'Bearer realm="aios", error="invalid_token"' : 'Bearer realm="aios"');
  if (e.status === 405 && Array.isArray(e.extra?.allowed)) reply.header('allow', e.extra.allowed.join(', '));
  if (e.status === 415 && Array.isArray(e.extra?.accepted)) reply.header('accept', e.extra.accepted.join(', '));
  return reply.code(e.status).type(PROBLEM_CONTENT_TYPE).send(toProblem(e, req?.url));
}

/** The media types a route's body may have, from its `accepts` config (JSON when it declares none). */
export function acceptedTypes(req: FastifyRequest): readonly string[] {
  return req.routeOptions.config?.accepts ?? ['application/json'];
}

/** Refusals that Fastify raises without the figures a client needs to fix the request. */
function withRouteFacts(err: unknown, req: FastifyRequest): AiosError | undefined {
  const code = (err as FastifyError)?.code;
  if (code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    const limit = req.routeOptions.bodyLimit;
    return new AiosError('AIOS_PAYLOAD_TOO_LARGE', `the body is larger than the limit of ${limit} bytes (AIOS_BODY_LIMIT_BYTES); split it into several requests`, { cause: err, extra: { limitBytes: limit } });
  }
  if (code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return unsupportedMediaType(req, err);
  return undefined;
}

/** 415 naming the content type sent and the ones this route accepts. */
export function unsupportedMediaType(req: FastifyRequest, cause?: unknown): AiosError {
  const accepted = acceptedTypes(req);
  const sent = req.headers['content-type'];
  const what = sent ? `content type "${String(sent).slice(0, 100)}"` : 'a body without a content type';
  return new AiosError('AIOS_UNSUPPORTED_MEDIA_TYPE', `${what} is not accepted here; send ${accepted.join(', ')}`, { cause, extra: { accepted } });
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const e = withRouteFacts(err, req) ?? toAiosError(err);
  if (e.status >= 500) req.log.error({ err }, 'request failed');
  else req.log.info({ code: e.code, detail: e.message }, 'request refused');
  return sendProblem(reply, e, req);
}
