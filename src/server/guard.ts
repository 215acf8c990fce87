import type { FastifyReply, FastifyRequest } from 'fastify';
import { Counter, type Registry } from 'prom-client';
import { ALL_NAMESPACES, AiosError, namespaceProblem, uuidv7, type Logger } from '../core/index.ts';
import { isValidLineageId, type ActionTable, type AuditRecorder, type Authenticator, type AuthFailures, type Authorizer, type AuthzDecision, type Principal, type RateLimits, type ResourceRef } from '../governance/index.ts';
import { LINEAGE_HEADER, NAMESPACE_HEADER, auditInput, traceIdOf, type AuditExtra } from '../http/index.ts';
import { sendProblem, toAiosError } from './problem.ts';
import { GovernanceError } from '../governance/index.ts';


/** Paths anyone may call: liveness, readiness and the API description. */
export function isPublicPath(url: string): boolean {
  const path = url.split('?')[0];
  return path === '/healthz' || path === '/readyz' || path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/');
}

export interface GuardDeps {
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly rateLimits: RateLimits;
  readonly authFailures: AuthFailures;
  readonly audit: AuditRecorder;
  readonly actionTable: ActionTable;
  readonly logger: Logger;
  readonly metrics: Registry;
  /** False only where a benchmark measures the API without authentication and authorization. */
  readonly enabled: boolean;
}

/** The route param naming each resource type. */
const RESOURCE_PARAM: Readonly<Record<string, string>> = { Topic: 'topic', ApiKey: 'id', Secret: 'name', Lineage: 'id', Workflow: 'id', Schedule: 'id', Model: 'name', Task: 'id' };

function defaultResource(table: ActionTable, action: string, req: FastifyRequest, ns: string): ResourceRef {
  const type = table.actions[action].resource;
  if (type === 'PolicySet') return { type, id: 'global', namespace: '*' };
  const param = RESOURCE_PARAM[type];
  const id = param ? (req.params as Record<string, string | undefined>)[param] : undefined;
  return { type, id: id ?? ns, namespace: ns };
}

/**
 * The namespace the request names, undefined when it names none; an AIOS_NAMESPACE_INVALID
 * error when the header is not a namespace name (or `*`), before anything is looked up or written.
 */
function askedNamespace(req: FastifyRequest): string | undefined {
  const header = req.headers[NAMESPACE_HEADER];
  if (header === undefined || header === '') return undefined;
  const problem = typeof header === 'string' ? (header === ALL_NAMESPACES ? undefined : namespaceProblem(header)) : 'must be given once';
  if (problem) throw new AiosError('AIOS_NAMESPACE_INVALID', `the ${NAMESPACE_HEADER} header ${problem}`, { errors: [{ path: `headers/${NAMESPACE_HEADER}`, message: problem }] });
  return header as string;
}

// The request id is the client's own when it sends x-request-id: kept in a record only when it is plain.
const PLAIN_REQUEST_ID = /^[\w.:-]{1,128}$/;

const DISABLED: AuthzDecision = Object.freeze({ allowed: true, policySetHash: 'authorization-disabled', policyIds: [], errors: [] });
const ANONYMOUS_ADMIN: Principal = Object.freeze({ type: 'user', id: 'anonymous', namespace: '*', roles: ['admin'], authMethod: 'none' });

/**
 * The gate in front of every route, run in `onRequest` (before the body is read): lineage id
 * and namespace header (400), authentication (401; 429 for a client address past its limit of
 * failures), rate limits (429), namespace (403), authorization (403). Denials are audited (failed
 * authentications under `aios-system`, aggregated); so is every write once it has answered
 * (`onSend`), with the hashes of its input and output, before the answer leaves.
 */
export function createGuard(deps: GuardDeps) {
  const decisions = new Counter({
    name: 'aios_authz_decisions_total',
    help: 'Authorization decisions, by outcome and the policy that decided',
    labelNames: ['decision', 'policy'],
    registers: [deps.metrics],
  });
  const unauthenticated = new Counter({ name: 'aios_auth_failures_total', help: 'Requests refused for missing or invalid credentials', registers: [deps.metrics] });
  const summarized = new Counter({
    name: 'aios_auth_failures_summarized_total',
    help: 'Failed authentications counted into a window\'s summary audit record instead of a record each',
    registers: [deps.metrics],
  });

  async function audit(req: FastifyRequest, outcome: 'success' | 'failure' | 'denied', error: string | null, extra: AuditExtra = {}) {
    await deps.audit.record(auditInput(req, outcome, error, extra));
  }

  /**
   * 401, or 429 once the client address is past its limit of failures. Never recorded in the
   * namespace the request named: AuthFailures records the first failure of an address per window
   * under `aios-system` and counts the rest into one summary.
   */
  async function refuseUnauthenticated(req: FastifyRequest, reply: FastifyReply, e: AiosError) {
    unauthenticated.inc();
    let limited: number | undefined;
    try {
      const requestId = PLAIN_REQUEST_ID.test(req.id) ? req.id : null;
      const outcome = await deps.authFailures.failed({ address: req.ip ?? 'unknown', error: e.code, route: req.routeOptions.url ?? null, requestId, traceId: traceIdOf(req), lineageId: req.lineageId });
      if (!outcome.recorded) summarized.inc();
      limited = outcome.retryAfterSeconds;
    } catch (err) {
      deps.logger.error({ err, requestId: req.id }, 'could not audit a failed authentication');
    }
    if (limited === undefined) return sendProblem(reply, e, req);
    const detail = `too many failed authentications from this address; retry in ${limited} s`;
    return sendProblem(reply, new GovernanceError('AIOS_AUTH_FAILURES_LIMITED', detail, { extra: { retryAfterSeconds: limited } }), req);
  }

  async function deny(req: FastifyRequest, reply: FastifyReply, e: AiosError, extra: AuditExtra = {}) {
    try {
      await audit(req, 'denied', e.code, extra);
    } catch (err) {
      deps.logger.error({ err, requestId: req.id }, 'could not audit a denied request');
    }
    return sendProblem(reply, e, req);
  }

  return {
    async onRequest(req: FastifyRequest, reply: FastifyReply) {
      const given = req.headers[LINEAGE_HEADER];
      if (typeof given === 'string' && given.length) {
        if (!isValidLineageId(given)) return sendProblem(reply, new AiosError('AIOS_BAD_REQUEST', `${LINEAGE_HEADER} must be 1-200 characters of letters, digits and . _ : -`), req);
        req.lineageId = given;
      } else {
        req.lineageId = uuidv7();
      }
      reply.header(LINEAGE_HEADER, req.lineageId);
      if (isPublicPath(req.url)) return;
      const action = req.routeOptions.config?.action;
      let asked: string | undefined;
      try {
        asked = askedNamespace(req);
      } catch (e) {
        return sendProblem(reply, toAiosError(e), req);
      }

      if (!deps.enabled) {
        const ns = asked ?? 'default';
        if (action) req.aiosAuth = { principal: ANONYMOUS_ADMIN, ns, action, resource: defaultResource(deps.actionTable, action, req, ns), decision: DISABLED };
        return;
      }
      let principal: Principal;
      try {
        principal = await deps.authenticator.authenticate(req.headers.authorization);
      } catch (e) {
        return refuseUnauthenticated(req, reply, toAiosError(e));
      }
      if (!action) return; // no such route: the 404 handler answers, to authenticated callers only
      // A namespaced principal is counted in its own namespace, whichever one it names.
      const ns = principal.namespace === ALL_NAMESPACES ? (asked ?? 'default') : principal.namespace;
      try {
        await deps.rateLimits.consume(principal, ns);
      } catch (e) {
        return sendProblem(reply, toAiosError(e), req);
      }
      if (principal.namespace !== ALL_NAMESPACES && asked !== undefined && asked !== principal.namespace) {
        // Recorded in the principal's own trail, where its admins look: the namespace named is the resource.
        const e = new GovernanceError('AIOS_AUTH_FORBIDDEN', `this principal acts only in namespace "${principal.namespace}"`);
        return deny(req, reply, e, { principal, ns: principal.namespace, action, resource: { type: 'Namespace', id: asked, namespace: asked } });
      }
      const config = req.routeOptions.config;
      const resource = config.resource ? config.resource(req, ns) : defaultResource(deps.actionTable, action, req, ns);
      let decision: AuthzDecision;
      try {
        decision = deps.authorizer.authorize({ principal, action, resource });
      } catch (e) {
        return sendProblem(reply, toAiosError(e), req); // 503: the policy engine cannot decide now
      }
      decisions.inc({ decision: decision.allowed ? 'allow' : 'deny', policy: decision.policyIds[0] ?? 'none' });
      // Reads are not audited; their decisions (policy set hash and deciding policies) go to the debug log.
      req.log.debug({ action, resource, principal: principal.id, decision }, 'authorization decision');
      if (!decision.allowed) {
        const e = new GovernanceError('AIOS_AUTH_FORBIDDEN', `not allowed: ${action} on ${resource.type} "${resource.id}"`, { extra: { action } });
        return deny(req, reply, e, { principal, ns, action, resource, decision });
      }
      req.aiosAuth = { principal, ns, action, resource, decision };
    },

    async onSend(req: FastifyRequest, reply: FastifyReply, payload: unknown) {
      const auth = req.aiosAuth;
      if (!auth || !deps.enabled || req.aiosAudited) return payload;
      const wanted = req.routeOptions.config?.audit ?? req.method !== 'GET';
      if (!wanted) return payload;
      const failed = reply.statusCode >= 400;
      let code: string | null = null;
      if (failed && typeof payload === 'string') {
        try {
          code = (JSON.parse(payload) as { code?: string }).code ?? null;
        } catch {
          code = null;
        }
      }
      await audit(req, failed ? 'failure' : 'success', failed ? (code ?? `HTTP_${reply.statusCode}`) : null, { output: typeof payload === 'string' ? payload : null });
      return payload;
    },
  };
}

