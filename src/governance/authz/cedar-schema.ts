import { ACTION_GROUPS, ACTIONS, BASE_RESOURCE_TYPES, RESOURCE_TYPES, type ActionSpec } from './actions.ts';

/** The Cedar namespace of every AIOS entity and action. */
export const CEDAR_NAMESPACE = 'AIOS';

/** The actions and entity types a schema holds: governance's own and every capability's. */
export interface ActionTable {
  readonly actions: Readonly<Record<string, { readonly group: string; readonly resource: string; readonly description: string }>>;
  readonly resourceTypes: readonly string[];
}

/**
 * Governance's own actions and entity types: what a Cedar engine made outside a runtime knows.
 * The runtime hands governance the table of every capability in its list.
 */
export const DEFAULT_ACTION_TABLE: ActionTable = { actions: ACTIONS as Readonly<Record<string, ActionSpec>>, resourceTypes: [...BASE_RESOURCE_TYPES, ...RESOURCE_TYPES] };

/**
 * The Cedar schema policies are validated against, generated from the action table (the one the
 * runtime assembles from its capabilities; governance's own by default).
 * Principals (users, service accounts) are members of roles; every principal and resource
 * has the namespace it belongs to ("*" for principals that may act in any namespace).
 */
export function cedarSchemaText(table: ActionTable = DEFAULT_ACTION_TABLE): string {
  const lines = [
    `namespace ${CEDAR_NAMESPACE} {`,
    '  entity Role;',
    '  entity User in [Role] { namespace: String };',
    '  entity ServiceAccount in [Role] { namespace: String };',
    ...table.resourceTypes.map((t) => `  entity ${t} { namespace: String };`),
    ...ACTION_GROUPS.map((g) => `  action "${g}";`),
    ...Object.entries(table.actions).map(
      ([name, spec]) => `  action "${name}" in ["${spec.group}"] appliesTo { principal: [User, ServiceAccount], resource: [${spec.resource}], context: {} };`,
    ),
    '}',
  ];
  return lines.join('\n');
}
