import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, type RateLimiterAbstract } from 'rate-limiter-flexible';

/**
 * A limit counted in PostgreSQL's `aios_rate_limits` table (migration 0003), so that it holds
 * across the processes sharing the database, with an in-memory limiter as insurance when the
 * database is unreachable, and keys already over their limit blocked in memory without a query.
 */
export function postgresRateLimiter(pool: pg.Pool, base: { points: number; duration: number; keyPrefix: string }): RateLimiterAbstract {
  return new RateLimiterPostgres({
    ...base,
    storeClient: pool,
    storeType: 'pool',
    tableName: 'aios_rate_limits',
    tableCreated: true, // by migration 0003
    clearExpiredByTimeout: true,
    inMemoryBlockOnConsumed: base.points,
    inMemoryBlockDuration: base.duration,
    insuranceLimiter: new RateLimiterMemory(base),
  });
}
