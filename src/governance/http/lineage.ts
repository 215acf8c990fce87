import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import { toOpenLineage } from '../index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { ProblemSchema } from '../../http/index.ts';

const LineageParams = Type.Object({ id: Type.String({ pattern: '^[A-Za-z0-9._:-]{1,200}$', description: 'a lineage id or a node id' }) });
const GraphQuery = Type.Object({ depth: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, default: 10 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10000, default: 1000 })) });

const NodeOut = Type.Object({
  id: Type.String(),
  lineageId: Type.String(),
  kind: Type.String(),
  name: Type.String(),
  ref: Type.Union([Type.String(), Type.Null()]),
  attrs: Type.Unknown(),
  createdAt: Type.String({ format: 'date-time' }),
  direction: Type.String({ description: 'self, upstream or downstream of what was asked for' }),
});

export function lineageRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const lineage = deps.governance.lineage;

    app.get(
      '/lineage/:id',
      {
        config: { action: 'lineage:read' },
        schema: {
          tags: ['lineage'],
          summary: 'The lineage graph around a lineage id or node id: what it came from and what it led to',
          params: LineageParams,
          querystring: GraphQuery,
          response: {
            200: Type.Object({ lineageId: Type.String(), nodes: Type.Array(NodeOut), edges: Type.Array(Type.Object({ from: Type.String(), to: Type.String(), kind: Type.String() })) }),
            404: ProblemSchema,
          },
        },
      },
      async (req) => {
        const g = await lineage.graph(namespaceOf(req), req.params.id, { depth: req.query.depth, limit: req.query.limit });
        return {
          lineageId: g.lineageId,
          nodes: g.nodes.map((n) => ({ id: n.id, lineageId: n.lineageId, kind: n.kind, name: n.name, ref: n.ref ?? null, attrs: n.attrs ?? null, createdAt: toRfc3339(n.createdAt), direction: n.direction })),
          edges: g.edges.map((e) => ({ from: e.fromId, to: e.toId, kind: e.kind })),
        };
      },
    );

    app.get(
      '/lineage/:id/openlineage',
      {
        config: { action: 'lineage:read' },
        schema: { tags: ['lineage'], summary: 'The same graph as OpenLineage run events (spec 2-0-2)', params: LineageParams, querystring: GraphQuery, response: { 200: Type.Object({ events: Type.Array(Type.Unknown()) }), 404: ProblemSchema } },
      },
      async (req) => {
        const ns = namespaceOf(req);
        const g = await lineage.graph(ns, req.params.id, { depth: req.query.depth, limit: req.query.limit });
        return { events: toOpenLineage(g, { namespace: `aios://${ns}` }) };
      },
    );
  };
}
