import { readFileSync, existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { AiosError } from './errors.ts';

type Kind = 'string' | 'int' | 'url';

/** One configuration option. Core declares the platform's; a capability declares its own. */
export interface ConfigOptionSpec {
  readonly key: string;
  readonly flag: string;
  readonly env: string;
  readonly kind: Kind;
  readonly default?: string | number;
  /** Largest value an int option takes. */
  readonly max?: number;
  readonly description: string;
}

/**
 * The platform's own options: the server, the database, logs and shutdown. Each capability
 * declares its own in its definition; the runtime assembles them all, and the CLI flags, the
 * environment names, `aios start --help` and the README table are derived from that list.
 * Precedence: flag, then environment, then config file, then default.
 */
export const CONFIG_OPTIONS = [
  { key: 'port', flag: 'port', env: 'AIOS_PORT', kind: 'int', default: 8080, description: 'HTTP port of the API' },
  { key: 'host', flag: 'host', env: 'AIOS_HOST', kind: 'string', default: '127.0.0.1', description: 'address the API listens on (0.0.0.0 for all interfaces)' },
  { key: 'dataDir', flag: 'data-dir', env: 'AIOS_DATA_DIR', kind: 'string', default: './.aios', description: 'directory for the embedded database and local state' },
  { key: 'databaseUrl', flag: 'database-url', env: 'AIOS_DATABASE_URL', kind: 'url', description: 'postgres://... for PostgreSQL; default is SQLite at <data-dir>/aios.db' },
  { key: 'logLevel', flag: 'log-level', env: 'AIOS_LOG_LEVEL', kind: 'string', default: 'info', description: 'pino level: trace, debug, info, warn, error, fatal, silent' },
  { key: 'bodyLimitBytes', flag: 'body-limit-bytes', env: 'AIOS_BODY_LIMIT_BYTES', kind: 'int', default: 16 * 1024 * 1024, description: 'largest request body accepted (413 above)' },
  { key: 'inflightBodyBytes', flag: 'inflight-body-bytes', env: 'AIOS_INFLIGHT_BODY_BYTES', kind: 'int', default: 64 * 1024 * 1024, description: 'most bytes of request bodies received or handled at once, all namespaces together (0: no bound); 429 above' },
  { key: 'inflightBodyNamespacePercent', flag: 'inflight-body-namespace-percent', env: 'AIOS_INFLIGHT_BODY_NAMESPACE_PERCENT', kind: 'int', default: 50, max: 100, description: 'share of those bytes one namespace may hold (at least one body of the body limit); 429 above' },
  { key: 'inflightBodyPrincipalPercent', flag: 'inflight-body-principal-percent', env: 'AIOS_INFLIGHT_BODY_PRINCIPAL_PERCENT', kind: 'int', default: 25, max: 100, description: 'share one principal (an API key, a user) may hold (at least one body of the body limit); 429 above' },
  { key: 'requestTimeoutMs', flag: 'request-timeout-ms', env: 'AIOS_REQUEST_TIMEOUT_MS', kind: 'int', default: 60_000, description: 'longest time to receive a whole request, headers and body (0: no limit); a slower one is answered 408 and its connection closed. Responses, such as event streams, are not limited' },
  { key: 'headersTimeoutMs', flag: 'headers-timeout-ms', env: 'AIOS_HEADERS_TIMEOUT_MS', kind: 'int', default: 10_000, description: 'longest time to receive a request\'s headers (0: only the request timeout)' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout-ms', env: 'AIOS_SHUTDOWN_TIMEOUT_MS', kind: 'int', default: 15_000, description: 'longest graceful drain on SIGTERM before giving up' },
] as const satisfies readonly (ConfigOptionSpec & { readonly key: keyof AiosConfig })[];

type OptionValue<O> = O extends { readonly kind: 'int' } ? number : string;

/**
 * The config type of a set of option specs: an option with a default is always there, one
 * without is optional. A capability's options join `AiosConfig` through this.
 */
export type ConfigOf<O extends ConfigOptionSpec> = {
  readonly [K in O as K extends { readonly default: string | number } ? K['key'] : never]: OptionValue<K>;
} & {
  readonly [K in O as K extends { readonly default: string | number } ? never : K['key']]?: OptionValue<K>;
};

/** The platform's own options, resolved; the runtime's `AiosConfig` adds every capability's. */
export interface AiosConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly inflightBodyBytes: number;
  readonly inflightBodyNamespacePercent: number;
  readonly inflightBodyPrincipalPercent: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
}

export type ConfigInput = Partial<Record<string, string | number | undefined>>;

function coerce(spec: ConfigOptionSpec, raw: string | number, source: string): string | number {
  if (spec.kind === 'int') {
    const n = typeof raw === 'number' ? raw : Number(raw);
    if (!Number.isSafeInteger(n) || n < 0) {
      throw new AiosError('AIOS_CONFIG_INVALID', `${spec.key} from ${source} must be a non-negative integer, got ${JSON.stringify(raw)}`);
    }
    if (spec.max !== undefined && n > spec.max) {
      throw new AiosError('AIOS_CONFIG_INVALID', `${spec.key} from ${source} must be at most ${spec.max}, got ${n}`);
    }
    return n;
  }
  const s = String(raw);
  if (spec.kind === 'url' && !/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) {
    // Not quoted: a database URL may carry a password.
    throw new AiosError('AIOS_CONFIG_INVALID', `${spec.key} from ${source} must be a URL (scheme://host/...); the value given is not shown, it may hold a password`);
  }
  return s;
}

/**
 * Resolves the configuration of `options` (core's by default; the runtime passes every
 * capability's too). `flags` wins over `env`, which wins over the JSON config file
 * (`configFile`, or `AIOS_CONFIG`, or `./aios.config.json` when present), which wins over defaults.
 */
export function loadConfig(
  flags: ConfigInput = {},
  env: Record<string, string | undefined> = process.env,
  configFile?: string,
  options: readonly ConfigOptionSpec[] = CONFIG_OPTIONS,
): AiosConfig {
  const path = configFile ?? env.AIOS_CONFIG ?? (existsSync('aios.config.json') ? 'aios.config.json' : undefined);
  let file: Record<string, unknown> = {};
  if (path) {
    try {
      file = JSON.parse(readFileSync(resolve(path), 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new AiosError('AIOS_CONFIG_INVALID', `cannot read config file ${path}: ${(e as Error).message}`);
    }
    const known = new Set(options.map((o) => o.key));
    for (const k of Object.keys(file)) {
      if (!known.has(k)) throw new AiosError('AIOS_CONFIG_INVALID', `unknown option "${k}" in ${path}`);
    }
  }
  const out: Record<string, unknown> = {};
  for (const spec of options) {
    const fromFlag = flags[spec.key];
    const fromEnv = env[spec.env];
    const fromFile = file[spec.key] as string | number | undefined;
    if (fromFlag !== undefined && fromFlag !== '') out[spec.key] = coerce(spec, fromFlag, `--${spec.flag}`);
    else if (fromEnv !== undefined && fromEnv !== '') out[spec.key] = coerce(spec, fromEnv, spec.env);
    else if (fromFile !== undefined) out[spec.key] = coerce(spec, fromFile, path ?? 'config file');
    else if (spec.default !== undefined) out[spec.key] = spec.default;
  }
  return Object.freeze(out) as unknown as AiosConfig;
}
