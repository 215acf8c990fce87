import type { ConfigOf, ConfigOptionSpec } from '../core/index.ts';

/** Governance's options: OIDC, rate limits, failed authentications, audit checkpoints and witnesses. */
export const GOVERNANCE_CONFIG = [
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
] as const satisfies readonly ConfigOptionSpec[];

/** The resolved values of those options. */
export type GovernanceConfig = ConfigOf<(typeof GOVERNANCE_CONFIG)[number]>;
