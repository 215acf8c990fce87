/**
 * npx tsx bench/peers/run.ts [--quick] [--peer=dbos|restate] [--concurrency=1,16,64]
 *
 * The peers alone: DBOS Transact (on PostgreSQL) and Restate (its server binary) run the workflow
 * workload of bench/peers/workload.ts, 1-step and 10-step workflows at each concurrency, and print
 * the house table and, as the last line, {"bench":"workflow-peers","machine":...,"results":[...]}.
 * `npm run bench -- workflows` runs the same peers beside AIOS and reports ratios.
 */
import { loadavg } from 'node:os';
import { report } from '../_report.ts';
import { ensurePeers, PeerUnavailableError, peerVersion } from './ensure.ts';
import type { PeerOptions, PeerResult, Workload } from './workload.ts';

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const onlyPeer = arg('peer');
const CONCURRENCY = (arg('concurrency') ?? (quick ? '1,16' : '1,16,64')).split(',').map(Number);
const WORKLOADS: Workload[] = ['1-step', '10-step'];

/** Sized so that a case measures for a few seconds (1 s in --quick) on a 2-vCPU machine. */
function workflowsFor(workload: Workload, concurrency: number): number {
  const full = concurrency === 1 ? { '1-step': 500, '10-step': 150 } : { '1-step': 3000, '10-step': 1000 };
  return quick ? Math.round(full[workload] / (concurrency === 1 ? 5 : 7.5)) : full[workload];
}

interface Peer {
  system: PeerResult['system'];
  backend: PeerResult['backend'];
  /** What was measured, from the installed packages. */
  version: () => string;
  load: () => Promise<{ runPeer(opts: PeerOptions): Promise<PeerResult> }>;
}
const PEERS: Peer[] = [
  { system: 'dbos', backend: 'postgres', version: () => `dbos-sdk@${peerVersion('@dbos-inc/dbos-sdk')}`, load: () => import('./dbos.ts') },
  { system: 'restate', backend: 'restate', version: () => `server@${peerVersion('@restatedev/restate-server')} sdk@${peerVersion('@restatedev/restate-sdk')}`, load: () => import('./restate.ts') },
];

const [load1] = loadavg();
if (load1 > 0.5) console.error(`note: load average ${load1.toFixed(2)} before the run; other work on this machine skews every figure below`);

let unavailable: string | undefined;
try {
  ensurePeers();
} catch (err) {
  if (!(err instanceof PeerUnavailableError)) throw err;
  unavailable = err.message;
}

const results: Record<string, unknown>[] = [];
for (const peer of PEERS.filter((p) => !onlyPeer || p.system === onlyPeer)) {
  let skipped = unavailable;
  const version = peer.version();
  for (const concurrency of CONCURRENCY) {
    for (const workload of WORKLOADS) {
      const row = { system: peer.system, backend: peer.backend, workload, concurrency };
      if (skipped) {
        results.push({ ...row, skipped: skipped.split('\n')[0].slice(0, 160) });
        continue;
      }
      const workflows = workflowsFor(workload, concurrency);
      try {
        const { runPeer } = await peer.load();
        const r = await runPeer({ workload, workflows, concurrency, warmup: Math.max(20, 2 * concurrency, Math.round(workflows / 10)) });
        results.push({ ...r, version });
        console.error(`  ${peer.system} ${workload} concurrency=${concurrency}: ${r.stepsPerSec} steps/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms`);
      } catch (err) {
        if (!(err instanceof PeerUnavailableError)) throw err;
        console.error(`  ${peer.system} skipped: ${err.message}`);
        skipped = err.message;
        results.push({ ...row, skipped: skipped.split('\n')[0].slice(0, 160) });
      }
    }
  }
}
report('workflow-peers', results);
