import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

/*
 * Errors reach the log through `err`, and a database driver's error can carry the values of the
 * statement that failed: PostgreSQL's `detail` ("Failing row contains (...)", "Key (id)=(...)"),
 * `where` ("JSON data, line 1: {...}"), `hint`, `internalQuery`, and messages that quote a value
 * (`value "..." is out of range`). A request's payload is no business of the log, so an error is
 * logged as its type, codes and the names of what it concerns (SQLSTATE, constraint, table,
 * column), with messages from outside AIOS reduced to their words, and the same for its causes.
 */

const MAX_CAUSES = 5;
const SQLSTATE = /^[0-9A-Z]{5}$/;
/** Properties of Node's own errors that name a place or a call, never a payload. */
const SAFE_PROPS = ['code', 'errno', 'syscall', 'address', 'port', 'statusCode', 'status', 'retryable'] as const;
/** Properties of a PostgreSQL error that name schema objects. */
const PG_NAMES = ['severity', 'schema', 'table', 'column', 'dataType', 'constraint', 'routine'] as const;

type Serialized = Record<string, unknown>;

/** "duplicate key value violates unique constraint "…"": every quoted part of a message replaced. */
function withoutQuoted(message: string): string {
  return message.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/'(?:[^'\\]|\\.)*'/g, "'…'");
}

/** The stack's call sites only: its first lines repeat the message. */
function framesOf(stack: unknown): string | undefined {
  if (typeof stack !== 'string') return undefined;
  const frames = stack.split('\n').filter((l) => /^\s+at /.test(l));
  return frames.length ? frames.join('\n') : undefined;
}

function isPgError(e: Record<string, unknown>): boolean {
  return typeof e.severity === 'string' && typeof e.code === 'string' && SQLSTATE.test(e.code);
}

function isSqliteError(e: Record<string, unknown>): boolean {
  return e.name === 'SqliteError' || (typeof e.code === 'string' && e.code.startsWith('SQLITE_'));
}

function serialize(err: unknown, depth: number): unknown {
  if (err === null || typeof err !== 'object') return err;
  const e = err as Record<string, unknown>;
  const type = (err as object).constructor?.name ?? 'Object';
  const message = typeof e.message === 'string' ? e.message : undefined;
  const out: Serialized = { type };
  if (isPgError(e)) {
    out.code = e.code;
    for (const k of PG_NAMES) if (typeof e[k] === 'string') out[k] = e[k];
    // Class P0 is a RAISE in a trigger or function: its message is whatever that code put in it.
    out.message = message === undefined || (e.code as string).startsWith('P0') ? `database error ${e.code as string}` : withoutQuoted(message);
    out.stack = framesOf(e.stack);
  } else if (isSqliteError(e) || err instanceof SyntaxError) {
    // JSON.parse and SQLite quote the text they failed on.
    if (typeof e.code === 'string') out.code = e.code;
    if (message !== undefined) out.message = withoutQuoted(message);
    out.stack = framesOf(e.stack);
  } else {
    if (message !== undefined) out.message = message;
    for (const k of SAFE_PROPS) if (e[k] !== undefined && typeof e[k] !== 'object') out[k] = e[k];
    // AiosError: its field errors and extras are AIOS's own words.
    if (type === 'AiosError') {
      if (Array.isArray(e.errors)) out.errors = e.errors;
      if (e.extra && typeof e.extra === 'object') out.extra = e.extra;
    }
    if (typeof e.stack === 'string') out.stack = e.stack;
  }
  if (Array.isArray(e.errors) && type !== 'AiosError' && depth < MAX_CAUSES) out.errors = e.errors.slice(0, 10).map((x) => serialize(x, depth + 1));
  if (e.cause !== undefined) out.cause = depth < MAX_CAUSES ? serialize(e.cause, depth + 1) : '[more causes]';
  return out;
}

/**
 * The `err` serializer of the AIOS logger: what an error is and where it happened, without the
 * values it may carry (see above).
 *
 * @example
 * logger.error({ err }, 'request failed'); // err: { type: 'DatabaseError', code: '23514', constraint: '...', ... }
 */
export function serializeError(err: unknown): unknown {
  return serialize(err, 0);
}

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { service: 'aios' },
      timestamp: pino.stdTimeFunctions.isoTime,
      serializers: { err: serializeError },
      redact: { paths: ['req.headers.authorization', 'headers.authorization', '*.apiKey', '*.secret'], censor: '[redacted]' },
    },
    opts.destination,
  );
}
