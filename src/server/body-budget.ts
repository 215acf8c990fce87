/** The bound a reservation would have passed: the caller's own, its namespace's, or everyone's. */
export type BodyBound = 'principal' | 'namespace' | 'total';

export interface BodyBudgetLimits {
  /** Most bytes held at once, all namespaces together. */
  readonly totalBytes: number;
  /** Most bytes one namespace holds at once. */
  readonly namespaceBytes: number;
  /** Most bytes one principal holds at once, in whatever namespace it acts. */
  readonly principalBytes: number;
}

export interface BodyShares {
  /** Most body bytes in flight at once, all namespaces together (0: no bound). */
  readonly totalBytes: number;
  /** Share of the total one namespace may hold, in percent. */
  readonly namespacePercent: number;
  /** Share of the total one principal may hold, in percent. */
  readonly principalPercent: number;
  /** The largest body a route accepts: every bound lets at least one such body in. */
  readonly bodyLimitBytes: number;
}

/**
 * The bounds in bytes. Each is at least one body of the largest size, so a request that fits the
 * body limit is never refused by a share it could not fit in even alone.
 *
 * @example bodyBudgetLimits({ totalBytes: 64 << 20, namespacePercent: 50, principalPercent: 25, bodyLimitBytes: 16 << 20 })
 * // { totalBytes: 64 MiB, namespaceBytes: 32 MiB, principalBytes: 16 MiB }
 */
export function bodyBudgetLimits(o: BodyShares): BodyBudgetLimits {
  if (o.totalBytes === 0) return { totalBytes: Infinity, namespaceBytes: Infinity, principalBytes: Infinity };
  const total = Math.max(o.totalBytes, o.bodyLimitBytes);
  const share = (percent: number) => Math.min(total, Math.max(o.bodyLimitBytes, Math.floor((total * Math.min(percent, 100)) / 100)));
  const principalBytes = share(o.principalPercent);
  return { totalBytes: total, namespaceBytes: Math.max(principalBytes, share(o.namespacePercent)), principalBytes };
}

export type Reservation = { readonly ok: true; release(): void } | { readonly ok: false; readonly bound: BodyBound; readonly limitBytes: number };

/**
 * Bytes of request bodies in flight, bounded in total, per namespace and per principal, so that
 * one tenant's bodies can never take the room another needs. A reservation is given back by its
 * `release`, which counts once however often it is called.
 *
 * @example
 * const budget = new BodyBudget({ totalBytes: 64 << 20, namespaceBytes: 32 << 20, principalBytes: 16 << 20 });
 * const r = budget.reserve('plant-a', 'key-1', 1 << 20);
 * if (!r.ok) throw new Error(`over the ${r.bound} bound`);
 * r.release();
 */
export class BodyBudget {
  readonly limits: BodyBudgetLimits;
  #total = 0;
  readonly #byNamespace = new Map<string, number>();
  readonly #byPrincipal = new Map<string, number>();

  constructor(limits: BodyBudgetLimits) {
    this.limits = Object.freeze({ ...limits });
  }

  /** Bytes held now, by everyone. */
  get inflightBytes(): number {
    return this.#total;
  }

  /** Bytes held now by one namespace. */
  namespaceBytes(ns: string): number {
    return this.#byNamespace.get(ns) ?? 0;
  }

  /** Bytes held now by one principal. */
  principalBytes(principal: string): number {
    return this.#byPrincipal.get(principal) ?? 0;
  }

  /** Takes `bytes` for `principal` acting in `ns`, or names the first bound (narrowest first) it would pass. */
  reserve(ns: string, principal: string, bytes: number): Reservation {
    const l = this.limits;
    if (this.principalBytes(principal) + bytes > l.principalBytes) return { ok: false, bound: 'principal', limitBytes: l.principalBytes };
    if (this.namespaceBytes(ns) + bytes > l.namespaceBytes) return { ok: false, bound: 'namespace', limitBytes: l.namespaceBytes };
    if (this.#total + bytes > l.totalBytes) return { ok: false, bound: 'total', limitBytes: l.totalBytes };
    this.#total += bytes;
    add(this.#byNamespace, ns, bytes);
    add(this.#byPrincipal, principal, bytes);
    let held = true;
    return {
      ok: true,
      release: () => {
        if (!held) return;
        held = false;
        this.#total -= bytes;
        add(this.#byNamespace, ns, -bytes);
        add(this.#byPrincipal, principal, -bytes);
      },
    };
  }
}

/** Entries at zero are dropped, so the maps hold only who has bytes in flight now. */
function add(map: Map<string, number>, key: string, bytes: number): void {
  const n = (map.get(key) ?? 0) + bytes;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}
