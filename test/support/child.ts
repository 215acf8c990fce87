import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer } from 'node:net';
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

/** Starts `aios start` as a real child process and waits until /readyz answers 200. */
export async function startAiosProcess(args: string[], env: Record<string, string> = {}, timeoutMs = 20_000): Promise<AiosProcess> {
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
