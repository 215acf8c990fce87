/** The kinds of lineage node. Later capabilities record their nodes under one of these. */
export const LINEAGE_KINDS = [
  'ingest',
  'api_call',
  'event',
  'feature',
  'inference',
  'decision',
  'human_task',
  'workflow_step',
  'external_action',
  'model',
  'dataset',
] as const;

export type LineageKind = (typeof LINEAGE_KINDS)[number];

/** One recorded thing in a lineage: an activity (inference, decision...) or an artefact (event, model). */
export interface LineageNode {
  /** UUIDv7, minted by the store. */
  readonly id: string;
  readonly ns: string;
  readonly lineageId: string;
  readonly kind: LineageKind;
  readonly name: string;
  /** Where to find the thing itself, e.g. `topic:vibration@0:12-0:15`, a model version, a workflow step. */
  readonly ref: string | null;
  readonly attrs: Readonly<Record<string, unknown>> | null;
  /** Epoch milliseconds. */
  readonly createdAt: number;
}

/** `from` fed `to` (data flow and causation point the same way: upstream → downstream). */
export interface LineageEdge {
  readonly ns: string;
  readonly fromId: string;
  readonly toId: string;
  /** e.g. 'input', 'caused', 'produced'. */
  readonly kind: string;
  readonly createdAt: number;
}

export type LineageDirection = 'self' | 'upstream' | 'downstream';

/** A node as a graph walk found it: the start itself, an ancestor, or a descendant. */
export interface LineageGraphNode extends LineageNode {
  readonly direction: LineageDirection;
}

export interface LineageGraph {
  /** The lineage id asked for, or the lineage id of the node asked for. */
  readonly lineageId: string;
  readonly nodes: readonly LineageGraphNode[];
  /** Only edges whose two ends are both in `nodes`. */
  readonly edges: readonly LineageEdge[];
  /** True when the walk stopped at `limit` nodes; the graph goes on beyond what is returned. */
  readonly truncated: boolean;
}

/** What a caller hands to `LineageStore.record`. */
export interface LineageInput {
  readonly ns: string;
  readonly lineageId: string;
  readonly kind: LineageKind;
  readonly name: string;
  readonly ref?: string | null;
  readonly attrs?: Readonly<Record<string, unknown>> | null;
  /** Ids of upstream nodes in the same namespace; an edge is recorded from each. */
  readonly inputs?: readonly string[];
  /** Kind of the edges from `inputs`; 'input' when absent. */
  readonly edgeKind?: string;
}

const LINEAGE_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * Whether `s` can serve as a lineage id. Looser than a UUID on purpose: clients bring ids from
 * upstream systems (MES order numbers, OPC UA node ids, trace ids), and we keep theirs.
 *
 * @example isValidLineageId('mes:order-4711') // true
 */
/** The header that carries a request's lineage id in, and out on its answer and its events. */
export const LINEAGE_HEADER = 'x-aios-lineage-id';

export function isValidLineageId(s: unknown): s is string {
  return typeof s === 'string' && LINEAGE_ID.test(s);
}
