/** How a request proved who it is. */
export type AuthMethod = 'api_key' | 'oidc' | 'system' | 'none';

/** The built-in roles; the default policy set gives each its rights. */
export const ROLES = ['admin', 'operator', 'engineer', 'viewer', 'service'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is acting: a user or a service account, in a namespace (tenant). A principal whose
 * namespace is `*` may act in any namespace it names with the `x-aios-namespace` header.
 */
export interface Principal {
  readonly type: 'user' | 'service';
  readonly id: string;
  readonly namespace: string;
  readonly roles: readonly string[];
  readonly authMethod: AuthMethod;
  /** The API key's id (its visible prefix), when authenticated by key. */
  readonly keyId?: string;
}

/** The principal of work AIOS does by itself (retention, recovery, schedules). */
export const SYSTEM_PRINCIPAL: Principal = Object.freeze({ type: 'service', id: 'aios-system', namespace: '*', roles: ['admin'], authMethod: 'system' });
