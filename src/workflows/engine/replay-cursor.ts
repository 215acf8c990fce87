import type { JournalEntry } from '../store/run-store.ts';
import { NonDeterminismError } from './errors.ts';

/**
 * The position of an execution in its run's journal, as its workflow code makes context calls.
 * Each call takes the next position; where the journal loaded at claim holds an entry there, the
 * call replays it, and that entry must be the same kind and name as the call. The first mismatch
 * is fatal (a NonDeterminismError): the run fails with it whatever the code does after.
 */
export class ReplayCursor {
  /** A NonDeterminismError: the run fails with it whatever the code does after. */
  fatal?: Error;
  readonly #journal: Map<number, JournalEntry>;
  readonly #recorded: number;
  /** Names the run in the error: `workflow run <ns>/<id> (<name>)`. */
  readonly #run: string;
  #seq = 0;

  constructor(journal: readonly JournalEntry[], run: string) {
    this.#journal = new Map(journal.map((e) => [e.seq, e]));
    this.#recorded = journal.length ? Math.max(...journal.map((e) => e.seq)) + 1 : 0;
    this.#run = run;
  }

  get position(): number {
    return this.#seq;
  }

  /** Positions the journal held at claim that the code has not reached (checked at the end). */
  unreplayed(): number {
    return Math.max(0, this.#recorded - this.#seq);
  }

  check(): void {
    if (this.fatal) throw this.fatal;
  }

  /** Takes the next journal position, checking a recorded entry against this call. */
  next(kind: string, name: string): { seq: number; rec?: JournalEntry } {
    this.check();
    const seq = this.#seq++;
    const rec = this.#journal.get(seq);
    if (rec && (rec.kind !== kind || rec.name !== name)) {
      this.fatal = new NonDeterminismError(
        seq,
        `${this.#run}: at position ${seq} the journal has ${rec.kind} "${rec.name}" but the code now calls ${kind} "${name}"; ` +
          `guard the change with ctx.patched(...) so runs started on the old code keep the old path`,
      );
      throw this.fatal;
    }
    return { seq, rec };
  }

  /** The entry recorded at the current position, without taking it (a patch or cancel marker may be there). */
  peek(): JournalEntry | undefined {
    return this.#journal.get(this.#seq);
  }

  /** Takes the current position unchecked (the caller has looked with `peek`). */
  take(): number {
    return this.#seq++;
  }

  /** Goes back to `seq`: a cancel observed during a wait takes the position of the wait's outcome. */
  rewind(seq: number): void {
    this.#seq = seq;
  }
}
