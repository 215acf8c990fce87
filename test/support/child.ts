import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const AIOS_BIN = fileURLToPath(new URL('../../bin/aios.js', import.meta.url));

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface AiosProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly output: string[];
  /** Authorization header with the admin key of the data directory, when there is one. */
  readonly auth: Record<string, string>;
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
}

/**
 * How long a child process may take to become ready. A start loads the TypeScript sources and
 * migrates a database: about a second idle, far more on a loaded machine. A liveness bound only.
 */
export const PROCESS_START_TIMEOUT_MS = 120_000;

/** Starts `aios start` as a real child process and waits until /readyz answers 200. */
export async function startAiosProcess(args: string[], env: Record<string, string> = {}, timeoutMs = PROCESS_START_TIMEOUT_MS): Promise<AiosProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [AIOS_BIN, 'start', '--port', String(port), ...args], {
    env: { ...process.env, AIOS_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout!.on('data', (d) => output.push(String(d)));
  child.stderr!.on('data', (d) => output.push(String(d)));
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`aios exited during start-up:\n${output.join('')}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`aios did not become ready in ${timeoutMs} ms:\n${output.join('')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const dirArg = args.indexOf('--data-dir');
  const dataDir = dirArg >= 0 ? args[dirArg + 1] : (env.AIOS_DATA_DIR ?? process.env.AIOS_DATA_DIR);
  const keyFile = dataDir ? join(dataDir, 'admin.key') : undefined;
  const auth: Record<string, string> = keyFile && existsSync(keyFile) ? { authorization: `Bearer ${readFileSync(keyFile, 'utf8').trim()}` } : {};
  return { child, url, output, exited, auth };
}

interface ProcStat {
  readonly pid: number;
  readonly state: string;
  readonly parent: number;
  readonly group: number;
}

/** Every process of the machine, from /proc (Linux). */
function processTable(): ProcStat[] {
  const table: ProcStat[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // The command name (field 2) may hold spaces and parentheses: fields are counted after its last ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, parent, group] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.push({ pid: Number(entry), state, parent: Number(parent), group: Number(group) });
    } catch {
      // the process ended while the table was read
    }
  }
  return table;
}

/** The ids of `pid` and of every process below it. */
export function processTree(pid: number): number[] {
  const table = processTable();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) for (const p of table) if (p.parent === tree[i]) tree.push(p.pid);
  return tree;
}

/** The live (not zombie) processes of a process group. */
export function processGroupMembers(pgid: number): number[] {
  return processTable()
    .filter((p) => p.group === pgid && p.state !== 'Z')
    .map((p) => p.pid);
}

/** Whether a process with this id exists (a zombie counts until its parent reaps it). */
export function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether anything accepts TCP connections on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
