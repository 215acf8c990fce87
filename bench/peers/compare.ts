/**
 * What bench/peers/run.ts (the peers alone) and bench/workflows.ts (AIOS beside the peers) share:
 * the cases (workloads, concurrencies, batch sizes, warm-up), the load-average note, and
 * `runPeers`, which runs DBOS and Restate over those cases and turns an unavailable peer into
 * rows with a `skipped` reason.
 *
 * @example
 *   noteLoad();
 *   const rows = await runPeers({ quick, concurrency: concurrencies(quick) });
 */
import { loadavg } from 'node:os';
import { ensurePeers, PeerUnavailableError, peerVersion } from './ensure.ts';
import type { PeerOptions, PeerResult, Workload } from './workload.ts';

export const WORKLOADS: readonly Workload[] = ['1-step', '10-step'];

/** Workflows in flight at once, per case. */
export const concurrencies = (quick: boolean): number[] => (quick ? [1, 16] : [1, 16, 64]);

/** Sized so that a case measures for a few seconds (1 s in --quick) on a 2-vCPU machine. */
export function workflowsFor(workload: Workload, concurrency: number, quick: boolean): number {
  const full = concurrency === 1 ? { '1-step': 500, '10-step': 150 } : { '1-step': 3000, '10-step': 1000 };
  return quick ? Math.round(full[workload] / (concurrency === 1 ? 5 : 7.5)) : full[workload];
}

/** Workflows run before the measured batch and not counted. */
export const warmupFor = (workflows: number, concurrency: number): number => Math.max(20, 2 * concurrency, Math.round(workflows / 10));

/** Warns on stderr when the machine is already busy: every figure would be skewed. */
export function noteLoad(): void {
  const [load1] = loadavg();
  if (load1 > 0.5) console.error(`note: load average ${load1.toFixed(2)} before the run; other work on this machine skews every figure below`);
}

export type PeerSystem = PeerResult['system'];

/** A measured peer case, or one that could not run (then `skipped` says why). */
export type PeerRow = (PeerResult & { version: string; skipped?: undefined }) | { system: PeerSystem; backend: PeerResult['backend']; workload: Workload; concurrency: number; skipped: string };

interface Peer {
  system: PeerSystem;
  backend: PeerResult['backend'];
  /** What was measured, from the installed packages. */
  version: () => string;
  load: () => Promise<{ runPeer(opts: PeerOptions): Promise<PeerResult> }>;
}
const PEERS: Peer[] = [
  { system: 'dbos', backend: 'postgres', version: () => `dbos-sdk@${peerVersion('@dbos-inc/dbos-sdk')}`, load: () => import('./dbos.ts') },
  { system: 'restate', backend: 'restate', version: () => `server@${peerVersion('@restatedev/restate-server')} sdk@${peerVersion('@restatedev/restate-sdk')}`, load: () => import('./restate.ts') },
];

export interface RunPeersOptions {
  quick: boolean;
  concurrency: readonly number[];
  /** Only this peer. */
  only?: PeerSystem;
  /** PostgreSQL for DBOS; the peer's default otherwise. */
  pgUrl?: string;
}

const shortReason = (message: string) => message.split('\n')[0].slice(0, 160);

/**
 * Installs the peers if needed (ensurePeers) and runs every (peer, concurrency, workload) case.
 * A peer that cannot install or start is reported as skipped for all its remaining cases; any
 * other error (a wrong result, say) is thrown.
 */
export async function runPeers(opts: RunPeersOptions): Promise<PeerRow[]> {
  let unavailable: string | undefined;
  try {
    ensurePeers();
  } catch (err) {
    if (!(err instanceof PeerUnavailableError)) throw err;
    unavailable = err.message;
  }
  const rows: PeerRow[] = [];
  for (const peer of PEERS.filter((p) => !opts.only || p.system === opts.only)) {
    let skipped = unavailable;
    const version = peer.version();
    for (const concurrency of opts.concurrency) {
      for (const workload of WORKLOADS) {
        const row = { system: peer.system, backend: peer.backend, workload, concurrency };
        if (skipped) {
          rows.push({ ...row, skipped: shortReason(skipped) });
          continue;
        }
        const workflows = workflowsFor(workload, concurrency, opts.quick);
        try {
          const { runPeer } = await peer.load();
          const r = await runPeer({ workload, workflows, concurrency, warmup: warmupFor(workflows, concurrency), ...(opts.pgUrl ? { pgUrl: opts.pgUrl } : {}) });
          rows.push({ ...r, version });
          console.error(`  ${peer.system} ${workload} concurrency=${concurrency}: ${r.stepsPerSec} steps/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`);
        } catch (err) {
          if (!(err instanceof PeerUnavailableError)) throw err;
          console.error(`  ${peer.system} skipped: ${err.message}`);
          skipped = err.message;
          rows.push({ ...row, skipped: shortReason(skipped) });
        }
      }
    }
  }
  return rows;
}
