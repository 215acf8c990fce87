import { createInbox, nanos, type Msg, type NatsConnection } from '@nats-io/transport-node';

export interface PullResult {
  readonly msgs: Msg[];
  /**
   * How the request ended: the batch was filled (`full`), the server said there is nothing more
   * (404 No Messages / 408 Request Timeout), it refused (409, e.g. consumer deleted, too many
   * waiting pulls) or nobody answered at all (`silent`: the consumer does not exist).
   */
  readonly end: 'full' | 'empty' | 'refused' | 'silent';
}

/** Time after the server's own expiry before a pull with no answer at all counts as silent. */
const SILENCE_MARGIN_MS = 1000;

/**
 * One raw pull request (`$JS.API.CONSUMER.MSG.NEXT`) with `no_wait`: the server sends what is
 * there now, up to `batch`, and ends the request at once; with `waitMs > 0` it waits up to that
 * long for the first message and then returns as soon as it has any. The client library's
 * `fetch` waits for the whole batch or the expiry, with a 1 s minimum expiry; a consumer-group
 * fetch must return what is there without waiting out `waitMs` (HTTP polls with `waitMs: 0`).
 */
export function pull(nc: NatsConnection, stream: string, consumer: string, batch: number, waitMs: number): Promise<PullResult> {
  return new Promise((resolve, reject) => {
    const inbox = createInbox();
    const msgs: Msg[] = [];
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = (end: PullResult['end']) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      resolve({ msgs, end });
    };
    let sub: ReturnType<NatsConnection['subscribe']>;
    try {
      sub = nc.subscribe(inbox, {
        callback: (err, m) => {
          if (err) return finish('refused');
          if (m.subject === inbox) {
            // A status message: 100 is a heartbeat (not requested, ignored); 404/408 end an
            // empty or exhausted request; 409 and others are refusals.
            const code = m.headers?.code ?? 0;
            if (code === 100) return;
            return finish(code === 404 || code === 408 ? 'empty' : 'refused');
          }
          msgs.push(m);
          if (msgs.length >= batch) finish('full');
        },
      });
      sub.closed.then(() => finish('refused'), () => finish('refused'));
      const req = waitMs > 0 ? { batch, no_wait: true, expires: nanos(waitMs) } : { batch, no_wait: true };
      nc.publish(`$JS.API.CONSUMER.MSG.NEXT.${stream}.${consumer}`, JSON.stringify(req), { reply: inbox });
      timer = setTimeout(() => finish('silent'), waitMs + SILENCE_MARGIN_MS);
    } catch (err) {
      done = true;
      clearTimeout(timer);
      reject(err);
    }
  });
}
