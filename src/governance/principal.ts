import { ALL_NAMESPACES } from '../core/index.ts';

/** How a request proved who it is. */
export type AuthMethod = 'api_key' | 'oidc' | 'system' | 'none';

/** The built-in roles; the default policy set gives each its rights. */
export const ROLES = ['admin', 'operator', 'engineer', 'viewer', 'service'] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is acting: a user or a service account, in a namespace (tenant). A principal whose
 * namespace is `*` may act in any namespace it names with the `x-aios-namespace` header.
 * Its id is unique within its namespace only: `qualifiedId` names it everywhere else.
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

/**
 * How audit records, rate limits and `createdBy` fields name a principal: its namespace and its
 * id, so that `plant-a`'s `ana` is never taken for `*`'s `ana`. AIOS's own principals (and the
 * anonymous caller) keep their reserved ids, which no key or token can take.
 *
 * @example
 * qualifiedId({ type: 'user', id: 'ana', namespace: 'plant-a', roles: ['viewer'], authMethod: 'oidc' }); // 'plant-a/ana'
 */
export function qualifiedId(p: Principal): string {
  return p.authMethod === 'system' || p.authMethod === 'none' ? p.id : `${p.namespace}/${p.id}`;
}

const PRINCIPAL_ID = /^[A-Za-z0-9][A-Za-z0-9._@+:-]{0,199}$/;
const RESERVED_ID = /^(?:admin|anonymous|aios|workflow-engine)$|^(?:aios[-_.:]|system|key:)/i;

/** Whether `id` names one of AIOS's own principals (any case): `admin`, `anonymous`, `workflow-engine`, or a name starting `aios-`, `system` or `key:`. */
export function isReservedPrincipalId(id: string): boolean {
  return RESERVED_ID.test(id);
}

/**
 * Why `id` cannot be the principal a new API key stands for, or undefined when it can. Ids are
 * 1-200 letters, digits and `. _ @ + : -`, starting with a letter or digit, and not reserved.
 *
 * @example principalIdProblem('alice@plant-a'); // undefined
 */
export function principalIdProblem(id: string): string | undefined {
  if (!PRINCIPAL_ID.test(id)) return 'must be 1-200 of letters, digits and . _ @ + : -, starting with a letter or digit';
  if (isReservedPrincipalId(id)) return `"${id}" is reserved for AIOS's own principals (admin, anonymous, workflow-engine, and ids starting aios-, system or key:)`;
  return undefined;
}

/**
 * The roles a holder of each role may give to a key it creates: its own and those below it.
 * `engineer` and `service` have the same rights under the default policies, but a policy set may
 * tell them apart, so neither grants the other.
 */
export const GRANTABLE_ROLES: Readonly<Record<Role, readonly Role[]>> = Object.freeze({
  admin: ROLES,
  operator: ['operator', 'engineer', 'service', 'viewer'],
  engineer: ['engineer', 'viewer'],
  service: ['service', 'viewer'],
  viewer: ['viewer'],
});

/**
 * Why `by` may not create a key with `roles` in namespace `ns`, or undefined when it may. Nobody
 * gives more than they hold: a key's roles are ones its creator could grant, and its namespace
 * is the creator's own (a principal of `*` creates keys in any namespace).
 *
 * @example grantProblem(operatorOfPlantA, 'plant-a', ['admin']); // 'operator may grant only ...'
 */
export function grantProblem(by: Principal, ns: string, roles: readonly string[]): string | undefined {
  if (by.namespace !== ALL_NAMESPACES && ns !== by.namespace) return `a principal of namespace "${by.namespace}" creates keys in "${by.namespace}" only`;
  const grantable = new Set(by.roles.flatMap((r) => GRANTABLE_ROLES[r as Role] ?? []));
  const beyond = roles.filter((r) => !grantable.has(r as Role));
  if (beyond.length) {
    const may = [...grantable];
    return `a key gets at most its creator's roles: ${beyond.join(', ')} ${beyond.length > 1 ? 'are' : 'is'} beyond ${by.roles.join(', ') || 'no role'}${may.length ? ` (which may grant ${may.join(', ')})` : ''}`;
  }
  return undefined;
}
