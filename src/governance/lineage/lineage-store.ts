import { sql, type Kysely } from 'kysely';
import { AiosError, uuidv7, type Clock, type IdGenerator } from '../../core/index.ts';
import { translateDbError, type Database, type SharedDb, type Tx } from '../../storage/index.ts';
import { isValidLineageId, LINEAGE_KINDS, type LineageEdge, type LineageGraph, type LineageInput, type LineageKind, type LineageNode } from './lineage.ts';
import { toEdge, toNode, type LineageNodeRow, type LineageTables } from './lineage-tables.ts';
import { readLineageGraph } from './read-lineage-graph.ts';
import { GovernanceError } from '../errors.ts';

export interface LineageStoreOptions {
  readonly database: Database;
  readonly clock: Clock;
  /** Mints node ids and lineage ids; UUIDv7 unless a test injects its own. */
  readonly newId?: IdGenerator;
}

export interface LineageGraphOptions {
  /** Hops to walk in each direction; 0 returns the start nodes only. Default 10, at most 100. */
  readonly depth?: number;
  /** Most nodes returned; beyond it `truncated` is true. Default 1000, at most 10,000. */
  readonly limit?: number;
}

const KINDS: ReadonlySet<string> = new Set(LINEAGE_KINDS);
const EDGE_KIND = /^[A-Za-z0-9._:-]{1,64}$/;
const MAX_ATTRS_BYTES = 64 * 1024;
const MAX_INPUTS = 1000;

/**
 * Records lineage nodes and edges, and reads the graph around a lineage id or node. The one API
 * through which every capability (ingest, features, inference, decisions, tasks, workflows,
 * actions) adds to lineage.
 *
 * @example
 * const lineage = new LineageStore({ database, clock: systemClock });
 * const lineageId = lineage.mintLineageId();
 * const ingest = await lineage.record({ ns, lineageId, kind: 'ingest', name: 'opcua-gateway' });
 * const event = await lineage.record({ ns, lineageId, kind: 'event', name: 'vibration', ref: 'topic:vibration@0:12-0:15', inputs: [ingest.id], edgeKind: 'produced' });
 * const { nodes, edges } = await lineage.graph(ns, lineageId);
 */
export class LineageStore {
  readonly #database: Database;
  readonly #db: Kysely<LineageTables>;
  readonly #clock: Clock;
  readonly #newId: IdGenerator;

  constructor(opts: LineageStoreOptions) {
    this.#database = opts.database;
    this.#db = opts.database.db as Kysely<LineageTables>;
    this.#clock = opts.clock;
    this.#newId = opts.newId ?? uuidv7;
  }

  /** A fresh lineage id (UUIDv7), for an ingestion or API call that did not bring one. */
  mintLineageId(): string {
    return this.#newId();
  }

  /** Whether a client-supplied lineage id is acceptable: 1–200 characters of `[A-Za-z0-9._:-]`. */
  isValidLineageId(s: unknown): s is string {
    return isValidLineageId(s);
  }

  /**
   * Records a node and an edge from each of `inputs` (upstream nodes of the same namespace).
   * With `opts.trx`, a Kysely transaction open on the same database, writes inside it, so the
   * node commits or rolls back with the work it describes (as `recordIn`); otherwise in a
   * transaction of its own.
   *
   * @example
   * await db.transaction().execute(async (trx) => {
   *   await completeStep(trx, step);
   *   await lineage.record({ ns, lineageId, kind: 'workflow_step', name: 'notify', ref: `wf:${runId}/step:3`, inputs: [decision.id] }, { trx });
   * });
   */
  async record(node: LineageInput, opts: { trx?: SharedDb } = {}): Promise<LineageNode> {
    const input = validateInput(node);
    try {
      if (opts.trx) return await this.#write(this.#database.joinTransaction(opts.trx), input);
      return await this.#database.transaction((tx) => this.#write(tx, input));
    } catch (e) {
      throw translateDbError(e);
    }
  }

  /**
   * Records a node (and its input edges) inside a transaction the caller holds, on either
   * engine, so that it commits with the work it describes or not at all: an append's ingest
   * node, in the events' own transaction and the same fsync; a workflow step's, with its journal.
   *
   * @example
   * const onCommit: CommitHook = async (tx, positions) => { await lineage.recordIn(tx, { ns, lineageId, kind: 'ingest', name: topic, attrs: { accepted: positions.length } }); };
   */
  async recordIn(tx: Tx, node: LineageInput): Promise<LineageNode> {
    try {
      return await this.#write(tx, validateInput(node));
    } catch (e) {
      throw translateDbError(e);
    }
  }

  async #write(tx: Tx, input: ValidInput): Promise<LineageNode> {
    const row: LineageNodeRow = {
      id: this.#newId(),
      ns: input.ns,
      lineage_id: input.lineageId,
      kind: input.kind,
      name: input.name,
      ref: input.ref,
      attrs: input.attrs,
      created_at: this.#clock.now(),
    };
    await this.#requireNodes(tx, input.ns, input.inputs);
    await tx.run(sql`insert into aios_lineage_nodes (id, ns, lineage_id, kind, name, ref, attrs, created_at)
      values (${row.id}, ${row.ns}, ${row.lineage_id}, ${row.kind}, ${row.name}, ${row.ref}, ${row.attrs}, ${row.created_at})`);
    if (input.inputs.length > 0) {
      const edges = input.inputs.map((from) => sql`(${input.ns}, ${from}, ${row.id}, ${input.edgeKind}, ${row.created_at})`);
      await tx.run(sql`insert into aios_lineage_edges (ns, from_id, to_id, kind, created_at) values ${sql.join(edges)}`);
    }
    return toNode(row);
  }

  /**
   * Adds an edge between two existing nodes of `ns` (for links known only after both were
   * recorded). Linking the same pair again keeps the first edge and returns it.
   *
   * @example await lineage.link(ns, inference.id, decision.id, 'caused');
   */
  async link(ns: string, fromId: string, toId: string, kind = 'input'): Promise<LineageEdge> {
    requireNs(ns);
    if (typeof fromId !== 'string' || typeof toId !== 'string' || fromId === toId) {
      throw new AiosError('AIOS_BAD_REQUEST', 'a lineage edge joins two different node ids');
    }
    if (typeof kind !== 'string' || !EDGE_KIND.test(kind)) throw new AiosError('AIOS_BAD_REQUEST', `edge kind must be 1–64 characters of [A-Za-z0-9._:-], got ${JSON.stringify(kind)}`);
    try {
      return await this.#database.transaction(async (tx) => {
        await this.#requireNodes(tx, ns, [fromId, toId]);
        const trx = tx.db as Kysely<LineageTables>;
        await trx
          .insertInto('aios_lineage_edges')
          .values({ ns, from_id: fromId, to_id: toId, kind, created_at: this.#clock.now() })
          .onConflict((oc) => oc.columns(['from_id', 'to_id']).doNothing())
          .execute();
        return toEdge(await trx.selectFrom('aios_lineage_edges').selectAll().where('from_id', '=', fromId).where('to_id', '=', toId).executeTakeFirstOrThrow());
      });
    } catch (e) {
      throw translateDbError(e);
    }
  }

  /**
   * The graph around `id` (a lineage id, or else a node id) in `ns`: the start nodes, then
   * everything upstream and downstream of them up to `depth` hops, across lineage ids but never
   * across namespaces. Throws AIOS_LINEAGE_NOT_FOUND when `ns` holds neither.
   *
   * @example
   * const g = await lineage.graph('plant-a', lineageId, { depth: 3 });
   * g.nodes.filter((n) => n.direction === 'upstream');
   */
  async graph(ns: string, id: string, opts: LineageGraphOptions = {}): Promise<LineageGraph> {
    requireNs(ns);
    const depth = opts.depth ?? 10;
    const limit = opts.limit ?? 1000;
    if (!Number.isInteger(depth) || depth < 0 || depth > 100) throw new AiosError('AIOS_BAD_REQUEST', `depth must be an integer from 0 to 100, got ${depth}`);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) throw new AiosError('AIOS_BAD_REQUEST', `limit must be an integer from 1 to 10000, got ${limit}`);
    if (!isValidLineageId(id)) throw new AiosError('AIOS_BAD_REQUEST', 'a lineage id or node id is 1–200 characters of [A-Za-z0-9._:-]');
    try {
      return await readLineageGraph(this.#db, ns, id, depth, limit);
    } catch (e) {
      throw translateDbError(e);
    }
  }

  /** Edges only join nodes of their own namespace; a node elsewhere reads as missing. */
  async #requireNodes(tx: Tx, ns: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    const rows = await tx.query<{ id: string }>(sql`select id from aios_lineage_nodes where ns = ${ns} and id in (${sql.join([...ids])})`);
    if (rows.length === ids.length) return;
    const have = new Set(rows.map((r) => r.id));
    const missing = ids.filter((i) => !have.has(i));
    throw new GovernanceError('AIOS_LINEAGE_NOT_FOUND', `no lineage node ${missing.map((m) => `'${m}'`).join(', ')} is recorded in namespace '${ns}'`);
  }
}

function requireNs(ns: unknown): asserts ns is string {
  if (typeof ns !== 'string' || ns.length === 0 || ns.length > 200) throw new AiosError('AIOS_BAD_REQUEST', 'namespace must be a non-empty string');
}

interface ValidInput {
  ns: string;
  lineageId: string;
  kind: LineageKind;
  name: string;
  ref: string | null;
  attrs: string | null;
  inputs: string[];
  edgeKind: string;
}

/** Checks a record() input and returns it normalised (inputs de-duplicated, attrs serialised). */
function validateInput(n: LineageInput): ValidInput {
  const bad = (detail: string) => new AiosError('AIOS_BAD_REQUEST', detail);
  requireNs(n?.ns);
  if (!isValidLineageId(n.lineageId)) throw bad(`lineageId must be 1–200 characters of [A-Za-z0-9._:-], got ${JSON.stringify(n.lineageId)}`);
  if (!KINDS.has(n.kind)) throw bad(`kind must be one of ${LINEAGE_KINDS.join(', ')}, got ${JSON.stringify(n.kind)}`);
  if (typeof n.name !== 'string' || n.name.length === 0 || n.name.length > 200) throw bad('name must be a string of 1–200 characters');
  if (n.ref != null && (typeof n.ref !== 'string' || n.ref.length > 1000)) throw bad('ref must be a string of at most 1000 characters');
  let attrs: string | null = null;
  if (n.attrs != null) {
    if (typeof n.attrs !== 'object' || Array.isArray(n.attrs)) throw bad('attrs must be a JSON object');
    attrs = JSON.stringify(n.attrs);
    if (Buffer.byteLength(attrs) > MAX_ATTRS_BYTES) throw bad(`attrs must serialise to at most ${MAX_ATTRS_BYTES} bytes of JSON`);
  }
  const inputs = [...new Set(n.inputs ?? [])];
  if (inputs.length > MAX_INPUTS) throw bad(`a node may have at most ${MAX_INPUTS} inputs`);
  if (inputs.some((i) => typeof i !== 'string' || i.length === 0)) throw bad('inputs must be node ids');
  const edgeKind = n.edgeKind ?? 'input';
  if (typeof edgeKind !== 'string' || !EDGE_KIND.test(edgeKind)) throw bad(`edgeKind must be 1–64 characters of [A-Za-z0-9._:-], got ${JSON.stringify(edgeKind)}`);
  return { ns: n.ns, lineageId: n.lineageId, kind: n.kind, name: n.name, ref: n.ref ?? null, attrs, inputs, edgeKind };
}
