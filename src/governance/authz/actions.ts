/**
 * Every authorization action a route can declare, with the group it belongs to and the type of
 * resource it applies to. The Cedar schema is generated from this table, so a route cannot
 * declare an action the policies do not know about.
 *
 * Groups: `read` looks, `write` feeds data in (append, consume), `operate` changes how the
 * platform runs (topics, replay, audit), `administer` manages who may do what (keys, policies,
 * secret values).
 */
export const ACTION_GROUPS = ['read', 'write', 'operate', 'administer'] as const;
export type ActionGroup = (typeof ACTION_GROUPS)[number];

/** Resource entity types; each carries the namespace it lives in. */
export const RESOURCE_TYPES = ['Namespace', 'Topic', 'ApiKey', 'PolicySet', 'AuditLog', 'Lineage', 'Secret', 'Workflow', 'Schedule', 'Model', 'Task'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export interface ActionSpec {
  readonly group: ActionGroup;
  readonly resource: ResourceType;
  readonly description: string;
}

export const ACTIONS = {
  'system:metrics': { group: 'read', resource: 'Namespace', description: 'scrape Prometheus metrics (all namespaces: needs a "*" principal)' },
  'auth:whoami': { group: 'read', resource: 'Namespace', description: 'see one\'s own identity' },
  'topics:list': { group: 'read', resource: 'Namespace', description: 'list topics' },
  'topics:read': { group: 'read', resource: 'Topic', description: 'read a topic definition and its schema history' },
  'topics:create': { group: 'operate', resource: 'Namespace', description: 'create a topic' },
  'topics:update': { group: 'operate', resource: 'Topic', description: 'change a topic' },
  'topics:delete': { group: 'operate', resource: 'Topic', description: 'delete a topic and its events' },
  'events:append': { group: 'write', resource: 'Topic', description: 'append events' },
  'events:read': { group: 'read', resource: 'Topic', description: 'read and tail events' },
  'groups:read': { group: 'read', resource: 'Topic', description: 'see consumer groups and their lag' },
  'groups:consume': { group: 'write', resource: 'Topic', description: 'fetch and commit as a group member' },
  'groups:reset': { group: 'operate', resource: 'Topic', description: 'replay: move a group\'s position' },
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
  'workflows:list': { group: 'read', resource: 'Namespace', description: 'list workflow runs and registered workflows' },
  'workflows:read': { group: 'read', resource: 'Workflow', description: 'read a run, its live state and its history' },
  'workflows:start': { group: 'write', resource: 'Namespace', description: 'start a workflow run' },
  'workflows:signal': { group: 'write', resource: 'Workflow', description: 'send a signal to a run' },
  'workflows:cancel': { group: 'operate', resource: 'Workflow', description: 'cancel a run (its compensations run)' },
  'workflows:terminate': { group: 'operate', resource: 'Workflow', description: 'end a run at once, without compensation' },
  'workflows:retry': { group: 'operate', resource: 'Workflow', description: 'retry a failed run from its failed step' },
  'schedules:list': { group: 'read', resource: 'Namespace', description: 'list schedules' },
  'schedules:read': { group: 'read', resource: 'Schedule', description: 'read a schedule' },
  'schedules:create': { group: 'operate', resource: 'Namespace', description: 'create a schedule' },
  'schedules:update': { group: 'operate', resource: 'Schedule', description: 'change or pause a schedule' },
  'schedules:delete': { group: 'operate', resource: 'Schedule', description: 'delete a schedule' },
} as const satisfies Record<string, ActionSpec>;

export type Action = keyof typeof ACTIONS;

export function isAction(s: string): s is Action {
  return Object.hasOwn(ACTIONS, s);
}
