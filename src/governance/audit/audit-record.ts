/** Who did it, as the audit trail records it. */
export interface AuditActor {
  readonly type: 'user' | 'service' | 'anonymous' | 'system';
  readonly id: string;
  readonly authMethod: 'api_key' | 'oidc' | 'none' | 'system';
  readonly keyId?: string | null;
}

/** The authorization decision behind an action: which policy set, and which policies decided. */
export interface AuditDecision {
  readonly decision: 'allow' | 'deny';
  /** sha256 (hex) of the policy set's text. */
  readonly policySetHash: string;
  /** Ids of the policies that determined the decision (empty for a default deny). */
  readonly policyIds: readonly string[];
}

/** What a caller hands to the audit trail. Payloads are hashed, never stored. */
export interface AuditInput {
  readonly ns: string;
  readonly actor: AuditActor;
  /** The route's authorization action, e.g. `topics:create`. */
  readonly action: string;
  /** `<type>:<id>`, e.g. `topic:vibration`, `key:aios_k3j4`. */
  readonly resource: string;
  readonly outcome: 'success' | 'failure' | 'denied';
  /** Error code when the outcome is not success. */
  readonly error?: string | null;
  readonly requestId?: string | null;
  readonly traceId?: string | null;
  readonly lineageId?: string | null;
  /** Hashed (sha256 over canonical JSON) into `inputHash`; not stored. */
  readonly input?: unknown;
  /** Hashed into `outputHash`; not stored. */
  readonly output?: unknown;
  readonly decision?: AuditDecision | null;
}

/** A stored audit record. `recordHash` = sha256(canonical JSON of every other field, with `prevHash`). */
export interface AuditRecord {
  readonly seq: number;
  /** Epoch milliseconds. */
  readonly time: number;
  readonly ns: string;
  readonly actor: AuditActor;
  readonly action: string;
  readonly resource: string;
  readonly outcome: 'success' | 'failure' | 'denied';
  readonly error: string | null;
  readonly requestId: string | null;
  readonly traceId: string | null;
  readonly lineageId: string | null;
  readonly inputHash: string | null;
  readonly outputHash: string | null;
  readonly decision: AuditDecision | null;
  readonly prevHash: string;
  readonly recordHash: string;
}

/** Anything that can record audit entries; capabilities depend on this, not on the trail. */
export interface AuditRecorder {
  record(entry: AuditInput): Promise<unknown>;
}
