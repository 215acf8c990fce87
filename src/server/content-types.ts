import type { FastifyInstance } from 'fastify';
import { AiosError } from '../core/index.ts';
import { parseCloudEvents } from '../events/index.ts';

/** Marks a body parsed from CloudEvents, so the append route knows it holds several events. */
export const CLOUDEVENTS_BATCH = Symbol('cloudevents-batch');

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AiosError('AIOS_MALFORMED_JSON', `${what} is not valid JSON: ${(e as Error).message}`);
  }
}

/**
 * Body parsers beyond JSON: NDJSON for bulk loads (one event per line; one broken line fails
 * the request and appends nothing) and CloudEvents structured and batch modes.
 */
export function registerContentTypes(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-ndjson', { parseAs: 'string' }, (_req, body, done) => {
    try {
      const out: unknown[] = [];
      const lines = (body as string).split('\n');
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i].trim();
        if (line) out.push(parseJson(line, `line ${i + 1}`));
      }
      done(null, out);
    } catch (e) {
      done(e as Error, undefined);
    }
  });
  for (const [type, batch] of [['application/cloudevents+json', false], ['application/cloudevents-batch+json', true]] as const) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
      try {
        const events = parseCloudEvents(parseJson(body as string, batch ? 'the CloudEvents batch' : 'the CloudEvent'), batch);
        done(null, Object.assign(events, { [CLOUDEVENTS_BATCH]: true }));
      } catch (e) {
        done(e as Error, undefined);
      }
    });
  }
}
