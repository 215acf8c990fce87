/**
 * The peers (DBOS Transact, Restate) live in their own private package, bench/peers, with its own
 * lockfile: the root `npm install` never installs them (about 230 MB, most of it the Restate server
 * binary). `ensurePeers()` installs them the first time a comparison runs.
 *
 * @example
 *   ensurePeers();                       // npm ci in bench/peers when something is missing
 *   const { DBOS } = await importPeer<DbosModule>('@dbos-inc/dbos-sdk');
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PEERS_DIR = fileURLToPath(new URL('.', import.meta.url));

/** A peer that cannot run here (not installed, binary missing, server did not start). Report it as skipped. */
export class PeerUnavailableError extends Error {
  readonly code = 'AIOS_BENCH_PEER_UNAVAILABLE';
  constructor(
    readonly peer: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${peer}: ${reason}`, options);
    this.name = 'PeerUnavailableError';
  }
}

interface Lockfile {
  packages: Record<string, { version?: string; dependencies?: Record<string, string> }>;
}

function readJson<T>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

/** Why bench/peers is not installed as its lockfile says, or null when it is. */
export function peersMissing(): string | null {
  const lock = readJson<Lockfile>(join(PEERS_DIR, 'package-lock.json'));
  for (const name of Object.keys(lock.packages['']?.dependencies ?? {})) {
    const manifest = join(PEERS_DIR, 'node_modules', name, 'package.json');
    if (!existsSync(manifest)) return `${name} is not installed`;
    const want = lock.packages[`node_modules/${name}`]?.version;
    const have = readJson<{ version: string }>(manifest).version;
    if (want && have !== want) return `${name} ${have} is installed but the lockfile says ${want}`;
  }
  return null;
}

/**
 * Installs bench/peers from its lockfile (`npm ci`) unless it is already installed. npm's output goes
 * to stderr so that a benchmark's stdout stays table + JSON. Throws PeerUnavailableError when npm fails
 * (typically: no access to the npm registry).
 */
export function ensurePeers(log: (line: string) => void = (l) => console.error(l)): void {
  const missing = peersMissing();
  if (!missing) return;
  log(`bench/peers: ${missing}; running npm ci in ${PEERS_DIR} (one-off, ~230 MB)`);
  const npm = spawnSync('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: PEERS_DIR, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const output = `${npm.stdout ?? ''}${npm.stderr ?? ''}`.trim();
  if (output) log(output);
  if (npm.error || npm.status !== 0) {
    const tail = output.split('\n').slice(-5).join(' | ');
    throw new PeerUnavailableError('bench/peers', `npm ci failed (${npm.error?.message ?? `exit ${npm.status}`}): ${tail}`);
  }
  const still = peersMissing();
  if (still) throw new PeerUnavailableError('bench/peers', `still incomplete after npm ci: ${still}`);
}

/**
 * Imports a package from bench/peers/node_modules. The specifier is a variable on purpose: the root
 * `tsc` (whose `include` covers bench/) must not need the peers installed, so each peer module types
 * the few calls it makes itself.
 */
export async function importPeer<T>(name: string): Promise<T> {
  const specifier: string = name;
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    throw new PeerUnavailableError(name, `cannot import it (run ensurePeers() or npm ci in bench/peers): ${(err as Error).message}`, { cause: err });
  }
}

/** The installed version of a peer package, for the report. */
export function peerVersion(name: string): string {
  const manifest = join(PEERS_DIR, 'node_modules', name, 'package.json');
  return existsSync(manifest) ? readJson<{ version: string }>(manifest).version : 'not installed';
}
