import type { OperationSpec } from '../../capability/index.ts';
import { NDJSON } from '../../http/index.ts';

/** The governance routes' operations, by method and OpenAPI path. */
export const GOVERNANCE_OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'GET /api/v1/auth/whoami': { id: 'whoAmI' },
  'POST /api/v1/keys': { id: 'createApiKey' },
  'GET /api/v1/keys': { id: 'listApiKeys' },
  'GET /api/v1/keys/{id}': { id: 'getApiKey' },
  'DELETE /api/v1/keys/{id}': { id: 'revokeApiKey' },
  'GET /api/v1/policies': { id: 'getPolicySet' },
  'PUT /api/v1/policies': { id: 'replacePolicySet' },
  'GET /api/v1/policies/schema': { id: 'getPolicySchema' },
  'GET /api/v1/policies/versions': { id: 'listPolicySetVersions' },
  'GET /api/v1/audit': { id: 'queryAudit' },
  'GET /api/v1/audit/export': { id: 'exportAudit', produces: NDJSON },
  'GET /api/v1/audit/verify': { id: 'verifyAudit' },
  'POST /api/v1/audit/verify': { id: 'verifyAuditAgainstWitness', accepts: ['application/json', NDJSON] },
  'GET /api/v1/lineage/{id}': { id: 'getLineage' },
  'GET /api/v1/lineage/{id}/openlineage': { id: 'getOpenLineage' },
  'GET /api/v1/secrets': { id: 'listSecrets' },
  'GET /api/v1/secrets/{name}': { id: 'getSecret' },
  'PUT /api/v1/secrets/{name}': { id: 'putSecret' },
  'DELETE /api/v1/secrets/{name}': { id: 'deleteSecret' },
  'POST /api/v1/secrets/{name}/reveal': { id: 'revealSecret' },
};

export const GOVERNANCE_TAGS = [
  { name: 'keys', description: 'API keys: created once, stored as hashes, revocable' },
  { name: 'policies', description: 'The Cedar policy set: versioned, validated before it is accepted' },
  { name: 'audit', description: 'The tamper-evident audit trail: query, export, verify' },
  { name: 'lineage', description: 'Where a result came from and what it led to; OpenLineage export' },
  { name: 'secrets', description: 'Encrypted secrets: values never listed, every read audited' },
];
