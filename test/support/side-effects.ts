import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

/** One application of an effect: the first request that carried its idempotency key. */
export interface AppliedEffect {
  readonly key: string;
  /** What the service answered for the key, every time: the application's number, from 1. */
  readonly value: number;
  readonly name?: string;
  readonly worker?: string;
  readonly at: number;
}

export interface Delivery {
  readonly key: string;
  readonly worker?: string;
  readonly at: number;
}

/**
 * An external system with an idempotent API, as a workflow step would call it: `POST /effect`
 * with `{ key, name, worker }` applies the effect once per key and answers `{ value }`; a request
 * repeating a key is counted as a delivery, not applied again, and gets the same value back.
 */
export interface SideEffectService {
  readonly url: string;
  readonly applied: ReadonlyMap<string, AppliedEffect>;
  readonly deliveries: readonly Delivery[];
  /** How many requests carried `key`. */
  deliveriesOf(key: string): number;
  close(): Promise<void>;
}

export async function startSideEffectService(): Promise<SideEffectService> {
  const applied = new Map<string, AppliedEffect>();
  const deliveries: Delivery[] = [];
  const perKey = new Map<string, number>();
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || req.url !== '/effect') {
      res.writeHead(404).end();
      return;
    }
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { key?: unknown; name?: string; worker?: string };
    if (typeof body.key !== 'string' || !body.key) {
      res.writeHead(400).end('key required');
      return;
    }
    const key = body.key;
    const at = Date.now();
    deliveries.push({ key, at, ...(body.worker ? { worker: body.worker } : {}) });
    perKey.set(key, (perKey.get(key) ?? 0) + 1);
    let effect = applied.get(key);
    if (!effect) {
      effect = { key, value: applied.size + 1, at, ...(body.name ? { name: body.name } : {}), ...(body.worker ? { worker: body.worker } : {}) };
      applied.set(key, effect);
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: effect.value }));
  };
  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => res.writeHead(500).end(String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    applied,
    deliveries,
    deliveriesOf: (key) => perKey.get(key) ?? 0,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
