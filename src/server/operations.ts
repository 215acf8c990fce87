import { CLOUDEVENTS_CONTENT_TYPES } from '../events/index.ts';

/** What the OpenAPI document and the server say of one operation, beyond its Fastify schema. */
export interface OperationSpec {
  /** The operationId: stable, unique, what generated clients name their method. */
  readonly id: string;
  /** Media types the request body may have (415 for any other); `application/json` when absent. */
  readonly accepts?: readonly string[];
  /** Media type of the success answer when it is not JSON. */
  readonly produces?: string;
}

export const JSON_ONLY: readonly string[] = ['application/json'];
export const NDJSON = 'application/x-ndjson';
/** The Prometheus text exposition format, as scrapers ask for it. */
export const PROMETHEUS_TEXT = 'text/plain; version=0.0.4';
export const APPEND_MEDIA_TYPES: readonly string[] = ['application/json', NDJSON, ...CLOUDEVENTS_CONTENT_TYPES];

/**
 * Every documented operation, by method and OpenAPI path. A route missing here, an id used
 * twice, or an entry no route matches fails the server at start-up.
 */
export const OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'GET /healthz': { id: 'getLiveness' },
  'GET /readyz': { id: 'getReadiness' },
  'GET /metrics': { id: 'getMetrics', produces: PROMETHEUS_TEXT },

  'POST /api/v1/topics': { id: 'createTopic' },
  'GET /api/v1/topics': { id: 'listTopics' },
  'GET /api/v1/topics/{topic}': { id: 'getTopic' },
  'PATCH /api/v1/topics/{topic}': { id: 'updateTopic' },
  'DELETE /api/v1/topics/{topic}': { id: 'deleteTopic' },
  'GET /api/v1/topics/{topic}/schemas': { id: 'listTopicSchemas' },

  'POST /api/v1/topics/{topic}/events': { id: 'appendEvents', accepts: APPEND_MEDIA_TYPES },
  'GET /api/v1/topics/{topic}/events': { id: 'readEvents' },
  'GET /api/v1/topics/{topic}/stream': { id: 'streamEvents', produces: 'text/event-stream' },

  'GET /api/v1/topics/{topic}/groups': { id: 'listGroups' },
  'GET /api/v1/topics/{topic}/groups/{group}': { id: 'getGroup' },
  'POST /api/v1/topics/{topic}/groups/{group}/fetch': { id: 'fetchGroupEvents' },
  'POST /api/v1/topics/{topic}/groups/{group}/commit': { id: 'commitGroupOffsets' },
  'POST /api/v1/topics/{topic}/groups/{group}/reset': { id: 'resetGroup' },

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

  'POST /api/v1/workflows': { id: 'startWorkflow' },
  'GET /api/v1/workflows': { id: 'listWorkflowRuns' },
  'GET /api/v1/workflows/definitions': { id: 'listWorkflowDefinitions' },
  'GET /api/v1/workflows/{id}': { id: 'getWorkflowRun' },
  'GET /api/v1/workflows/{id}/history': { id: 'getWorkflowHistory' },
  'POST /api/v1/workflows/{id}/signals/{name}': { id: 'signalWorkflowRun' },
  'POST /api/v1/workflows/{id}/cancel': { id: 'cancelWorkflowRun' },
  'POST /api/v1/workflows/{id}/terminate': { id: 'terminateWorkflowRun' },
  'POST /api/v1/workflows/{id}/retry': { id: 'retryWorkflowRun' },

  'POST /api/v1/schedules': { id: 'createSchedule' },
  'GET /api/v1/schedules': { id: 'listSchedules' },
  'GET /api/v1/schedules/{id}': { id: 'getSchedule' },
  'PATCH /api/v1/schedules/{id}': { id: 'updateSchedule' },
  'DELETE /api/v1/schedules/{id}': { id: 'deleteSchedule' },
};

/** `/topics/:topic` as OpenAPI writes it: `/topics/{topic}`. */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

/**
 * Checks each route against `OPERATIONS` as it is registered, and the table against the routes
 * at the end: every documented route has a unique operationId, every entry names a route.
 *
 * @example
 * const ops = operationRegistry();
 * app.addHook('onRoute', (r) => ops.route(r.method, r.url, r.schema?.operationId));
 * // ...register the routes, then:
 * ops.checkComplete();
 */
export function operationRegistry(table: Readonly<Record<string, OperationSpec>> = OPERATIONS) {
  const used = new Map<string, string>();
  const seen = new Set<string>();
  return {
    /** The spec of a documented route; throws when it has none or its id is taken. */
    route(method: string, url: string, ownId?: string): OperationSpec {
      const key = `${method} ${openApiPath(url)}`;
      const spec = table[key];
      const id = ownId ?? spec?.id;
      if (!id) throw new Error(`route ${key} has no operationId: add it to OPERATIONS in src/server/operations.ts`);
      const other = used.get(id);
      if (other && other !== key) throw new Error(`operationId "${id}" of ${key} is already the id of ${other}`);
      used.set(id, key);
      seen.add(key);
      return { ...spec, id };
    },
    /** Throws when an entry of the table matched no route. */
    checkComplete(): void {
      const stale = Object.keys(table).filter((k) => !seen.has(k));
      if (stale.length) throw new Error(`OPERATIONS in src/server/operations.ts names routes that do not exist: ${stale.join(', ')}`);
    },
  };
}
