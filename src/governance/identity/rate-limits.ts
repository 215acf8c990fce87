import { createHash } from 'node:crypto';
import { RateLimiterMemory, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { AiosError } from '../../core/index.ts';
import type { Database } from '../../storage/index.ts';
import { qualifiedId, type Principal } from '../principal.ts';
import { postgresRateLimiter } from './postgres-rate-limiter.ts';
import { GovernanceError } from '../errors.ts';

export interface RateLimitOptions {
  /** Requests per window (a second by default) per principal; 0 turns the limit off. */
  readonly perPrincipal: number;
  /** Requests per window per namespace; 0 turns the limit off. */
  readonly perNamespace: number;
  /** The window both limits count in, in seconds (default 1: the limits are then per second). */
  readonly windowSeconds?: number;
}

// PostgreSQL keeps counters under varchar(255) keys; longer ones (an OIDC subject may have 255
// characters of its own) are counted under their SHA-256.
const MAX_KEY_LENGTH = 200;
const limiterKey = (key: string) => (key.length <= MAX_KEY_LENGTH ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`);

/**
 * Request rate limits per principal (by namespace and id: `plant-a/ana` and `*`'s `ana` are
 * counted apart) and per namespace (rate-limiter-flexible, fixed windows of `windowSeconds`, one
 * second by default). Embedded: counted in memory. On PostgreSQL, counted in a shared table so that the
 * limit holds across processes, with an in-memory limiter as insurance when the database is
 * unreachable, and keys already over their limit blocked in memory without a query.
 */
export class RateLimits {
  readonly #principal: RateLimiterAbstract | undefined;
  readonly #namespace: RateLimiterAbstract | undefined;

  constructor(opts: RateLimitOptions & { database: Database }) {
    const window = Math.max(1, opts.windowSeconds ?? 1);
    const make = (points: number, prefix: string): RateLimiterAbstract | undefined => {
      if (points <= 0) return undefined;
      const base = { points, duration: window, keyPrefix: prefix };
      // Several processes on one database count together; one embedded process counts in memory.
      const pool = opts.database.flags.concurrentWriters ? opts.database.pgPool : undefined;
      return pool ? postgresRateLimiter(pool, base) : new RateLimiterMemory(base);
    };
    this.#principal = make(opts.perPrincipal, 'p');
    this.#namespace = make(opts.perNamespace, 'n');
  }

  /** Counts one request; throws AIOS_AUTH_RATE_LIMITED (429, with Retry-After) over a limit. */
  async consume(principal: Principal, ns: string): Promise<void> {
    try {
      if (this.#principal) await this.#principal.consume(limiterKey(`${principal.authMethod}:${qualifiedId(principal)}`));
      if (this.#namespace) await this.#namespace.consume(ns);
    } catch (e) {
      if (e instanceof RateLimiterRes) {
        const retryAfterSeconds = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
        throw new GovernanceError('AIOS_AUTH_RATE_LIMITED', `rate limit exceeded; retry in ${retryAfterSeconds} s`, { extra: { retryAfterSeconds } });
      }
      throw e;
    }
  }
}
