import type { FastifyRequest } from 'fastify';
import { AiosError } from '../core/index.ts';
// The principal, decision and audit types of governance, from their own files: governance is the
// gate every request passes, and importing its front door from here would close a cycle through
// governance's own routes.
import { qualifiedId, type Principal } from '../governance/principal.ts';
import type { AuthzDecision, ResourceRef } from '../governance/authz/policy-engine.ts';
import type { AuditActor, AuditDecision, AuditInput } from '../governance/audit/audit-record.ts';

/**
 * What the guard learns about a request and the routes read: who calls, in which namespace,
 * under which decision, and the audit entry that describes it.
 */

/** Who is calling, in which namespace, under which decision: set on every authenticated request. */
export interface RequestAuth {
  readonly principal: Principal;
  readonly ns: string;
  readonly action: string;
  readonly resource: ResourceRef;
  readonly decision: AuthzDecision;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The authorization action the route needs, from its capability's action table. Every
     * non-public route declares one; the server refuses to start on an action no capability declares.
     */
    action?: string;
    /** The resource acted on, when the default (from the route's params) is not right. */
    resource?: (req: FastifyRequest, ns: string) => ResourceRef;
    /** Write an audit record when the route answers. Default: true for writes, false for reads. */
    audit?: boolean;
    /** Hash the body into the audit record's inputHash (default). Off where the body is a secret. */
    auditInput?: boolean;
  }
  interface FastifyRequest {
    aiosAuth?: RequestAuth;
    lineageId: string;
    /** Set when the route wrote the request's audit record itself, in its own transaction. */
    aiosAudited?: boolean;
  }
}

/** The audit actor of a principal, named by its `qualifiedId` (namespace and id, e.g. `plant-a/ana`). */
export function actorOf(p: Principal | undefined): AuditActor {
  if (!p) return { type: 'anonymous', id: 'anonymous', authMethod: 'none', keyId: null };
  return { type: p.authMethod === 'system' ? 'system' : p.type, id: qualifiedId(p), authMethod: p.authMethod, keyId: p.keyId ?? null };
}

export function traceIdOf(req: FastifyRequest): string | null {
  const tp = req.headers.traceparent;
  return typeof tp === 'string' && /^[0-9a-f]{2}-[0-9a-f]{32}-/.test(tp) ? tp.slice(3, 35) : null;
}

function auditDecision(d: AuthzDecision | undefined): AuditDecision | null {
  return d ? { decision: d.allowed ? 'allow' : 'deny', policySetHash: d.policySetHash, policyIds: d.policyIds } : null;
}

export interface AuditExtra {
  readonly principal?: Principal;
  readonly ns?: string;
  readonly action?: string;
  readonly resource?: ResourceRef;
  readonly decision?: AuthzDecision;
  readonly output?: unknown;
}

/** The audit entry of a request, from what the guard learned about it. */
export function auditInput(req: FastifyRequest, outcome: 'success' | 'failure' | 'denied', error: string | null, extra: AuditExtra = {}): AuditInput {
  const a = req.aiosAuth;
  const resource = extra.resource ?? a?.resource;
  return {
    ns: extra.ns ?? a?.ns ?? 'default',
    actor: actorOf(extra.principal ?? a?.principal),
    action: extra.action ?? a?.action ?? req.routeOptions.config?.action ?? `${req.method} ${req.routeOptions.url ?? 'unmatched'}`,
    resource: resource ? `${resource.type}:${resource.id}` : `route:${req.routeOptions.url ?? 'unmatched'}`,
    outcome,
    error,
    requestId: req.id,
    traceId: traceIdOf(req),
    lineageId: req.lineageId,
    input: req.routeOptions.config?.auditInput === false ? undefined : req.body,
    output: extra.output,
    decision: auditDecision(extra.decision ?? a?.decision),
  };
}

/** The namespace of an authenticated request. */
export function namespaceOf(req: FastifyRequest): string {
  if (!req.aiosAuth) throw new AiosError('AIOS_INTERNAL', 'route reached without the guard');
  return req.aiosAuth.ns;
}

