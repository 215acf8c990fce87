import { GovernanceError } from './errors.ts';
import { GOVERNANCE_MIGRATIONS } from './migrations/index.ts';
import { collectActions, collectResourceTypes, defineCapability } from '../capability/index.ts';
import type { AiosConfig } from '../core/index.ts';
import { ACTIONS, BASE_RESOURCE_TYPES, RESOURCE_TYPES } from './authz/actions.ts';
import { GOVERNANCE_CONFIG, type GovernanceConfig } from './config.ts';
import type { PolicyEngine } from './authz/policy-engine.ts';
import { auditCommand } from './cli/audit.ts';
import { keysCommand, policiesCommand } from './cli/keys.ts';
import { secretsCommand } from './cli/secrets.ts';
import { createGovernance } from './governance.ts';
import { auditRoutes } from './http/audit.ts';
import type { ServerDeps } from './http/deps.ts';
import { keyRoutes } from './http/keys.ts';
import { lineageRoutes } from './http/lineage.ts';
import { GOVERNANCE_OPERATIONS, GOVERNANCE_TAGS } from './http/operations.ts';
import { policyRoutes } from './http/policies.ts';
import { secretRoutes } from './http/secrets.ts';

/**
 * Identities, authorization, the audit trail, lineage and secrets. Every capability, this one too,
 * declares its actions; the Cedar schema is generated from all of them.
 */
export const governanceCapability = defineCapability({
  id: 'governance',
  errors: GovernanceError.specs,
  errorPrefixes: ['AIOS_AUTH_', 'AIOS_AUTHZ_', 'AIOS_POLICY_', 'AIOS_AUDIT_', 'AIOS_SECRETS_', 'AIOS_LINEAGE_'],
  migrations: GOVERNANCE_MIGRATIONS,
  actions: ACTIONS,
  resourceTypes: RESOURCE_TYPES,
  config: GOVERNANCE_CONFIG,
  metrics: [
    { name: 'aios_authz_decisions_total', type: 'counter', help: 'Authorization decisions, by outcome and the policy that decided' },
    { name: 'aios_auth_failures_total', type: 'counter', help: 'Requests refused for missing or invalid credentials' },
  ],
  http: {
    plugin: (deps: ServerDeps) => async (app: { register(p: unknown): PromiseLike<unknown> }) => {
      await app.register(keyRoutes(deps));
      await app.register(policyRoutes(deps));
      await app.register(auditRoutes(deps));
      await app.register(lineageRoutes(deps));
      await app.register(secretRoutes(deps));
    },
    operations: GOVERNANCE_OPERATIONS,
    tags: GOVERNANCE_TAGS,
  },
  cli: (ctx) => [auditCommand(ctx), secretsCommand(ctx), keysCommand(), policiesCommand()],
  create(ctx) {
    const actionTable = { actions: collectActions({}, ctx.capabilities), resourceTypes: collectResourceTypes(BASE_RESOURCE_TYPES, ctx.capabilities) };
    const governance = createGovernance({
      config: ctx.config as AiosConfig & GovernanceConfig,
      env: ctx.env as Record<string, string | undefined>,
      database: ctx.database,
      clock: ctx.clock,
      logger: ctx.logger,
      engine: ctx.options.policyEngine as PolicyEngine | undefined,
      actionTable,
    });
    return {
      services: { governance },
      async start() {
        return (await governance.start()).adminKeyCreated ? { createdAdminKeyFile: governance.adminKeyFile } : {};
      },
      stop: () => governance.close(),
    };
  },
});
