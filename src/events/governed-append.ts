import type { AuditInput, AuditTrail, LineageInput, LineageStore } from '../governance/index.ts';
import type { AppendResult, EventLog } from './event-log.ts';
import type { AppendedPosition, CommitHook } from './event-store.ts';

/** The event header that carries the lineage id of whatever brought the event in (also the HTTP header). */
import { LINEAGE_HEADER } from '../governance/index.ts';

export { LINEAGE_HEADER };

/** What an append records about itself: governance's audit trail and lineage. */
export interface AppendRecorders {
  readonly audit: Pick<AuditTrail, 'recordIn'>;
  readonly lineage: Pick<LineageStore, 'recordIn' | 'record'>;
}

export interface GovernedAppendRequest {
  readonly ns: string;
  readonly topic: string;
  /** The events as given; each is validated against the topic's contract. */
  readonly items: readonly unknown[];
  /** One rejected event refuses them all. */
  readonly atomic?: boolean;
  /** The caller's lineage id: stamped on events that bring none, and the id of the ingest node. */
  readonly lineageId: string;
  /** The request's audit record, its output the positions written; none without it. */
  readonly audit?: AuditInput;
}

export interface GovernedAppendResult {
  readonly result: AppendResult;
  /** Whether the audit record was committed with the events (else the caller records it). */
  readonly audited: boolean;
}

/**
 * Appends a request's events with what governance keeps about them: an ingest lineage node
 * naming what was appended and, when given, the request's audit record. With the event log in
 * the database both commit in the events' own transaction, on either engine: an acknowledged
 * append always has them, a rolled-back one neither. On NATS, which has no such transaction, the
 * node is written right after the publish and the audit record is left to the caller
 * (`audited: false`), both before the answer.
 *
 * @example
 * const { result, audited } = await governedAppend(events, governance, { ns, topic: 'vibration', items, lineageId, audit: entry });
 */
export async function governedAppend(log: EventLog, recorders: AppendRecorders, req: GovernedAppendRequest): Promise<GovernedAppendResult> {
  const items = req.items.map((it) => withLineage(it, req.lineageId));
  // Every item not in `positions` was rejected: the event log writes all accepted items in one batch.
  const node = (positions: readonly { partition: number; offset: number }[]): LineageInput => ({
    ns: req.ns,
    lineageId: req.lineageId,
    kind: 'ingest',
    name: req.topic,
    ref: `topic:${req.topic}`,
    attrs: { accepted: positions.length, rejected: items.length - positions.length, positions: positionsSummary(positions) },
  });
  if (!log.commitHooks) {
    const result = await log.append(req.ns, req.topic, items, { atomic: req.atomic });
    if (result.accepted.length) await recorders.lineage.record(node(result.accepted));
    return { result, audited: false };
  }
  const audit = req.audit;
  const onCommit: CommitHook = async (tx, positions: readonly AppendedPosition[]) => {
    if (audit) await recorders.audit.recordIn(tx, { ...audit, output: positions });
    await recorders.lineage.recordIn(tx, node(positions));
  };
  const result = await log.append(req.ns, req.topic, items, { atomic: req.atomic, onCommit });
  return { result, audited: audit !== undefined && result.accepted.length > 0 };
}

/** Events carry the lineage id of the request that brought them in, unless they bring their own. */
function withLineage(item: unknown, lineageId: string): unknown {
  if (!item || typeof item !== 'object' || Array.isArray(item)) return item;
  const headers = (item as { headers?: unknown }).headers;
  if (headers === undefined) return { ...item, headers: { [LINEAGE_HEADER]: lineageId } };
  if (headers && typeof headers === 'object' && !Array.isArray(headers) && !(LINEAGE_HEADER in headers)) return { ...item, headers: { ...headers, [LINEAGE_HEADER]: lineageId } };
  return item;
}

/** `partition:first-last` per partition, so the lineage node names what the request appended. */
function positionsSummary(accepted: readonly { partition: number; offset: number }[]): string[] {
  const ranges = new Map<number, [number, number]>();
  for (const a of accepted) {
    const r = ranges.get(a.partition);
    ranges.set(a.partition, r ? [Math.min(r[0], a.offset), Math.max(r[1], a.offset)] : [a.offset, a.offset]);
  }
  return [...ranges].map(([p, [a, b]]) => `${p}:${a}-${b}`);
}
