import type { FastifyReply, FastifyRequest } from 'fastify';
import { AiosError, jsonPointer, NUL_MESSAGE, type FieldError } from '../core/index.ts';
import { sendProblem } from './problem.ts';

/*
 * NUL characters (U+0000) are refused wherever the API takes text (see core/text.ts for why).
 * Path parameters, the query string and headers are looked at here, in `onRequest` before the
 * guard: a NUL in them is malformed the way a broken percent-encoding is (which the router
 * refuses before any hook), and refusing it first keeps it out of everything the guard records
 * (the audit trail's resource, namespace and lineage id). Bodies are looked at as they are parsed
 * (content-types.ts).
 */

function check(part: string, values: unknown, errors: FieldError[]): void {
  if (!values || typeof values !== 'object') return;
  for (const [name, v] of Object.entries(values)) {
    if (name.includes('\u0000')) errors.push({ path: `/${part}`, message: `has a name that ${NUL_MESSAGE}` });
    const list = Array.isArray(v) ? v : [v];
    list.forEach((x, i) => {
      if (typeof x === 'string' && x.includes('\u0000')) errors.push({ path: jsonPointer(Array.isArray(v) ? [part, name, i] : [part, name]), message: NUL_MESSAGE });
    });
  }
}

/**
 * Whether anything outside the body may hold a NUL: a percent-encoded one in the URL (decoded into
 * a parameter or query value) or one in a header. Node's HTTP parser refuses a raw NUL in a header
 * on a socket; requests injected in-process can still carry one. Cheap, so the common request
 * costs a scan of its URL and raw header strings, not a walk of the parsed objects.
 */
function mayHoldNul(req: FastifyRequest): boolean {
  const url = req.url;
  if (url.includes('%00') || url.includes('\u0000')) return true;
  const raw = req.raw.rawHeaders;
  for (let i = 0; i < raw.length; i++) if (raw[i].includes('\u0000')) return true;
  return false;
}

/** Answers 400 AIOS_VALIDATION, naming each field, when a path parameter, query value or header holds a NUL character. */
export function refuseNulInRequest(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
  if (!mayHoldNul(req)) return done();
  const errors: FieldError[] = [];
  check('params', req.params, errors);
  check('querystring', req.query, errors);
  check('headers', req.headers, errors);
  if (!errors.length) return done();
  const e = new AiosError('AIOS_VALIDATION', `${errors.map((x) => x.path).join(', ')} ${errors.length > 1 ? 'hold' : 'holds'} a NUL character (U+0000), which AIOS does not store`, { errors });
  sendProblem(reply, e, req);
}
