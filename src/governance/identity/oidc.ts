import { createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { isReservedNamespace, namespaceProblem } from '../../core/index.ts';
import { isReservedPrincipalId, ROLES, type Principal } from '../principal.ts';

export interface OidcOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  /** Accepted signing algorithms; `none` and anything else are refused. */
  readonly algorithms: readonly string[];
  /** Allowed clock skew for `exp`, `nbf` and `iat`, in seconds. */
  readonly clockSkewSeconds: number;
  /** Dotted path of the claim holding the roles (an array or a space-separated string). */
  readonly rolesClaim: string;
  /** Claim naming the principal's namespace; `default` when absent. */
  readonly namespaceClaim: string;
  /** Maps IdP role or group names to AIOS roles; AIOS role names map to themselves. */
  readonly roleMap: Readonly<Record<string, string>>;
}

function claimAt(payload: JWTPayload, path: string): unknown {
  let v: unknown = payload;
  for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
  return v;
}

/**
 * Verifies OIDC bearer tokens against the issuer's JWKS (fetched and cached by jose, refetched
 * when an unknown `kid` appears, at most every 30 s). Issuer, audience and algorithms are
 * pinned; the token's roles are mapped to AIOS roles, and unknown ones are dropped.
 */
export class OidcVerifier {
  readonly #o: OidcOptions;
  readonly #jwks: JWTVerifyGetKey;

  constructor(opts: OidcOptions) {
    this.#o = opts;
    this.#jwks = createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: 30_000, timeoutDuration: 5_000 });
  }

  /** The principal of a valid token; throws (any error means 401) otherwise. */
  async verify(token: string, nowMs: number): Promise<Principal> {
    const { payload } = await jwtVerify(token, this.#jwks, {
      issuer: this.#o.issuer,
      audience: this.#o.audience,
      algorithms: [...this.#o.algorithms],
      clockTolerance: this.#o.clockSkewSeconds,
      currentDate: new Date(nowMs),
      requiredClaims: ['sub', 'exp'],
    });
    const raw = claimAt(payload, this.#o.rolesClaim);
    const names = Array.isArray(raw) ? raw.map(String) : typeof raw === 'string' ? raw.split(/\s+/).filter(Boolean) : [];
    const roles = [...new Set(names.map((n) => this.#o.roleMap[n] ?? n).filter((r) => (ROLES as readonly string[]).includes(r)))];
    const claimed = claimAt(payload, this.#o.namespaceClaim);
    const ns = claimed === undefined || claimed === null || claimed === '' ? 'default' : claimed;
    // Acting in every namespace is for API keys an admin of "*" made, never for a token's claim.
    if (ns === '*') throw new Error(`the ${this.#o.namespaceClaim} claim may not be "*"`);
    const problem = namespaceProblem(ns);
    if (problem) throw new Error(`the ${this.#o.namespaceClaim} claim ${problem}`);
    if (isReservedNamespace(ns as string)) throw new Error(`the ${this.#o.namespaceClaim} claim names a namespace reserved for AIOS`);
    const sub = String(payload.sub);
    // RFC 7519 allows any string; a subject is at most 255 characters (OpenID Connect Core 2).
    if (!sub.length || sub.length > 255 || /[\u0000-\u001f\u007f]/.test(sub)) throw new Error('the sub claim must be 1-255 characters without control characters');
    if (isReservedPrincipalId(sub)) throw new Error(`the sub claim "${sub}" is reserved for AIOS's own principals`);
    return Object.freeze({
      type: 'user',
      id: sub,
      namespace: ns as string,
      roles: Object.freeze(roles),
      authMethod: 'oidc',
    });
  }
}
