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
 * Every option, once. The CLI flags, the environment names, `aios start --help` and the README
 * table are all derived from this list. Precedence: flag, then environment, then config file,
 * then default.
 */
export const CONFIG_OPTIONS = [
  { key: 'port', flag: 'port', env: 'AIOS_PORT', kind: 'int', default: 8080, description: 'HTTP port of the API' },
  { key: 'host', flag: 'host', env: 'AIOS_HOST', kind: 'string', default: '127.0.0.1', description: 'address the API listens on (0.0.0.0 for all interfaces)' },
  { key: 'dataDir', flag: 'data-dir', env: 'AIOS_DATA_DIR', kind: 'string', default: './.aios', description: 'directory for the embedded database and local state' },
  { key: 'databaseUrl', flag: 'database-url', env: 'AIOS_DATABASE_URL', kind: 'url', description: 'postgres://... for PostgreSQL; default is SQLite at <data-dir>/aios.db' },
  { key: 'natsUrl', flag: 'nats-url', env: 'AIOS_NATS_URL', kind: 'url', description: 'nats://host:port: keep the event log in NATS JetStream instead of SQL' },
  { key: 'logLevel', flag: 'log-level', env: 'AIOS_LOG_LEVEL', kind: 'string', default: 'info', description: 'pino level: trace, debug, info, warn, error, fatal, silent' },
  { key: 'bodyLimitBytes', flag: 'body-limit-bytes', env: 'AIOS_BODY_LIMIT_BYTES', kind: 'int', default: 16 * 1024 * 1024, description: 'largest request body accepted (413 above)' },
  { key: 'inflightBodyBytes', flag: 'inflight-body-bytes', env: 'AIOS_INFLIGHT_BODY_BYTES', kind: 'int', default: 64 * 1024 * 1024, description: 'most bytes of request bodies received or handled at once, all namespaces together (0: no bound); 429 above' },
  { key: 'inflightBodyNamespacePercent', flag: 'inflight-body-namespace-percent', env: 'AIOS_INFLIGHT_BODY_NAMESPACE_PERCENT', kind: 'int', default: 50, max: 100, description: 'share of those bytes one namespace may hold (at least one body of the body limit); 429 above' },
  { key: 'inflightBodyPrincipalPercent', flag: 'inflight-body-principal-percent', env: 'AIOS_INFLIGHT_BODY_PRINCIPAL_PERCENT', kind: 'int', default: 25, max: 100, description: 'share one principal (an API key, a user) may hold (at least one body of the body limit); 429 above' },
  { key: 'requestTimeoutMs', flag: 'request-timeout-ms', env: 'AIOS_REQUEST_TIMEOUT_MS', kind: 'int', default: 60_000, description: 'longest time to receive a whole request, headers and body (0: no limit); a slower one is answered 408 and its connection closed. Responses, such as event streams, are not limited' },
  { key: 'headersTimeoutMs', flag: 'headers-timeout-ms', env: 'AIOS_HEADERS_TIMEOUT_MS', kind: 'int', default: 10_000, description: 'longest time to receive a request\'s headers (0: only the request timeout)' },
  { key: 'maxEventsPerRequest', flag: 'max-events-per-request', env: 'AIOS_MAX_EVENTS_PER_REQUEST', kind: 'int', default: 10_000, description: 'most events in one append request' },
  { key: 'maxEventBytes', flag: 'max-event-bytes', env: 'AIOS_MAX_EVENT_BYTES', kind: 'int', default: 1024 * 1024, description: 'largest single event (serialised data and headers)' },
  { key: 'appendQueueEvents', flag: 'append-queue-events', env: 'AIOS_APPEND_QUEUE_EVENTS', kind: 'int', default: 200_000, description: 'bound of the group-commit queue; a full queue answers 429' },
  { key: 'commitBatchEvents', flag: 'commit-batch-events', env: 'AIOS_COMMIT_BATCH_EVENTS', kind: 'int', default: 10_000, description: 'most events written in one group-commit transaction' },
  { key: 'retentionIntervalMs', flag: 'retention-interval-ms', env: 'AIOS_RETENTION_INTERVAL_MS', kind: 'int', default: 60_000, description: 'how often retention runs in the background' },
  { key: 'oidcIssuer', flag: 'oidc-issuer', env: 'AIOS_OIDC_ISSUER', kind: 'url', description: 'accept OIDC bearer tokens from this issuer (its `iss`); needs the JWKS URL and audience' },
  { key: 'oidcJwksUrl', flag: 'oidc-jwks-url', env: 'AIOS_OIDC_JWKS_URL', kind: 'url', description: 'the issuer\'s JWKS URL, e.g. https://idp/.well-known/jwks.json' },
  { key: 'oidcAudience', flag: 'oidc-audience', env: 'AIOS_OIDC_AUDIENCE', kind: 'string', description: 'required `aud` of OIDC tokens' },
  { key: 'oidcAlgorithms', flag: 'oidc-algorithms', env: 'AIOS_OIDC_ALGORITHMS', kind: 'string', default: 'RS256,ES256', description: 'accepted JWT signing algorithms, comma-separated' },
  { key: 'oidcClockSkewSeconds', flag: 'oidc-clock-skew-seconds', env: 'AIOS_OIDC_CLOCK_SKEW_SECONDS', kind: 'int', default: 30, description: 'allowed clock skew for `exp`/`nbf`' },
  { key: 'oidcRolesClaim', flag: 'oidc-roles-claim', env: 'AIOS_OIDC_ROLES_CLAIM', kind: 'string', default: 'roles', description: 'dotted path of the claim holding roles or groups' },
  { key: 'oidcNamespaceClaim', flag: 'oidc-namespace-claim', env: 'AIOS_OIDC_NAMESPACE_CLAIM', kind: 'string', default: 'aios_namespace', description: 'claim naming the principal\'s namespace (default namespace when absent)' },
  { key: 'oidcRoleMap', flag: 'oidc-role-map', env: 'AIOS_OIDC_ROLE_MAP', kind: 'string', default: '{}', description: 'JSON object mapping IdP roles/groups to AIOS roles, e.g. {"plant-eng":"engineer"}' },
  { key: 'rateLimitPrincipal', flag: 'rate-limit-principal', env: 'AIOS_RATE_LIMIT_PRINCIPAL', kind: 'int', default: 5000, description: 'requests per second per principal (0: no limit); 429 above' },
  { key: 'rateLimitNamespace', flag: 'rate-limit-namespace', env: 'AIOS_RATE_LIMIT_NAMESPACE', kind: 'int', default: 20000, description: 'requests per second per namespace (0: no limit); 429 above' },
  { key: 'authFailureLimit', flag: 'auth-failure-limit', env: 'AIOS_AUTH_FAILURE_LIMIT', kind: 'int', default: 100, description: 'failed authentications a client address may make per window before it is answered 429 (0: no limit)' },
  { key: 'authFailureWindowMs', flag: 'auth-failure-window-ms', env: 'AIOS_AUTH_FAILURE_WINDOW_MS', kind: 'int', default: 60_000, description: 'window of that limit, and of the summary audit record of failed authentications' },
  { key: 'rateLimitWindowSeconds', flag: 'rate-limit-window-seconds', env: 'AIOS_RATE_LIMIT_WINDOW_SECONDS', kind: 'int', default: 1, description: 'the window the two rate limits count requests in, in seconds (0 is read as 1)' },
  { key: 'auditCheckpointEvery', flag: 'audit-checkpoint-every', env: 'AIOS_AUDIT_CHECKPOINT_EVERY', kind: 'int', default: 1000, description: 'sign an audit checkpoint every this many records' },
  { key: 'auditCheckpointIntervalMs', flag: 'audit-checkpoint-interval-ms', env: 'AIOS_AUDIT_CHECKPOINT_INTERVAL_MS', kind: 'int', default: 60_000, description: 'and at least this often while records are written' },
  { key: 'auditWitnessFile', flag: 'audit-witness-file', env: 'AIOS_AUDIT_WITNESS_FILE', kind: 'string', description: 'append every signed audit checkpoint to this NDJSON file (fsynced); keep it outside the data directory, where the database owner cannot rewrite it' },
  { key: 'auditWitnessUrl', flag: 'audit-witness-url', env: 'AIOS_AUDIT_WITNESS_URL', kind: 'url', description: 'POST every signed audit checkpoint as JSON to this URL (retried with backoff, never delaying writes)' },
  { key: 'app', flag: 'app', env: 'AIOS_APP', kind: 'string', description: 'module (.ts or .js, no build step) whose exported workflow definitions this process registers' },
  { key: 'workflowConcurrency', flag: 'workflow-concurrency', env: 'AIOS_WORKFLOW_CONCURRENCY', kind: 'int', default: 200, description: 'most workflow runs this process executes at once (0: start and serve runs, execute none here)' },
  { key: 'workflowLeaseMs', flag: 'workflow-lease-ms', env: 'AIOS_WORKFLOW_LEASE_MS', kind: 'int', default: 10_000, description: 'a worker silent this long loses its runs to another worker' },
  { key: 'maxWorkflowPayloadBytes', flag: 'max-workflow-payload-bytes', env: 'AIOS_MAX_WORKFLOW_PAYLOAD_BYTES', kind: 'int', default: 1024 * 1024, description: 'largest workflow input, step result, state, output or signal payload (JSON bytes)' },
  { key: 'scheduler', flag: 'scheduler', env: 'AIOS_SCHEDULER', kind: 'int', default: 1, description: 'fire cron schedules from this process (1) or not (0); any number of processes may' },
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

export interface AiosConfig {
  readonly port: number;
  readonly host: string;
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly natsUrl?: string;
  readonly logLevel: string;
  readonly bodyLimitBytes: number;
  readonly inflightBodyBytes: number;
  readonly inflightBodyNamespacePercent: number;
  readonly inflightBodyPrincipalPercent: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly maxEventsPerRequest: number;
  readonly maxEventBytes: number;
  readonly appendQueueEvents: number;
  readonly commitBatchEvents: number;
  readonly retentionIntervalMs: number;
  readonly shutdownTimeoutMs: number;
  readonly app?: string;
  readonly workflowConcurrency: number;
  readonly workflowLeaseMs: number;
  readonly maxWorkflowPayloadBytes: number;
  readonly scheduler: number;
  readonly oidcIssuer?: string;
  readonly oidcJwksUrl?: string;
  readonly oidcAudience?: string;
  readonly oidcAlgorithms: string;
  readonly oidcClockSkewSeconds: number;
  readonly oidcRolesClaim: string;
  readonly oidcNamespaceClaim: string;
  readonly oidcRoleMap: string;
  readonly rateLimitPrincipal: number;
  readonly rateLimitNamespace: number;
  readonly authFailureLimit: number;
  readonly authFailureWindowMs: number;
  readonly rateLimitWindowSeconds: number;
  readonly auditCheckpointEvery: number;
  readonly auditCheckpointIntervalMs: number;
  readonly auditWitnessFile?: string;
  readonly auditWitnessUrl?: string;
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
