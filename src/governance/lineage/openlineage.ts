import { v5 } from 'uuid';
import { toRfc3339 } from '../../core/index.ts';
import type { LineageGraph, LineageKind, LineageNode } from './lineage.ts';

/**
 * Export of a lineage graph as OpenLineage RunEvents (spec 2-0-2), for Marquez, DataHub and the
 * like. The mapping:
 *
 * - Activities (ingest, api_call, feature, inference, decision, human_task, workflow_step,
 *   external_action) are runs: one COMPLETE event each, runId = node id, job `<kind>.<name>`.
 * - Artefacts (event, dataset, model) are datasets named `<kind>.<name>` (the kind keeps a topic
 *   and a model of the same name apart). The node's ref, e.g. `topic:vibration@0:12-0:15` or a
 *   model version, becomes the standard `version` dataset facet: OpenLineage identifies a dataset
 *   by a stable name and tells versions apart by that facet, so a thousand event slices of one
 *   topic stay one dataset in the consumer's graph.
 * - A run feeding a run (inference → decision) becomes a synthetic dataset
 *   `<upstream kind>.<upstream name>.output`, listed as an output of the upstream run and an input
 *   of the downstream one, versioned by the upstream runId so the exact run can be found again.
 *   Not the `parent` run facet: that means containment (a task inside a DAG run), and consumers
 *   nest runs by it, whereas these edges are data flow and causation.
 * - Dataset → dataset edges have no run to carry them and are not exported.
 */

export const OPENLINEAGE_RUN_EVENT_SCHEMA = 'https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent';
const VERSION_FACET_SCHEMA = 'https://openlineage.io/spec/facets/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet';
const DEFAULT_PRODUCER = 'https://github.com/aios/aios';
/** Namespace for deriving a UUID from a node id that is not one (only with an injected id generator). */
const RUN_ID_NAMESPACE = '6f1d7c2e-8b4a-5e3f-9c1d-2a7b8e4f0c13';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const RUN_KINDS: ReadonlySet<LineageKind> = new Set(['ingest', 'api_call', 'feature', 'inference', 'decision', 'human_task', 'workflow_step', 'external_action']);
const DATASET_KINDS: ReadonlySet<LineageKind> = new Set(['event', 'dataset', 'model']);

export interface OpenLineageDataset {
  readonly namespace: string;
  readonly name: string;
  readonly facets: {
    readonly version?: { readonly _producer: string; readonly _schemaURL: string; readonly datasetVersion: string };
  };
}

export interface OpenLineageRunEvent {
  readonly eventType: 'COMPLETE';
  /** RFC 3339. */
  readonly eventTime: string;
  readonly run: { readonly runId: string; readonly facets: Record<string, never> };
  readonly job: { readonly namespace: string; readonly name: string; readonly facets: Record<string, never> };
  readonly inputs: OpenLineageDataset[];
  readonly outputs: OpenLineageDataset[];
  readonly producer: string;
  readonly schemaURL: string;
}

export interface OpenLineageOptions {
  /** URI of the producing software. */
  readonly producer?: string;
  /** OpenLineage namespace of jobs and datasets; the AIOS namespace of the nodes when absent. */
  readonly namespace?: string;
}

/**
 * One OpenLineage RunEvent per activity node of `graph`, oldest first.
 *
 * @example
 * const events = toOpenLineage(await lineage.graph(ns, lineageId), { namespace: 'aios://plant-a' });
 * // [{ eventType: 'COMPLETE', job: { name: 'inference.bearing-rul', ... }, inputs: [{ name: 'event.vibration', ... }], ... }]
 */
export function toOpenLineage(graph: LineageGraph, opts: OpenLineageOptions = {}): OpenLineageRunEvent[] {
  const producer = opts.producer ?? DEFAULT_PRODUCER;
  const byId = new Map<string, LineageNode>(graph.nodes.map((n) => [n.id, n]));
  const nsOf = (n: LineageNode) => opts.namespace ?? n.ns;
  const versioned = (n: LineageNode, name: string, version: string | null): OpenLineageDataset => ({
    namespace: nsOf(n),
    name,
    facets: version === null ? {} : { version: { _producer: producer, _schemaURL: VERSION_FACET_SCHEMA, datasetVersion: version } },
  });
  const artefact = (n: LineageNode) => versioned(n, `${n.kind}.${n.name}`, n.ref);
  const handoff = (upstreamRun: LineageNode) => versioned(upstreamRun, `${upstreamRun.kind}.${upstreamRun.name}.output`, runIdOf(upstreamRun.id));

  const inputs = new Map<string, OpenLineageDataset[]>();
  const outputs = new Map<string, OpenLineageDataset[]>();
  const add = (to: Map<string, OpenLineageDataset[]>, runId: string, d: OpenLineageDataset) => {
    const list = to.get(runId) ?? [];
    const key = (x: OpenLineageDataset) => `${x.namespace}\n${x.name}\n${x.facets.version?.datasetVersion ?? ''}`;
    if (!list.some((x) => key(x) === key(d))) list.push(d);
    to.set(runId, list);
  };
  for (const e of graph.edges) {
    const from = byId.get(e.fromId);
    const to = byId.get(e.toId);
    if (!from || !to) continue;
    const fromRun = RUN_KINDS.has(from.kind);
    const toRun = RUN_KINDS.has(to.kind);
    if (DATASET_KINDS.has(from.kind) && toRun) add(inputs, to.id, artefact(from));
    else if (fromRun && DATASET_KINDS.has(to.kind)) add(outputs, from.id, artefact(to));
    else if (fromRun && toRun) {
      add(outputs, from.id, handoff(from));
      add(inputs, to.id, handoff(from));
    }
  }

  return graph.nodes
    .filter((n) => RUN_KINDS.has(n.kind))
    .map((n) => ({
      eventType: 'COMPLETE' as const,
      eventTime: toRfc3339(n.createdAt),
      run: { runId: runIdOf(n.id), facets: {} },
      job: { namespace: nsOf(n), name: `${n.kind}.${n.name}`, facets: {} },
      inputs: inputs.get(n.id) ?? [],
      outputs: outputs.get(n.id) ?? [],
      producer,
      schemaURL: OPENLINEAGE_RUN_EVENT_SCHEMA,
    }));
}

/**
 * The same events as newline-delimited JSON (one event a line, trailing newline), for files and
 * bulk loads into a lineage backend.
 *
 * @example writeFileSync('lineage.ndjson', toOpenLineageNdjson(graph));
 */
export function toOpenLineageNdjson(graph: LineageGraph, opts: OpenLineageOptions = {}): string {
  return toOpenLineage(graph, opts).map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** Node ids are UUIDv7 already; anything else (an injected id generator) gets a stable UUIDv5. */
function runIdOf(id: string): string {
  return UUID.test(id) ? id : v5(id, RUN_ID_NAMESPACE);
}
