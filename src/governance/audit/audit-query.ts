import { AiosError } from '../../core/index.ts';
import type { AuditRecord } from './audit-record.ts';
import { rowToRecord, type AuditDb } from './audit-rows.ts';

/** Filters of {@link queryAuditLog}; all optional but `limit`, combined with AND. */
export interface AuditQuery {
  readonly actorId?: string;
  readonly action?: string;
  readonly resource?: string;
  /** Epoch ms, inclusive. */
  readonly from?: number;
  /** Epoch ms, exclusive. */
  readonly to?: number;
  readonly lineageId?: string;
  /** Only records with a larger seq: the cursor for the next page. */
  readonly after?: number;
  /** 1..10,000. */
  readonly limit: number;
}

export const MAX_AUDIT_QUERY_LIMIT = 10_000;

/** The namespace that matches every namespace (for operators, never for tenants). */
export const ALL_NAMESPACES = '*';

/**
 * Records of namespace `ns` (or every namespace for '*') matching `filter`, in seq order. Each
 * filter has an index led by (ns, ...), so a tenant's query never scans other tenants' records.
 */
export async function queryAuditLog(db: AuditDb, ns: string, filter: AuditQuery): Promise<AuditRecord[]> {
  const { limit } = filter;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_AUDIT_QUERY_LIMIT) {
    throw new AiosError('AIOS_BAD_REQUEST', `limit must be an integer from 1 to ${MAX_AUDIT_QUERY_LIMIT}, got ${limit}`);
  }
  let q = db.selectFrom('aios_audit_log').selectAll();
  if (ns !== ALL_NAMESPACES) q = q.where('ns', '=', ns);
  if (filter.actorId !== undefined) q = q.where('actor_id', '=', filter.actorId);
  if (filter.action !== undefined) q = q.where('action', '=', filter.action);
  if (filter.resource !== undefined) q = q.where('resource', '=', filter.resource);
  if (filter.lineageId !== undefined) q = q.where('lineage_id', '=', filter.lineageId);
  if (filter.from !== undefined) q = q.where('time', '>=', filter.from);
  if (filter.to !== undefined) q = q.where('time', '<', filter.to);
  if (filter.after !== undefined) q = q.where('seq', '>', filter.after);
  const rows = await q.orderBy('seq').limit(limit).execute();
  return rows.map(rowToRecord);
}
