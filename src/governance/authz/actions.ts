/**
 * Governance's own authorization actions (identities, policies, audit, lineage, secrets), and
 * what every capability's actions are made of. Each capability declares its actions in its
 * definition; the runtime assembles the table the Cedar schema is generated from, so a route
 * cannot declare an action the policies do not know about.
 *
 * Groups: `read` looks, `write` feeds data in (append, consume), `operate` changes how the
 * platform runs (topics, replay, audit), `administer` manages who may do what (keys, policies,
 * secret values).
 */
export const ACTION_GROUPS = ['read', 'write', 'operate', 'administer'] as const;
export type ActionGroup = (typeof ACTION_GROUPS)[number];

/** The entity type every capability's actions may apply to: the namespace itself. */
export const BASE_RESOURCE_TYPES = ['Namespace'] as const;

/**
 * Governance's entity types; each carries the namespace it lives in. `Model` and `Task` are in
 * the schema ahead of the capabilities that act on them, so that stored policies naming them
 * keep compiling; they move to those capabilities when they land.
 */
export const RESOURCE_TYPES = ['ApiKey', 'PolicySet', 'AuditLog', 'Lineage', 'Secret', 'Model', 'Task'] as const;
export type ResourceType = (typeof BASE_RESOURCE_TYPES)[number] | (typeof RESOURCE_TYPES)[number];

export interface ActionSpec {
  readonly group: ActionGroup;
  /** The Cedar entity type it applies to: `Namespace`, or one a capability declares. */
  readonly resource: string;
  readonly description: string;
}

export const ACTIONS = {
  'system:metrics': { group: 'read', resource: 'Namespace', description: 'scrape Prometheus metrics (all namespaces: needs a "*" principal)' },
  'auth:whoami': { group: 'read', resource: 'Namespace', description: 'see one\'s own identity' },
  'keys:list': { group: 'administer', resource: 'Namespace', description: 'list API keys' },
  'keys:create': { group: 'administer', resource: 'Namespace', description: 'create an API key' },
  'keys:read': { group: 'administer', resource: 'ApiKey', description: 'read an API key\'s metadata' },
  'keys:revoke': { group: 'administer', resource: 'ApiKey', description: 'revoke an API key' },
  'policies:read': { group: 'administer', resource: 'PolicySet', description: 'read the policy set and its versions' },
  'policies:update': { group: 'administer', resource: 'PolicySet', description: 'replace the policy set' },
  'audit:read': { group: 'operate', resource: 'AuditLog', description: 'query and export the audit trail' },
  'audit:verify': { group: 'operate', resource: 'AuditLog', description: 'verify the audit chain and checkpoints' },
  'lineage:read': { group: 'read', resource: 'Lineage', description: 'read a lineage graph' },
  'secrets:list': { group: 'operate', resource: 'Namespace', description: 'list secrets (names and metadata only)' },
  'secrets:read': { group: 'operate', resource: 'Secret', description: 'read a secret\'s metadata' },
  'secrets:write': { group: 'administer', resource: 'Secret', description: 'create or replace a secret' },
  'secrets:delete': { group: 'administer', resource: 'Secret', description: 'delete a secret' },
  'secrets:reveal': { group: 'administer', resource: 'Secret', description: 'read a secret\'s value (audited)' },
} as const satisfies Record<string, ActionSpec>;

export type Action = keyof typeof ACTIONS;

export function isAction(s: string): s is Action {
  return Object.hasOwn(ACTIONS, s);
}
