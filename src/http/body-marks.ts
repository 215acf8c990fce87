// Marks the server's body parsers leave on a parsed body, for the routes that read them.

/** Marks a body parsed from CloudEvents, so the append route knows it holds several events. */
export const CLOUDEVENTS_BATCH = Symbol('cloudevents-batch');

/** The physical line (1-based) of each event of an NDJSON body; blank lines hold no event. */
export const NDJSON_LINES = Symbol('ndjson-lines');

/**
 * For a body parsed from NDJSON, the line number of each event, the numbering a malformed line's
 * error uses; undefined for other bodies.
 *
 * @example ndjsonLines(req.body)?.[rejected.index] // the line the rejected event was on
 */
export function ndjsonLines(body: unknown): readonly number[] | undefined {
  return Array.isArray(body) ? (body as { [NDJSON_LINES]?: number[] })[NDJSON_LINES] : undefined;
}

