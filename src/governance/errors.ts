import { defineErrors } from '../core/index.ts';

/** The governance capability's error codes, documented in docs/errors.md; thrown as `GovernanceError`. */
export const GovernanceError = defineErrors({
  AIOS_AUTH_UNAUTHENTICATED: { status: 401, title: 'No valid credentials were given' },
  AIOS_AUTH_FORBIDDEN: { status: 403, title: 'The principal is not allowed to do this' },
  AIOS_AUTH_RATE_LIMITED: { status: 429, title: 'Too many requests from this principal or namespace; retry after the given delay', retryable: true },
  AIOS_AUTH_KEY_INVALID: { status: 400, title: 'The API key request is invalid' },
  AIOS_AUTH_FAILURES_LIMITED: { status: 429, title: 'Too many failed authentications from this client address; retry after the given delay', retryable: true },
  AIOS_POLICY_INVALID: { status: 400, title: 'The policy set does not parse or does not validate against the Cedar schema' },
  AIOS_POLICY_TOO_COMPLEX: { status: 400, title: 'The policy set is larger or nests deeper than Cedar can take safely' },
  AIOS_AUTHZ_UNAVAILABLE: { status: 503, title: 'Authorization cannot decide right now; retry after the given delay', retryable: true },
  AIOS_AUDIT_APPEND_ONLY: { status: 409, title: 'Audit records are never updated or deleted' },
  AIOS_SECRETS_NOT_FOUND: { status: 404, title: 'No such secret' },
  AIOS_SECRETS_INVALID: { status: 400, title: 'The secret name or value is invalid' },
  AIOS_SECRETS_MASTER_KEY: { status: 500, title: 'The master key is missing, malformed, or does not unwrap the data keys' },
  AIOS_LINEAGE_NOT_FOUND: { status: 404, title: 'No lineage is recorded under this id' },
});
