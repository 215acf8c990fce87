import { AiosError, isAiosError } from '../../core/index.ts';
import type { AuthzDecision, AuthzRequest, CompiledPolicySet, PolicyEngine } from './policy-engine.ts';
import { GovernanceError } from '../errors.ts';

/**
 * Puts a bounded decision cache in front of a policy engine. Sound because a decision is a pure
 * function of what the key holds: the active policy set's hash, the principal (type, id,
 * namespace, roles), the action and the resource (type, id, namespace); the request carries no
 * other entity data and an empty context. Cedar conditions cannot read an entity's id except by
 * comparing it with an entity literal, so when the policy set names no principal or resource
 * (the default set), the ids leave the key and a new topic name costs no new evaluation.
 * Activating another policy set changes the hash, so old decisions are never served. A Cedar
 * evaluation through WebAssembly costs about 0.1 ms on the reference machine; a cache hit costs
 * a map lookup (see BENCHMARKS.md, `authz`).
 *
 * `authorize` answers or throws an AIOS_NOT_READY or AIOS_AUTHZ_UNAVAILABLE error (503,
 * retryable), never anything else: while the engine cannot evaluate, cached decisions of the
 * active set are still served, and are still right, since the set has not changed.
 */
export class Authorizer {
  readonly #engine: PolicyEngine;
  readonly #cache = new Map<string, AuthzDecision>();
  readonly #capacity: number;

  constructor(engine: PolicyEngine, opts: { cacheSize?: number } = {}) {
    this.#engine = engine;
    this.#capacity = opts.cacheSize ?? 10_000;
  }

  get engine(): PolicyEngine {
    return this.#engine;
  }

  get active(): CompiledPolicySet | undefined {
    return this.#engine.active;
  }

  /** Whether a decision not in the cache can be made now. */
  get ready(): boolean {
    return this.#engine.ready ?? this.#engine.active !== undefined;
  }

  activate(set: CompiledPolicySet): void {
    this.#engine.activate(set);
    this.#cache.clear();
  }

  authorize(req: AuthzRequest): AuthzDecision {
    const { principal: p, resource: r } = req;
    const set = this.#engine.active;
    const ids = set?.namesEntities !== false ? `\u0000${p.id}\u0000${r.id}` : '';
    const key = `${set?.hash}\u0000${p.type}\u0000${p.namespace}\u0000${p.roles.join(',')}\u0000${req.action}\u0000${r.type}\u0000${r.namespace}${ids}`;
    const hit = this.#cache.get(key);
    if (hit) return hit;
    let decision: AuthzDecision;
    try {
      decision = Object.freeze(this.#engine.authorize(req));
    } catch (e) {
      if (isAiosError(e, 'AIOS_NOT_READY') || isAiosError(e, 'AIOS_AUTHZ_UNAVAILABLE')) throw e;
      throw new GovernanceError('AIOS_AUTHZ_UNAVAILABLE', `the ${this.#engine.name} policy engine failed; retry shortly`, { cause: e });
    }
    if (this.#cache.size >= this.#capacity) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(key, decision);
    return decision;
  }
}
