import { AiosError, type Clock } from '../../core/index.ts';
import type { Principal } from '../principal.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import { looksLikeApiKey } from './api-key-format.ts';
import type { OidcVerifier } from './oidc.ts';
import { GovernanceError } from '../errors.ts';

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Turns an `Authorization` header into a principal: an AIOS API key (`aios_...`), or an OIDC
 * JWT when an issuer is configured. Every failure is the same 401, so the answer does not tell
 * a revoked key from an unknown one.
 */
export class Authenticator {
  readonly #keys: ApiKeyStore;
  readonly #oidc: OidcVerifier | undefined;
  readonly #clock: Clock;

  constructor(opts: { keys: ApiKeyStore; oidc?: OidcVerifier; clock: Clock }) {
    this.#keys = opts.keys;
    this.#oidc = opts.oidc;
    this.#clock = opts.clock;
  }

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new GovernanceError('AIOS_AUTH_UNAUTHENTICATED', 'send Authorization: Bearer <API key or OIDC token>');
    const token = BEARER.exec(authorization)?.[1];
    if (!token) throw new GovernanceError('AIOS_AUTH_UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
    if (looksLikeApiKey(token)) {
      const p = await this.#keys.authenticate(token);
      if (!p) throw new GovernanceError('AIOS_AUTH_UNAUTHENTICATED', 'the API key is unknown, revoked or expired');
      return p;
    }
    if (!this.#oidc) throw new GovernanceError('AIOS_AUTH_UNAUTHENTICATED', 'not an AIOS API key, and no OIDC issuer is configured');
    try {
      return await this.#oidc.verify(token, this.#clock.now());
    } catch (e) {
      const why = (e as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw new GovernanceError('AIOS_AUTH_UNAUTHENTICATED', `the bearer token was refused (${why})`, { cause: e });
    }
  }
}
