import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AiosError, parseTime, toRfc3339 } from '../../core/index.ts';
import { entryProblem, type AuditRecord, type WitnessEntry } from '../index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { ProblemSchema } from '../../http/index.ts';
import { pageOf, pagedList, pageSchema } from '../../http/index.ts';

const AuditOut = Type.Object({
  seq: Type.Integer(),
  time: Type.String({ format: 'date-time' }),
  namespace: Type.String(),
  actor: Type.Object({ type: Type.String(), id: Type.String(), authMethod: Type.String(), keyId: Type.Optional(Type.Union([Type.String(), Type.Null()])) }),
  action: Type.String(),
  resource: Type.String(),
  outcome: Type.String(),
  error: Type.Union([Type.String(), Type.Null()]),
  requestId: Type.Union([Type.String(), Type.Null()]),
  traceId: Type.Union([Type.String(), Type.Null()]),
  lineageId: Type.Union([Type.String(), Type.Null()]),
  inputHash: Type.Union([Type.String(), Type.Null()]),
  outputHash: Type.Union([Type.String(), Type.Null()]),
  decision: Type.Union([Type.Object({ decision: Type.String(), policySetHash: Type.String(), policyIds: Type.Array(Type.String()) }), Type.Null()]),
  prevHash: Type.String(),
  recordHash: Type.String(),
});

const Filter = Type.Object({
  actor: Type.Optional(Type.String({ maxLength: 300, description: 'principal, by namespace and id: plant-a/ana, */admin, or anonymous' })),
  action: Type.Optional(Type.String({ maxLength: 100 })),
  resource: Type.Optional(Type.String({ maxLength: 300, description: '<type>:<id>, e.g. Topic:vibration' })),
  from: Type.Optional(Type.String({ description: 'RFC 3339, inclusive' })),
  to: Type.Optional(Type.String({ description: 'RFC 3339, exclusive' })),
  lineageId: Type.Optional(Type.String({ maxLength: 200 })),
  after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, description: 'the seq of the last record of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 100 })),
});

function time(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = parseTime(v);
  if (t === undefined) throw new AiosError('AIOS_VALIDATION', `${name} must be an RFC 3339 timestamp`, { errors: [{ path: `/querystring/${name}`, message: 'must be RFC 3339' }] });
  return t;
}

function filterOf(q: { actor?: string; action?: string; resource?: string; from?: string; to?: string; lineageId?: string; after?: number }) {
  return { actorId: q.actor, action: q.action, resource: q.resource, from: time('from', q.from), to: time('to', q.to), lineageId: q.lineageId, after: q.after };
}

export function auditOut(r: AuditRecord) {
  const { ns, time: t, decision, ...rest } = r;
  return { ...rest, namespace: ns, time: toRfc3339(t), decision: decision ? { ...decision, policyIds: [...decision.policyIds] } : null };
}

export function auditRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const audit = deps.governance.audit;

    app.get(
      '/audit',
      {
        config: { action: 'audit:read' },
        schema: {
          tags: ['audit'],
          summary: 'Audit records of the namespace, by principal, action, resource, time and lineage id, in seq order',
          querystring: Filter,
          response: { 200: pageSchema('records', AuditOut, Type.Integer()), 400: ProblemSchema },
        },
      },
      async (req) => pagedList('records', req.query.limit, async (limit) => pageOf(await audit.query(namespaceOf(req), { ...filterOf(req.query), limit }), limit, (r) => r.seq), auditOut),
    );

    app.get(
      '/audit/export',
      {
        config: { action: 'audit:read' },
        schema: { tags: ['audit'], summary: 'The same records as NDJSON, one per line, streamed', querystring: Type.Omit(Filter, ['limit']) },
      },
      async (req, reply) => {
        const ns = namespaceOf(req);
        const filter = filterOf(req.query);
        // Paged by seq, so memory stays flat however many records match; same shape as GET /audit.
        async function* lines() {
          let after = filter.after;
          for (;;) {
            const page = await audit.query(ns, { ...filter, after, limit: 1000 });
            for (const r of page) yield `${JSON.stringify(auditOut(r))}\n`;
            if (page.length < 1000) return;
            after = page[page.length - 1].seq;
          }
        }
        return reply.type('application/x-ndjson').send(Readable.from(lines()));
      },
    );

    const Verification = Type.Object({
      ok: Type.Boolean(),
      records: Type.Integer(),
      checkpoints: Type.Integer(),
      unchainedCheckpoints: Type.Integer(),
      covered: Type.Integer({ description: 'records covered by the newest checkpoint whose signature holds' }),
      witnessed: Type.Integer({ description: 'witness entries checked' }),
      problems: Type.Array(Type.Object({ seq: Type.Union([Type.Integer(), Type.Null()]), kind: Type.String(), message: Type.String() })),
    });
    const verifyConfig = { action: 'audit:verify' as const, resource: () => ({ type: 'AuditLog' as const, id: '*', namespace: '*' }) };

    app.get(
      '/audit/verify',
      {
        config: verifyConfig,
        schema: {
          tags: ['audit'],
          summary: 'Verify the whole chain, the chain of signed checkpoints and their cover; names each broken record',
          response: { 200: Verification },
        },
      },
      async () => {
        const v = await deps.governance.verifyAudit();
        return { ...v, problems: [...v.problems] };
      },
    );

    app.post(
      '/audit/verify',
      {
        config: verifyConfig,
        schema: {
          tags: ['audit'],
          summary: 'The same, and the database against a witness: the witnessed checkpoints, as NDJSON (one per line, as a witness file holds them) or a JSON array',
          body: Type.Array(Type.Unknown(), { maxItems: MAX_WITNESS_ENTRIES }),
          response: { 200: Verification, 400: ProblemSchema },
        },
      },
      async (req) => {
        const entries = witnessEntriesOf(req.body);
        const v = await deps.governance.verifyAudit({ witness: { entries } });
        return { ...v, problems: [...v.problems] };
      },
    );
  };
}

/** A witness signed every minute for a year holds about 525,000; one body carries at most this many. */
const MAX_WITNESS_ENTRIES = 1_000_000;

function witnessEntriesOf(body: readonly unknown[]): WitnessEntry[] {
  const errors: { path: string; message: string }[] = [];
  body.forEach((value, i) => {
    const why = entryProblem(value);
    if (why && errors.length < 20) errors.push({ path: `/body/${i}`, message: why });
  });
  if (errors.length) throw new AiosError('AIOS_VALIDATION', `the witness has entries that are not signed checkpoints (the first: entry ${errors[0].path.slice(6)}: ${errors[0].message})`, { errors });
  return body as WitnessEntry[];
}
