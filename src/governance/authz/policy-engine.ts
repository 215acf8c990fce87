import type { Principal } from '../principal.ts';

/** The thing acted on: its type, its id, and the namespace it lives in. */
export interface ResourceRef {
  readonly type: string;
  readonly id: string;
  readonly namespace: string;
}

export interface AuthzRequest {
  readonly principal: Principal;
  readonly action: string;
  readonly resource: ResourceRef;
}

/** An authorization decision, with what it was decided by (recorded in the audit trail). */
export interface AuthzDecision {
  readonly allowed: boolean;
  /** sha256 (hex) of the active policy set's text. */
  readonly policySetHash: string;
  /** The policies that determined the decision; empty for a default deny. */
  readonly policyIds: readonly string[];
  /** Policies that failed to evaluate (they count as not applying). */
  readonly errors: readonly string[];
}

/** A policy set that parsed and validated: ready to activate. */
export interface CompiledPolicySet {
  readonly hash: string;
  readonly policyIds: readonly string[];
  /**
   * Whether some policy names a specific principal or resource (an entity literal other than a
   * role or an action). When none does, decisions do not depend on principal or resource ids.
   */
  readonly namesEntities: boolean;
}

/**
 * A policy engine. Cedar is the one AIOS ships; another engine plugs in by implementing this.
 * `compile` does the expensive work once (parse, validate, pre-parse) so that `authorize`,
 * called on every request, only evaluates.
 */
export interface PolicyEngine {
  readonly name: string;
  /** The schema policies are validated against, as text. */
  readonly schemaText: string;
  /**
   * Parses and validates; throws AIOS_POLICY_INVALID naming each problem, or
   * AIOS_POLICY_TOO_COMPLEX naming the limit a set goes past. Does not activate, and changes
   * nothing the active set decides with.
   */
  compile(text: string): CompiledPolicySet;
  /** Makes a compiled policy set the one `authorize` uses. */
  activate(set: CompiledPolicySet): void;
  readonly active: CompiledPolicySet | undefined;
  /**
   * Decides, or throws AIOS_NOT_READY (no set active) or AIOS_AUTHZ_UNAVAILABLE (the engine
   * cannot evaluate now; retry).
   */
  authorize(req: AuthzRequest): AuthzDecision;
  /** Whether `authorize` can decide now; taken as "a set is active" when absent. */
  readonly ready?: boolean;
  /** Stops background work (a pending rebuild). */
  close?(): void;
}
