export { LineageStore } from './lineage-store.ts';
export type { LineageStoreOptions, LineageGraphOptions } from './lineage-store.ts';
export { LINEAGE_HEADER, LINEAGE_KINDS, isValidLineageId } from './lineage.ts';
export type { LineageNode, LineageEdge, LineageGraph, LineageGraphNode, LineageDirection, LineageKind, LineageInput } from './lineage.ts';
export { toOpenLineage, toOpenLineageNdjson, OPENLINEAGE_RUN_EVENT_SCHEMA } from './openlineage.ts';
export type { OpenLineageRunEvent, OpenLineageDataset, OpenLineageOptions } from './openlineage.ts';
