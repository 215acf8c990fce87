import { ACTION_GROUPS, ACTIONS, RESOURCE_TYPES } from './actions.ts';

/** The Cedar namespace of every AIOS entity and action. */
export const CEDAR_NAMESPACE = 'AIOS';

/**
 * The Cedar schema policies are validated against, generated from the action table.
 * Principals (users, service accounts) are members of roles; every principal and resource
 * has the namespace it belongs to ("*" for principals that may act in any namespace).
 */
export function cedarSchemaText(): string {
  const lines = [
    `namespace ${CEDAR_NAMESPACE} {`,
    '  entity Role;',
    '  entity User in [Role] { namespace: String };',
    '  entity ServiceAccount in [Role] { namespace: String };',
    ...RESOURCE_TYPES.map((t) => `  entity ${t} { namespace: String };`),
    ...ACTION_GROUPS.map((g) => `  action "${g}";`),
    ...Object.entries(ACTIONS).map(
      ([name, spec]) => `  action "${name}" in ["${spec.group}"] appliesTo { principal: [User, ServiceAccount], resource: [${spec.resource}], context: {} };`,
    ),
    '}',
  ];
  return lines.join('\n');
}
