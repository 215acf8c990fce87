import type { LineageEdge, LineageKind, LineageNode } from './lineage.ts';

/** Row shapes of migration 0005, for `Kysely<LineageTables>`. Times are epoch ms. */
export interface LineageNodeRow {
  id: string;
  ns: string;
  lineage_id: string;
  kind: string;
  name: string;
  ref: string | null;
  attrs: string | null;
  created_at: number;
}

export interface LineageEdgeRow {
  ns: string;
  from_id: string;
  to_id: string;
  kind: string;
  created_at: number;
}

export interface LineageTables {
  aios_lineage_nodes: LineageNodeRow;
  aios_lineage_edges: LineageEdgeRow;
}

export function toNode(r: LineageNodeRow): LineageNode {
  return {
    id: r.id,
    ns: r.ns,
    lineageId: r.lineage_id,
    kind: r.kind as LineageKind,
    name: r.name,
    ref: r.ref,
    attrs: r.attrs === null ? null : JSON.parse(r.attrs),
    // PostgreSQL's int8 is parsed as a number by the pool; Number() also covers a driver that does not.
    createdAt: Number(r.created_at),
  };
}

export function toEdge(r: LineageEdgeRow): LineageEdge {
  return { ns: r.ns, fromId: r.from_id, toId: r.to_id, kind: r.kind, createdAt: Number(r.created_at) };
}
