import { createInbox, type Msg, type MsgHdrs, type NatsConnection, type Subscription } from '@nats-io/transport-node';

/** What the stream answered to one publish. */
export type PubResult =
  | { readonly kind: 'stored'; readonly seq: number; readonly duplicate: boolean }
  | { readonly kind: 'refused'; readonly errCode: number; readonly description: string }
  /** Nobody listens on the subject: the topic's stream does not exist. */
  | { readonly kind: 'no-stream' }
  | { readonly kind: 'timeout' }
  /** The connection closed before the answer came. */
  | { readonly kind: 'closed' };

export interface Publication {
  readonly subject: string;
  readonly data: Uint8Array | string;
  readonly headers?: MsgHdrs;
}

type Reply = Msg | 'timeout' | 'closed';

const decoder = new TextDecoder();

function parseAck(r: Reply): PubResult {
  if (r === 'timeout' || r === 'closed') return { kind: r };
  if (r.headers?.code === 503) return { kind: 'no-stream' };
  try {
    const a = JSON.parse(decoder.decode(r.data)) as { seq?: number; duplicate?: boolean; error?: { err_code?: number; code?: number; description?: string } };
    if (a.error) return { kind: 'refused', errCode: a.error.err_code ?? a.error.code ?? 0, description: a.error.description ?? '' };
    return { kind: 'stored', seq: a.seq ?? 0, duplicate: a.duplicate === true };
  } catch {
    return { kind: 'refused', errCode: 0, description: 'unreadable acknowledgement' };
  }
}

/**
 * Pipelined requests: every message goes out at once with a reply subject under one inbox
 * wildcard subscription, and answers are matched by that subject; one timer covers a call.
 * Used for JetStream publishes (the answer is the PubAck) and for consumer acks (the answer
 * confirms the ack was applied).
 *
 * Why not `js.publish` / `nc.request`: each request builds Errors with stack traces (one even
 * with noAsyncTraces, on the success path) and a timer. Measured here with batches of 1000,
 * that was over a third of an append's CPU; with this, appends went from ~10k to ~22k events/s.
 */
export class Pipeline {
  readonly #nc: NatsConnection;
  readonly #prefix = createInbox();
  readonly #waiting = new Map<string, (r: Reply) => void>();
  #sub: Subscription | undefined;
  #next = 0;

  constructor(nc: NatsConnection) {
    this.#nc = nc;
    void nc.closed().then(() => {
      for (const done of [...this.#waiting.values()]) done('closed');
    });
  }

  #subscribe(): void {
    if (this.#sub && !this.#sub.isClosed()) return;
    this.#sub = this.#nc.subscribe(`${this.#prefix}.*`, {
      callback: (err, m) => {
        if (!err) this.#waiting.get(m.subject)?.(m); // none: a late answer after a timeout
      },
    });
  }

  /**
   * Sends every message at once and resolves with the answers in order; those not answered
   * within `timeoutMs` are 'timeout' (they may still have taken effect). Throws only when a
   * message cannot be sent at all (connection closed).
   */
  requestAll(items: readonly Publication[], timeoutMs: number): Promise<Reply[]> {
    if (!items.length) return Promise.resolve([]);
    this.#subscribe();
    const results: Reply[] = new Array(items.length);
    const pending = new Set<string>();
    return new Promise<Reply[]>((resolve, reject) => {
      let left = items.length;
      const timer = setTimeout(() => {
        for (const reply of pending) this.#waiting.get(reply)?.('timeout');
      }, timeoutMs);
      try {
        items.forEach((it, i) => {
          const reply = `${this.#prefix}.${(this.#next++).toString(36)}`;
          pending.add(reply);
          this.#waiting.set(reply, (r) => {
            this.#waiting.delete(reply);
            pending.delete(reply);
            results[i] = r;
            if (--left === 0) {
              clearTimeout(timer);
              resolve(results);
            }
          });
          this.#nc.publish(it.subject, it.data, { reply, headers: it.headers });
        });
      } catch (err) {
        clearTimeout(timer);
        for (const reply of pending) this.#waiting.delete(reply);
        reject(err);
      }
    });
  }

  /** JetStream publishes with their PubAcks, in order. */
  async publishAll(items: readonly Publication[], timeoutMs: number): Promise<PubResult[]> {
    return (await this.requestAll(items, timeoutMs)).map(parseAck);
  }
}
