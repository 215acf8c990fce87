import type { Clock } from '../../core/index.ts';
import type { RunPatch } from '../store/run-store.ts';
import type { CancelInfo } from './errors.ts';
import { setTimer } from './timers.ts';

/** Where an execution is parked, and how to let the run go from there. */
interface Parked {
  readonly release: RunPatch;
  readonly cancel: () => void;
}

/** What parking needs of the execution it parks. */
export interface ParkedExecution {
  /** The execution has stopped in this process: nothing wakes it any more. */
  abandoned(): boolean;
  /** Parked (false) or running again (true). */
  busy(busy: boolean): void;
}

/**
 * How an execution waits, and how signals and cancels sent through this process reach it. A
 * wait that ends within `holdMs` is held in memory, on a timer, woken early by a signal it waits
 * for or by a cancel; a longer one lets the run go to the store (the execution does that write),
 * which wakes it at its time, signal or cancel, on whichever worker claims it then.
 */
export class Parking {
  readonly #clock: Clock;
  readonly #holdMs: number;
  readonly #exec: ParkedExecution;
  #parked?: Parked;
  /** Signal names sent in-process since the wait last looked in the store. */
  readonly #notified = new Set<string>();
  #signalWaiter?: { name: string; wake: () => void };
  /** A cancel was requested (in the store at claim, or through this engine since). */
  #cancelRequest?: { info?: CancelInfo };
  /** Wakes a sleep or signal wait parked in memory, for a cancel. */
  #cancelWaiter?: () => void;

  constructor(clock: Clock, holdMs: number, exec: ParkedExecution, cancelRequested: boolean) {
    this.#clock = clock;
    this.#holdMs = holdMs;
    this.#exec = exec;
    if (cancelRequested) this.#cancelRequest = {};
  }

  /** A cancel requested and not yet observed by the code, with its reason when this process was given it. */
  get cancelRequest(): { info?: CancelInfo } | undefined {
    return this.#cancelRequest;
  }

  /** The patch that lets the run go from where it is parked; undefined when it is not parked. */
  get release(): RunPatch | undefined {
    return this.#parked?.release;
  }

  /** A wait until `wakeAt` is held in memory (true) or lets the run go to the store (false: no deadline, or beyond holdMs). */
  holds(wakeAt: number | null): wakeAt is number {
    return wakeAt !== null && wakeAt - this.#clock.now() <= this.#holdMs;
  }

  /**
   * Waits in memory until `wakeAt`, or an in-process signal `signal`, or (`cancellable`) a cancel
   * request. `release` is how the run is let go if the engine stops while it is parked.
   */
  hold(wakeAt: number, release: RunPatch, signal: string | undefined, cancellable: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      let done = false;
      const wake = (): void => {
        if (done || this.#exec.abandoned()) return;
        done = true;
        cancelTimer();
        this.#parked = undefined;
        this.#signalWaiter = undefined;
        this.#cancelWaiter = undefined;
        this.#exec.busy(true);
        resolve();
      };
      const cancelTimer = setTimer(this.#clock, wakeAt, wake);
      if (signal) this.#signalWaiter = { name: signal, wake };
      if (cancellable) this.#cancelWaiter = wake;
      this.#parked = {
        release,
        cancel: () => {
          done = true;
          cancelTimer();
          this.#signalWaiter = undefined;
          this.#cancelWaiter = undefined;
        },
      };
      this.#exec.busy(false);
    });
  }

  /** The execution is stopping: a wait parked in memory is dropped (its promise stays pending). */
  drop(): void {
    this.#parked?.cancel();
    this.#parked = undefined;
  }

  /** A signal was sent to this run through this engine: wake a wait for it now. */
  notify(name: string): void {
    this.#notified.add(name);
    if (this.#signalWaiter?.name === name) this.#signalWaiter.wake();
  }

  /** Whether signal `name` was sent through this engine since the wait last looked in the store. */
  notified(name: string): boolean {
    return this.#notified.has(name);
  }

  /** The wait is about to look in the store for `name`: what was notified so far is seen there. */
  looking(name: string): void {
    this.#notified.delete(name);
  }

  /**
   * A cancel was requested (through this engine, with its reason; or notified by another
   * process, without: the cancel point reads it from the store): a sleep or wait held in memory ends now.
   */
  requestCancel(info?: CancelInfo): void {
    this.#cancelRequest = info ? { info } : (this.#cancelRequest ?? {});
    this.#cancelWaiter?.();
  }
}
