/**
 * One registry of error codes. Each code has an HTTP status and a message that tells the reader
 * what to fix. Codes are grouped by capability prefix and documented in docs/errors.md; a test
 * fails when the two disagree.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
  /** Retryable errors may succeed when tried again unchanged; terminal ones never will. */
  readonly retryable?: boolean;
}

export const ERROR_CODES = {
  AIOS_BAD_REQUEST: { status: 400, title: 'The request is malformed' },
  AIOS_VALIDATION: { status: 400, title: 'The request does not match its schema' },
  AIOS_MALFORMED_JSON: { status: 400, title: 'The body is not valid JSON' },
  AIOS_NOT_FOUND: { status: 404, title: 'No such resource' },
  AIOS_CONFLICT: { status: 409, title: 'The resource already exists with a different definition' },
  AIOS_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The content type is not accepted here' },
  AIOS_PAYLOAD_TOO_LARGE: { status: 413, title: 'The body is larger than the configured limit' },
  AIOS_METHOD_NOT_ALLOWED: { status: 405, title: 'The path exists, but not with this method' },
  AIOS_HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are larger than the server accepts' },
  AIOS_REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time', retryable: true },
  AIOS_OVERLOADED: { status: 429, title: 'Too many requests in flight; retry after the given delay', retryable: true },
  AIOS_NOT_READY: { status: 503, title: 'The service is starting or stopping', retryable: true },
  AIOS_UNAVAILABLE: { status: 503, title: 'A backing service is unreachable', retryable: true },
  AIOS_INTERNAL: { status: 500, title: 'Internal error', retryable: true },
  AIOS_CONFIG_INVALID: { status: 400, title: 'The configuration is invalid' },
  AIOS_STORAGE_SCHEMA_NEWER: { status: 500, title: 'The database schema is newer than this build of AIOS' },
  AIOS_STORAGE_UNIQUE_VIOLATION: { status: 409, title: 'A unique constraint was violated' },
  AIOS_NAMESPACE_INVALID: { status: 400, title: 'The namespace is not a valid namespace name' },
} as const satisfies Record<string, ErrorSpec>;

/** The codes core knows; a capability's own codes are declared with `defineErrors` in its folder. */
export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  readonly path: string;
  readonly message: string;
}

export interface AiosErrorOptions {
  readonly errors?: readonly FieldError[];
  readonly cause?: unknown;
  readonly extra?: Record<string, unknown>;
  readonly retryable?: boolean;
}

/** The one error type of AIOS. `code` is stable; `detail` says what to fix. */
export class AiosError extends Error {
  readonly code: string;
  readonly status: number;
  readonly retryable: boolean;
  readonly errors?: readonly FieldError[];
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly #title: string;

  constructor(code: ErrorCode, detail?: string, opts?: AiosErrorOptions);
  /** A code of a capability's own table: its spec comes with it (see `defineErrors`). */
  constructor(code: string, detail: string | undefined, opts: AiosErrorOptions & { readonly spec: ErrorSpec });
  constructor(code: string, detail?: string, opts: AiosErrorOptions & { readonly spec?: ErrorSpec } = {}) {
    const spec: ErrorSpec = opts.spec ?? ERROR_CODES[code as ErrorCode];
    super(detail ?? spec.title, { cause: opts.cause });
    this.name = 'AiosError';
    this.code = code;
    this.status = spec.status;
    this.retryable = opts.retryable ?? spec.retryable ?? false;
    this.errors = opts.errors;
    this.extra = opts.extra;
    this.#title = spec.title;
  }

  get title(): string {
    return this.#title;
  }
}

export function isAiosError(e: unknown, code?: string): e is AiosError {
  return e instanceof AiosError && (code === undefined || e.code === code);
}

/**
 * A capability's own error codes, each prefixed by the capability, and the error class that
 * throws them with their status. The capability lists `specs` in its definition, so the error
 * registry, docs/errors.md and its test see them.
 *
 * @example
 * export const InfoError = defineErrors({ AIOS_INFO_INSTANCE_NOT_FOUND: { status: 404, title: 'No such instance' } });
 * throw new InfoError('AIOS_INFO_INSTANCE_NOT_FOUND', `no instance ${id}`);
 */
export function defineErrors<const T extends Readonly<Record<string, ErrorSpec>>>(specs: T) {
  return class CapabilityError extends AiosError {
    static readonly specs: T = specs;
    constructor(code: keyof T & string, detail?: string, opts: AiosErrorOptions = {}) {
      super(code, detail, { ...opts, spec: specs[code] });
    }
  };
}
