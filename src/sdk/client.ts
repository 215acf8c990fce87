/**
 * A small typed client for the AIOS HTTP API, for other TypeScript programs and the CLI.
 *
 * @example
 * const client = new AiosClient({ url: 'http://127.0.0.1:8080' });
 * await client.publish('vibration', [{ id: 'e1', data: { turbineId: 't1', rms: 0.4 } }]);
 * for await (const e of client.tail('vibration', { from: 'earliest' })) console.log(e.data);
 */
export interface ClientOptions {
  readonly url: string;
  readonly namespace?: string;
  readonly token?: string;
}

export interface ApiEvent {
  topic: string;
  partition: number;
  offset: number;
  id: string;
  key: string | null;
  time: string;
  ingestedAt: string;
  data: unknown;
  headers: Record<string, string>;
}

/** A problem+json answer from the API, thrown as an error with its stable code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    detail: string,
    readonly body: unknown,
  ) {
    super(`${code} (${status}): ${detail}`);
    this.name = 'ApiError';
  }
}

export class AiosClient {
  readonly #o: ClientOptions;

  constructor(opts: ClientOptions) {
    this.#o = { ...opts, url: opts.url.replace(/\/+$/, '') };
  }

  #headers(extra: Record<string, string> = {}): Record<string, string> {
    const h: Record<string, string> = { ...extra };
    if (this.#o.namespace) h['x-aios-namespace'] = this.#o.namespace;
    if (this.#o.token) h.authorization = `Bearer ${this.#o.token}`;
    return h;
  }

  /** The raw response of a request that answered 2xx (for streamed bodies such as NDJSON exports). */
  async raw(method: string, path: string): Promise<Response> {
    const res = await fetch(`${this.#o.url}${path}`, { method, headers: this.#headers() });
    if (res.status >= 400) {
      const text = await res.text();
      const parsed = text ? (JSON.parse(text) as { code?: string; detail?: string }) : undefined;
      throw new ApiError(res.status, parsed?.code ?? 'HTTP_ERROR', parsed?.detail ?? text, parsed);
    }
    return res;
  }

  async request<T>(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number; body: T }> {
    const res = await fetch(`${this.#o.url}${path}`, {
      method,
      headers: this.#headers(body === undefined ? {} : { 'content-type': contentType }),
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = text ? JSON.parse(text) : undefined;
    if (res.status >= 400) throw new ApiError(res.status, parsed?.code ?? 'HTTP_ERROR', parsed?.detail ?? text, parsed);
    return { status: res.status, body: parsed as T };
  }

  async createTopic(spec: Record<string, unknown>) {
    return (await this.request<Record<string, unknown>>('POST', '/api/v1/topics', spec)).body;
  }

  async listTopics() {
    return (await this.request<{ topics: Record<string, unknown>[] }>('GET', '/api/v1/topics?limit=1000')).body.topics;
  }

  async getTopic(name: string) {
    return (await this.request<Record<string, unknown>>('GET', `/api/v1/topics/${encodeURIComponent(name)}`)).body;
  }

  /** Appends events; `ndjson` sends the body as-is with application/x-ndjson. */
  async publish(topic: string, events: unknown[] | string, opts: { ndjson?: boolean } = {}) {
    const path = `/api/v1/topics/${encodeURIComponent(topic)}/events`;
    const r = opts.ndjson
      ? await this.request<{ accepted: unknown[]; rejected: unknown[] }>('POST', path, events as string, 'application/x-ndjson')
      : await this.request<{ accepted: unknown[]; rejected: unknown[] }>('POST', path, events);
    return r.body;
  }

  async read(topic: string, q: Record<string, string | number | undefined> = {}) {
    const qs = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
    return (await this.request<{ events: ApiEvent[]; next: string }>('GET', `/api/v1/topics/${encodeURIComponent(topic)}/events?${qs}`)).body;
  }

  /** Follows a topic over SSE; resumes from `from` (a cursor, earliest or latest). */
  async *tail(topic: string, opts: { from?: string; partition?: number; signal?: AbortSignal } = {}): AsyncGenerator<ApiEvent & { cursor: string }> {
    const qs = new URLSearchParams();
    if (opts.from) qs.set('from', opts.from);
    if (opts.partition !== undefined) qs.set('partition', String(opts.partition));
    const res = await fetch(`${this.#o.url}/api/v1/topics/${encodeURIComponent(topic)}/stream?${qs}`, { headers: this.#headers({ accept: 'text/event-stream' }), signal: opts.signal });
    if (res.status >= 400 || !res.body) {
      const parsed = await res.json().catch(() => ({}));
      throw new ApiError(res.status, parsed.code ?? 'HTTP_ERROR', parsed.detail ?? res.statusText, parsed);
    }
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += decoder.decode(chunk, { stream: true });
        let cut: number;
        while ((cut = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, cut);
          buf = buf.slice(cut + 2);
          let id = '';
          let data = '';
          let event = 'message';
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) id = line.slice(4);
            else if (line.startsWith('data: ')) data += line.slice(6);
            else if (line.startsWith('event: ')) event = line.slice(7);
          }
          if (event === 'event' && data) yield { ...(JSON.parse(data) as ApiEvent), cursor: id };
          else if (event === 'error' && data) {
            const p = JSON.parse(data);
            throw new ApiError(500, p.code, p.detail, p);
          }
        }
      }
    } catch (e) {
      if ((e as Error).name !== 'AbortError') throw e;
    }
  }
}
