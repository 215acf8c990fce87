import type { Kysely } from 'kysely';
import type { WorkflowTables } from '../store/tables.ts';

/** An event a workflow emits: as an event-log producer sends it (`id` defaults to one derived from the run and position). */
export interface EmitEvent {
  readonly data: unknown;
  readonly key?: string | null;
  readonly id?: string;
  /** RFC 3339 or epoch ms; default: the append time. */
  readonly time?: string | number;
  readonly headers?: Record<string, string>;
}

/** What `ctx.emit` returns (and journals): the ids the events were appended under. */
export interface EmitResult {
  readonly topic: string;
  readonly ids: readonly string[];
}

/** Events validated against a topic's contract, ready to append in a journal transaction. */
export interface PreparedEmit {
  readonly topic: string;
  readonly ids: readonly string[];
}

/** A wait for an event, recorded in the journal transaction of `ctx.waitForEvent`. */
export interface EventWaitRecord {
  readonly ns: string;
  readonly runId: string;
  readonly seq: number;
  readonly topic: string;
  readonly match: string;
  readonly deadline: number | null;
  readonly after: Record<number, number>;
}

/**
 * What the engine needs from the event log: the outbox (`ctx.emit`, and `emit` inside a step)
 * and event waits (`ctx.waitForEvent`). The runtime wires it to the EventLog and EventWaits; an
 * engine without it refuses both with AIOS_BAD_REQUEST.
 */
export interface WorkflowEventPort {
  /** Throws AIOS_VALIDATION for an invalid CEL expression. */
  validateMatch(match: string): void;
  /** The next offset of each partition of the topic now; AIOS_EVENTS_TOPIC_NOT_FOUND for an unknown topic. */
  position(ns: string, topic: string): Promise<Record<number, number>>;
  registerWait(trx: Kysely<WorkflowTables>, wait: EventWaitRecord): Promise<void>;
  /** The wait ended without its event (timed out, cancelled). */
  cancelWait(ns: string, runId: string, seq: number): Promise<void>;
  /** Validates events for `topic`; throws on any rejection (nothing is appended). */
  prepare(ns: string, topic: string, events: readonly EmitEvent[], lineageId: string): Promise<PreparedEmit>;
  /** Appends prepared events inside the journal transaction `trx`. */
  appendIn(trx: Kysely<WorkflowTables>, prepared: readonly PreparedEmit[]): Promise<void>;
  /** After the journal transaction committed. */
  committed(prepared: readonly PreparedEmit[]): void;
}

/** An event delivered to `ctx.waitForEvent`. Times are epoch ms. */
export interface MatchedEvent {
  readonly id: string;
  readonly topic: string;
  readonly key: string | null;
  readonly partition: number;
  readonly offset: number;
  readonly time: number;
  readonly data: unknown;
  readonly headers: Record<string, string>;
}

export type EventResult = { readonly timedOut: false; readonly event: MatchedEvent } | { readonly timedOut: true };
