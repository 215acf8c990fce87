import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';

export const WORKER_FIXTURE = fileURLToPath(new URL('../fixtures/workflow-worker.ts', import.meta.url));
const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface WorkerOptions {
  /** A SQLite file path or a postgres:// URL. */
  readonly db: string;
  readonly workerId: string;
  /** Base URL of the side-effect service. */
  readonly effects: string;
  /** JSON-lines file the worker appends fault reports (and step traces) to. */
  readonly log: string;
  /** `<point>:<n>`, see test/support/fault-run-store.ts; a standby worker can be given it at `go` instead. */
  readonly fault?: string;
  readonly trace?: boolean;
  readonly leaseMs?: number;
  readonly pollMs?: number;
  readonly holdMs?: number;
  readonly maxConcurrent?: number;
  /**
   * Load the code, then wait for `go()` before touching the database: a warm spare that takes
   * over the moment the previous worker dies (a tsx start-up costs about a second here).
   */
  readonly standby?: boolean;
}

export interface WorkerProcess {
  readonly workerId: string;
  readonly child: ChildProcess;
  readonly output: string[];
  /** The code is loaded (standby workers only). */
  readonly loaded: Promise<void>;
  /** The engine has started. */
  readonly ready: Promise<void>;
  /** Resolves with the exit code, or the signal's name, when the process ends. */
  readonly exited: Promise<number | string>;
  /** Starts a standby worker, armed with `fault` if given. */
  go(fault?: string): void;
}

/** Spawns test/fixtures/workflow-worker.ts (via `node --import tsx`) as a real worker process. */
export function spawnWorker(opts: WorkerOptions): WorkerProcess {
  const env: Record<string, string | undefined> = {
    ...process.env,
    AIOS_WF_DB: opts.db,
    AIOS_WF_WORKER_ID: opts.workerId,
    AIOS_WF_EFFECTS_URL: opts.effects,
    AIOS_WF_LOG: opts.log,
    AIOS_FAULT: opts.fault ?? '',
    AIOS_WF_TRACE: opts.trace ? '1' : '',
    AIOS_WF_STANDBY: opts.standby ? '1' : '',
    AIOS_WF_LEASE_MS: String(opts.leaseMs ?? 1000),
    AIOS_WF_POLL_MS: String(opts.pollMs ?? 50),
    AIOS_WF_HOLD_MS: String(opts.holdMs ?? 30_000),
    AIOS_WF_MAX_CONCURRENT: String(opts.maxConcurrent ?? 100),
  };
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER_FIXTURE], { cwd: REPO_ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const line = (marker: string) =>
    new Promise<void>((resolve, reject) => {
      let seen = '';
      child.stdout!.on('data', (d: Buffer) => {
        seen += String(d);
        if (seen.split('\n').includes(marker)) resolve();
      });
      void exited.then((how) => reject(new Error(`worker ${opts.workerId} exited (${how}) before ${marker}:\n${output.join('')}`)));
    });
  const loaded = line('LOADED');
  const ready = line('READY');
  loaded.catch(() => {});
  ready.catch(() => {});
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  child.stdin!.on('error', () => {}); // the worker may die before reading what we wrote
  return { workerId: opts.workerId, child, output, loaded, ready, exited, go: (fault) => child.stdin!.write(`go ${fault ?? ''}\n`) };
}

/** Spawns workers and SIGKILLs whichever are still alive when the test file ends. */
export function useWorkers(): { spawn(opts: WorkerOptions): WorkerProcess } {
  const all: WorkerProcess[] = [];
  afterAll(async () => {
    for (const w of all) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
    await Promise.all(all.map((w) => w.exited));
  });
  return {
    spawn(opts) {
      const w = spawnWorker(opts);
      all.push(w);
      return w;
    },
  };
}

/** SIGKILLs a worker (if alive) and waits until it is gone. */
export async function killWorker(w: WorkerProcess): Promise<number | string> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
  return w.exited;
}

/** Asks a worker to stop gracefully; resolves with its exit code. */
export async function stopWorker(w: WorkerProcess): Promise<number | string> {
  if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  return w.exited;
}

/** The JSON lines of a worker log file (none when it does not exist yet). */
export function readLog<T = Record<string, unknown>>(file: string): T[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as T);
}
