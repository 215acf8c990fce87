/**
 * npx tsx bench/peers/run.ts [--quick] [--peer=dbos|restate] [--concurrency=1,16,64]
 *
 * The peers alone: DBOS Transact (on PostgreSQL) and Restate (its server binary) run the workflow
 * workload of bench/peers/workload.ts, 1-step and 10-step workflows at each concurrency, and print
 * the house table and, as the last line, {"bench":"workflow-peers","machine":...,"results":[...]}.
 * `npm run bench -- workflows` runs the same peers beside AIOS and reports ratios (the cases and
 * the running of peers are shared, in compare.ts).
 */
import { report } from '../_report.ts';
import { concurrencies, noteLoad, runPeers, type PeerSystem } from './compare.ts';

const quick = process.argv.includes('--quick');
const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = arg('peer');
if (only !== undefined && only !== 'dbos' && only !== 'restate') throw new Error(`--peer must be dbos or restate, got "${only}"`);
const concurrency = arg('concurrency')?.split(',').map(Number) ?? concurrencies(quick);

noteLoad();
const results = await runPeers({ quick, concurrency, ...(only ? { only: only as PeerSystem } : {}) });
report('workflow-peers', results.map((r) => ({ ...r })));
