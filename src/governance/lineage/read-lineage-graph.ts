import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import type { LineageDirection, LineageGraph, LineageGraphNode } from './lineage.ts';
import { toEdge, toNode, type LineageEdgeRow, type LineageNodeRow, type LineageTables } from './lineage-tables.ts';
import { GovernanceError } from '../errors.ts';

/**
 * Ids per `in (...)` list. Well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters
 * even when the edge query adds the whole result set (at most the store's 10,000-node cap).
 */
const CHUNK = 500;

/**
 * Reads the lineage graph around `id` (a lineage id, else a node id) in namespace `ns`.
 *
 * Breadth-first in application code, one query per hop and direction, rather than one
 * `WITH RECURSIVE` query: a recursive CTE enumerates paths, not nodes, so a diamond-shaped
 * lineage (many events → one feature → many inferences) multiplies rows at every hop, and it
 * cannot stop at `limit` distinct nodes. With depth ≤ 10 that is at most 20 round trips, each an
 * index range scan: edges (ns, to_id) upstream, the (from_id, to_id) primary key downstream.
 *
 * Namespaces are never crossed: both the edge and the node at its far end must be in `ns`, so even
 * an edge written by hand to another namespace's node leads nowhere.
 */
export async function readLineageGraph(db: Kysely<LineageTables>, ns: string, id: string, depth: number, limit: number): Promise<LineageGraph> {
  let truncated = false;
  // A lineage id first; a node id only when no node carries that lineage id.
  let seeds = (await db
    .selectFrom('aios_lineage_nodes')
    .selectAll()
    .where('ns', '=', ns)
    .where('lineage_id', '=', id)
    .orderBy('created_at')
    .orderBy('id')
    .limit(limit + 1)
    .execute()) as LineageNodeRow[];
  let lineageId = id;
  if (seeds.length === 0) {
    seeds = (await db.selectFrom('aios_lineage_nodes').selectAll().where('ns', '=', ns).where('id', '=', id).execute()) as LineageNodeRow[];
    // A node of another namespace is reported exactly like one that does not exist.
    if (seeds.length === 0) throw new GovernanceError('AIOS_LINEAGE_NOT_FOUND', `no lineage id or lineage node '${id}' is recorded in namespace '${ns}'`);
    lineageId = seeds[0].lineage_id;
  }
  if (seeds.length > limit) {
    seeds = seeds.slice(0, limit);
    truncated = true;
  }

  const found = new Map<string, LineageGraphNode>();
  for (const r of seeds) found.set(r.id, { ...toNode(r), direction: 'self' });

  // Each direction keeps its own visited set, so a node already found upstream (only possible
  // through a cycle) is still expanded downstream; `found` keeps the first direction that reached it.
  for (const direction of ['upstream', 'downstream'] as const) {
    const visited = new Set(seeds.map((s) => s.id));
    let frontier = [...visited];
    for (let hop = 1; hop <= depth && frontier.length > 0 && !truncated; hop++) {
      const next: string[] = [];
      for (let i = 0; i < frontier.length && !truncated; i += CHUNK) {
        // Enough rows to find `limit - found.size` new nodes even if every found node comes back too;
        // getting all of them proves the limit is exceeded.
        const cap = limit + 1 + found.size;
        const rows = await neighbours(db, ns, direction, frontier.slice(i, i + CHUNK), cap);
        for (const r of rows) {
          if (visited.has(r.id)) continue;
          visited.add(r.id);
          if (!found.has(r.id)) {
            if (found.size >= limit) {
              truncated = true;
              break;
            }
            found.set(r.id, { ...toNode(r), direction });
          }
          next.push(r.id);
        }
      }
      frontier = next;
    }
  }

  const ids = [...found.keys()];
  const edges: LineageEdgeRow[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = (await db
      .selectFrom('aios_lineage_edges')
      .selectAll()
      .where('ns', '=', ns)
      .where('from_id', 'in', ids.slice(i, i + CHUNK))
      .where('to_id', 'in', ids)
      .execute()) as LineageEdgeRow[];
    edges.push(...rows);
  }

  return {
    lineageId,
    // Oldest first; UUIDv7 ids break ties in creation order too.
    nodes: [...found.values()].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id)),
    edges: edges.map(toEdge).sort((a, b) => a.createdAt - b.createdAt || a.fromId.localeCompare(b.fromId) || a.toId.localeCompare(b.toId)),
    truncated,
  };
}

/** The distinct nodes one edge away from `ids`, in `ns`: their sources upstream, their targets downstream. */
async function neighbours(db: Kysely<LineageTables>, ns: string, direction: Exclude<LineageDirection, 'self'>, ids: string[], cap: number): Promise<LineageNodeRow[]> {
  const [near, far] = direction === 'upstream' ? (['e.to_id', 'e.from_id'] as const) : (['e.from_id', 'e.to_id'] as const);
  return (await db
    .selectFrom('aios_lineage_edges as e')
    .innerJoin('aios_lineage_nodes as n', 'n.id', far)
    .selectAll('n')
    .distinct()
    .where('e.ns', '=', ns)
    .where('n.ns', '=', ns)
    .where(near, 'in', ids)
    .orderBy('n.created_at')
    .orderBy('n.id')
    .limit(cap)
    .execute()) as LineageNodeRow[];
}
