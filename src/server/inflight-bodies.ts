import type { FastifyReply, FastifyRequest } from 'fastify';
import { Gauge, type Registry } from 'prom-client';
import { AiosError } from '../core/index.ts';
import { BodyBudget, bodyBudgetLimits, type BodyShares } from './body-budget.ts';
import { sendProblem } from './problem.ts';

/** Methods whose bodies Fastify never reads. */
const BODYLESS = new Set(['GET', 'HEAD', 'TRACE']);
/** Keys of requests that reach the hook without an authenticated principal (open paths, unknown routes). */
const UNAUTHENTICATED = '\u0000unauthenticated';

/**
 * Bounds the request bodies being received or handled, in total, per namespace and per
 * principal (429 `AIOS_OVERLOADED` naming the bound, with Retry-After). Runs as an `onRequest`
 * hook after the guard, so the shares are those of the authenticated namespace and principal.
 * A body's bytes (its Content-Length, or the route's body limit when chunked) are held from its
 * headers until its response is done or its connection is gone, whichever comes first: the
 * response's or the socket's 'close', one of which always fires, on completion, error, timeout
 * or abort alike.
 *
 * @example
 * const bodies = createInflightBodies({ totalBytes: 64 << 20, namespacePercent: 50, principalPercent: 25, bodyLimitBytes: 16 << 20 }, registry);
 * app.addHook('onRequest', guard.onRequest);
 * app.addHook('onRequest', bodies.onRequest);
 */
export function createInflightBodies(opts: BodyShares, metrics: Registry) {
  const budget = new BodyBudget(bodyBudgetLimits(opts));
  new Gauge({
    name: 'aios_http_inflight_body_bytes',
    help: 'Bytes of request bodies being received or handled now (Content-Length, or the body limit when chunked)',
    registers: [metrics],
    collect() {
      this.set(budget.inflightBytes);
    },
  });

  // One 'close' listener per connection, however many requests it carries.
  const held = new WeakMap<object, Set<() => void>>();
  function heldUntilClose(socket: NodeJS.EventEmitter, release: () => void) {
    let releases = held.get(socket);
    if (!releases) {
      const set = (releases = new Set());
      held.set(socket, set);
      socket.once('close', () => {
        for (const r of set) r();
        held.delete(socket);
      });
    }
    releases.add(release);
  }

  return {
    onRequest(req: FastifyRequest, reply: FastifyReply, done: () => void): void {
      if (BODYLESS.has(req.method)) return done();
      const limit = req.routeOptions.bodyLimit ?? opts.bodyLimitBytes;
      const declared = req.headers['content-length'];
      let bytes: number;
      if (declared !== undefined) {
        const n = Number(declared);
        bytes = Number.isSafeInteger(n) && n >= 0 ? Math.min(n, limit) : limit;
      } else {
        bytes = req.headers['transfer-encoding'] !== undefined ? limit : 0;
      }
      if (bytes === 0) return done();
      const auth = req.aiosAuth;
      const ns = auth ? auth.ns : UNAUTHENTICATED;
      const principal = auth ? `${auth.principal.namespace}\u0000${auth.principal.type}\u0000${auth.principal.id}` : UNAUTHENTICATED;
      const r = budget.reserve(ns, principal, bytes);
      if (!r.ok) {
        const whose = !auth ? 'unauthenticated requests' : r.bound === 'principal' ? 'this principal' : r.bound === 'namespace' ? `namespace "${ns}"` : 'all namespaces together';
        const detail = `this body would take the request bodies in flight for ${whose} past ${r.limitBytes} bytes (the ${r.bound} bound); retry shortly`;
        sendProblem(reply, new AiosError('AIOS_OVERLOADED', detail, { extra: { bound: r.bound, limitBytes: r.limitBytes, retryAfterSeconds: 1 } }), req);
        return;
      }
      const res = reply.raw;
      const socket = req.raw.socket as (NodeJS.EventEmitter & { destroyed?: boolean }) | undefined;
      const release = () => {
        r.release();
        res.off('close', release);
        if (socket) held.get(socket)?.delete(release);
      };
      res.on('close', release);
      // A response queued behind another on a pipelined connection never emits 'close'; its socket does.
      if (typeof socket?.once === 'function') heldUntilClose(socket, release);
      if (res.destroyed || socket?.destroyed) release();
      done();
    },
  };
}
