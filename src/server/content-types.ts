import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AiosError, refuseNul } from '../core/index.ts';
import { parseCloudEvents } from '../events/index.ts';
import { CLOUDEVENTS_BATCH, NDJSON_LINES } from '../http/index.ts';
import { acceptedTypes, unsupportedMediaType } from './problem.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The body is a batch whose items the handler checks one by one, NUL characters included, so
     * that one bad item is rejected with its index instead of failing the request.
     */
    bodyItemsChecked?: boolean;
  }
}

/**
 * Refuses, before the body is read, a body whose media type the route does not take (its
 * `accepts`, JSON by default), so every route answers 415 alike instead of parsing a type
 * registered for another route (NDJSON or text as an array or a string).
 */
export async function refuseUnacceptedMediaType(req: FastifyRequest): Promise<void> {
  // No route: the 404 or 405 says more than the media type would.
  if (req.is404 || req.method === 'GET' || req.method === 'HEAD') return;
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (!hasBody) return;
  const type = String(req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (!acceptedTypes(req).includes(type)) throw unsupportedMediaType(req);
}

/** Deepest nesting accepted in a body; deeper documents are refused before anything reads them recursively. */
export const MAX_JSON_DEPTH = 100;

/**
 * Refuses JSON that parses but has no faithful canonical form: numbers beyond float range
 * (`1e999` parses to Infinity and would be stored as null), lone UTF-16 surrogates (stored as
 * U+FFFD), and nesting deep enough to overflow recursive code (hashing, validation, stringify).
 * Iterative, so the check itself cannot overflow. Returns whether a string or a key holds a NUL
 * character (refused by the caller where it applies, naming the field).
 */
export function assertPortableJson(value: unknown, what: string): boolean {
  let nul = false;
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new AiosError('AIOS_MALFORMED_JSON', `${what} holds a number outside the 64-bit float range`);
    } else if (typeof v === 'string') {
      if (!v.isWellFormed()) throw new AiosError('AIOS_MALFORMED_JSON', `${what} holds a string with a lone UTF-16 surrogate`);
      nul ||= v.includes('\u0000');
    } else if (v !== null && typeof v === 'object') {
      if (depth >= MAX_JSON_DEPTH) throw new AiosError('AIOS_MALFORMED_JSON', `${what} is nested deeper than ${MAX_JSON_DEPTH} levels`);
      if (Array.isArray(v)) for (const x of v) stack.push([x, depth + 1]);
      else
        for (const [k, x] of Object.entries(v)) {
          if (!k.isWellFormed()) throw new AiosError('AIOS_MALFORMED_JSON', `${what} holds a key with a lone UTF-16 surrogate`);
          nul ||= k.includes('\u0000');
          stack.push([x, depth + 1]);
        }
    }
  }
  return nul;
}

/** A parsed body: portable JSON, and without NUL characters unless the route checks its items itself. */
function checkBody(req: FastifyRequest, value: unknown, what: string): void {
  refuseNulUnlessPerItem(req, value, assertPortableJson(value, what));
}

function refuseNulUnlessPerItem(req: FastifyRequest, value: unknown, holdsNul: boolean): void {
  if (holdsNul && !req.routeOptions.config?.bodyItemsChecked) refuseNul(value, '/body');
}

function parseJson(text: string, what: string, extra?: Record<string, unknown>): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // The engine's message quotes the text around the error, which may be a secret: not repeated.
    throw new AiosError('AIOS_MALFORMED_JSON', `${what} is not valid JSON`, { extra });
  }
}

/** `assertPortableJson` for one NDJSON line: its refusal names the line in `line` too. */
function portableLine(value: unknown, line: number): boolean {
  try {
    return assertPortableJson(value, `line ${line}`);
  } catch (e) {
    throw new AiosError('AIOS_MALFORMED_JSON', (e as Error).message, { extra: { line } });
  }
}

/**
 * JSON bodies are checked to be portable (see `assertPortableJson`). Body parsers beyond JSON: NDJSON for bulk loads (one event per line; one broken line fails
 * the request and appends nothing) and CloudEvents structured and batch modes.
 */
export function registerContentTypes(app: FastifyInstance): void {
  // Fastify's own JSON parser (with its prototype-poisoning protection), then the portability check.
  const json = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if ((body as string).trim() === '') return done(null, undefined); // an empty body is no body
    json(req, body as string, (err: Error | null, value?: unknown) => {
      if (err) return done(new AiosError('AIOS_MALFORMED_JSON', 'the body is not valid JSON'), undefined);
      try {
        checkBody(req, value, 'the body');
        done(null, value);
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  });
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (req, body, done) => {
    try {
      const out: unknown[] = [];
      const numbers: number[] = [];
      let nul = false;
      const lines = (body as string).split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i].trim();
        if (!line) continue;
        const value = parseJson(line, `line ${i + 1}`, { line: i + 1 });
        nul = portableLine(value, i + 1) || nul;
        out.push(value);
        numbers.push(i + 1);
      }
      refuseNulUnlessPerItem(req, out, nul);
      done(null, Object.assign(out, { [NDJSON_LINES]: numbers }));
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  for (const [type, batch] of [['application/cloudevents+json', false], ['application/cloudevents-batch+json', true]] as const) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (req, body, done) => {
      try {
        const what = batch ? 'the CloudEvents batch' : 'the CloudEvent';
        const value = parseJson(body as string, what);
        checkBody(req, value, what);
        const events = parseCloudEvents(value, batch);
        done(null, Object.assign(events, { [CLOUDEVENTS_BATCH]: true }));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  }
}
