import { isIPv4, isIPv6 } from 'node:net';
import { AiosError, SYSTEM_NAMESPACE, toRfc3339, type Clock, type Logger } from '../../core/index.ts';
import type { AuditActor, AuditRecorder } from '../audit/index.ts';

export interface AuthFailureOptions {
  readonly audit: AuditRecorder;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Failed authentications a client address may make in a window before it is answered 429; 0: no limit. */
  readonly limit: number;
  /** Length of a window, in milliseconds. */
  readonly windowMs: number;
  /** Most addresses counted one by one in a window; failures from further ones share one count. */
  readonly maxAddresses?: number;
  /** Most failures recorded one by one in a window (the first of each address); the rest go into its summary. */
  readonly maxRecordsPerWindow?: number;
}

/** A request that presented no valid credentials. */
export interface FailedAuthentication {
  /** The client address (`req.ip`). */
  readonly address: string;
  /** The error code it was answered with. */
  readonly error: string;
  /** The route pattern it asked for (`/api/v1/topics/:topic`), never the raw URL; hashed into the record's input. */
  readonly route?: string | null;
  readonly requestId?: string | null;
  readonly traceId?: string | null;
  readonly lineageId?: string | null;
}

export interface AuthFailureOutcome {
  /** Set when the address is over its limit: answer 429 with this Retry-After. */
  readonly retryAfterSeconds?: number;
  /** Whether this failure has an audit record of its own; otherwise the window's summary counts it. */
  readonly recorded: boolean;
}

const ANONYMOUS: AuditActor = Object.freeze({ type: 'anonymous', id: 'anonymous', authMethod: 'none', keyId: null });
const OTHER_ADDRESSES = 'other';
const BUSIEST = 10;

/**
 * The client an address stands for: an IPv4 address, or the /64 network of an IPv6 address (one
 * host usually holds a whole /64, so counting single IPv6 addresses would count nothing).
 */
export function clientOf(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return mapped[1];
  if (isIPv4(address)) return address;
  if (!isIPv6(address)) return 'unknown';
  const [head, tail = ''] = address.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = address.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

interface Window {
  readonly start: number;
  readonly counts: Map<string, number>;
  overflow: number;
  failures: number;
  recorded: number;
  cancelTimer?: () => void;
}

/**
 * Failed authentication, counted by client address and audited without letting the caller steer
 * where or how much is written. Records go to the `aios-system` namespace, never to the namespace
 * the request named; each names the client address and the fixed action `auth:authenticate`. In
 * each window, the first failure of an address is recorded (at most `maxRecordsPerWindow` of
 * them); the others are counted, and one summary record at the end of the window
 * (`failures:<count>`) holds how many were not recorded one by one. So a flood of any size from
 * any number of addresses costs at most `maxRecordsPerWindow + 1` records per window.
 * An address past `limit` failures in a window is answered 429 until the window ends. Counts are
 * kept in memory, per process, for at most `maxAddresses` addresses.
 *
 * @example
 * const failures = new AuthFailures({ audit, clock, logger, limit: 100, windowMs: 60_000 });
 * const { retryAfterSeconds } = await failures.failed({ address: req.ip, error: 'AIOS_AUTH_UNAUTHENTICATED', route: '/api/v1/topics' });
 */
export class AuthFailures {
  readonly #o: AuthFailureOptions;
  readonly #maxAddresses: number;
  readonly #maxRecords: number;
  readonly #pending = new Set<Promise<void>>();
  #window: Window | undefined;

  constructor(opts: AuthFailureOptions) {
    // A shorter window would record nearly every failure: the bound on records is per window.
    if (!(opts.windowMs >= 1000)) throw new AiosError('AIOS_CONFIG_INVALID', `authFailureWindowMs must be at least 1000, got ${opts.windowMs}`);
    this.#o = opts;
    this.#maxAddresses = opts.maxAddresses ?? 10_000;
    this.#maxRecords = opts.maxRecordsPerWindow ?? 100;
  }

  /** Counts one failed authentication; records it when it is its address's first in the window. */
  async failed(f: FailedAuthentication): Promise<AuthFailureOutcome> {
    const now = this.#o.clock.now();
    if (this.#window && now >= this.#window.start + this.#o.windowMs) this.#close();
    const w = this.#window ?? this.#open(now);
    const client = clientOf(f.address);
    let n: number;
    if (w.counts.has(client) || w.counts.size < this.#maxAddresses) {
      n = (w.counts.get(client) ?? 0) + 1;
      w.counts.set(client, n);
    } else {
      n = ++w.overflow;
    }
    w.failures++;
    const retryAfterSeconds = this.#o.limit > 0 && n > this.#o.limit ? Math.max(1, Math.ceil((w.start + this.#o.windowMs - now) / 1000)) : undefined;
    if (n > 1 || w.recorded >= this.#maxRecords) return { retryAfterSeconds, recorded: false };
    w.recorded++;
    await this.#o.audit.record({
      ns: SYSTEM_NAMESPACE,
      actor: ANONYMOUS,
      action: 'auth:authenticate',
      resource: `client:${w.counts.has(client) ? client : OTHER_ADDRESSES}`,
      outcome: 'denied',
      error: f.error,
      requestId: f.requestId ?? null,
      traceId: f.traceId ?? null,
      lineageId: f.lineageId ?? null,
      input: { route: f.route ?? null },
    });
    return { retryAfterSeconds, recorded: true };
  }

  /** Ends the open window (writing its summary) and waits for the records still being written. */
  async close(): Promise<void> {
    this.#close();
    while (this.#pending.size) await Promise.all([...this.#pending]);
  }

  #open(now: number): Window {
    const w: Window = { start: now, counts: new Map(), overflow: 0, failures: 0, recorded: 0 };
    w.cancelTimer = this.#o.clock.setTimer?.(now + this.#o.windowMs, () => {
      if (this.#window === w) this.#close();
    });
    this.#window = w;
    return w;
  }

  #close(): void {
    const w = this.#window;
    if (!w) return;
    this.#window = undefined;
    w.cancelTimer?.();
    const unrecorded = w.failures - w.recorded;
    if (unrecorded === 0) return;
    const busiest = [...w.counts].sort((a, b) => b[1] - a[1]).slice(0, BUSIEST);
    if (w.overflow) busiest.push([OTHER_ADDRESSES, w.overflow]);
    const summary = { from: toRfc3339(w.start), to: toRfc3339(w.start + this.#o.windowMs), failures: w.failures, unrecorded, addresses: w.counts.size, busiest };
    this.#o.logger.warn(summary, 'failed authentications in the last window');
    const p = this.#o.audit
      .record({ ns: SYSTEM_NAMESPACE, actor: ANONYMOUS, action: 'auth:authenticate', resource: `failures:${unrecorded}`, outcome: 'denied', error: 'AIOS_AUTH_UNAUTHENTICATED', input: summary })
      .then(
        () => undefined,
        (err: unknown) => this.#o.logger.error({ err, ...summary }, 'could not audit the summary of failed authentications'),
      )
      .finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }
}
