import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';

/** A JSON option: inline, or `@file.json`. Says which option is broken instead of a bare parse error. */
export function jsonOption(text: string, option: string): unknown {
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(source);
  } catch (e) {
    throw new Error(`${option} is not valid JSON: ${(e as Error).message}`);
  }
}

/** `--input <json|@file>` or `--input-file <file>`; undefined when neither is given. */
export function inputOf(o: { input?: string; inputFile?: string }): unknown {
  if (o.input !== undefined && o.inputFile !== undefined) throw new Error('give --input or --input-file, not both');
  if (o.inputFile !== undefined) return jsonOption(`@${o.inputFile}`, '--input-file');
  return o.input === undefined ? undefined : jsonOption(o.input, '--input');
}

const runPath = (id: string, rest = '') => `/api/v1/workflows/${encodeURIComponent(id)}${rest}`;
const print = (body: unknown) => console.log(JSON.stringify(body, null, 2));
const ENDED = new Set(['completed', 'failed', 'cancelled', 'terminated']);

/**
 * `aios workflows`: start, inspect, signal and operate durable workflow runs on a running AIOS.
 * Every command prints the API's answer as JSON; an API error prints its code and exits 1.
 *
 * @example aios workflows start inspect --input '{"asset":"T-7"}' --id inspect-T-7
 * @example aios workflows signal inspect-T-7 approved --payload '{"by":"ana"}'
 * @example aios workflows wait inspect-T-7 --timeout 120
 */
export function workflowsCommand(): Command {
  const cmd = new Command('workflows').description('start, inspect and operate durable workflow runs');
  withRemote(
    cmd
      .command('start <name>')
      .description('start a run of a registered workflow (idempotent with --id: an existing id prints that run)')
      .option('-i, --input <json|@file>', 'the input, inline JSON or @file.json')
      .option('--input-file <file>', 'file holding the input as JSON')
      .option('--id <id>', 'the run id (idempotency key); default a UUIDv7')
      .option('--version <version>', 'the workflow version; default the highest registered'),
  ).action(
    action(async (name: string, o) => {
      const input = inputOf(o);
      const body = { name, ...(input !== undefined ? { input } : {}), ...(o.id ? { id: o.id } : {}), ...(o.version ? { version: o.version } : {}) };
      const r = await clientFrom(o).request<{ id: string }>('POST', '/api/v1/workflows', body);
      print(r.body);
      if (r.status === 200) console.error(`run ${r.body.id} already existed; nothing was started`);
    }),
  );
  withRemote(cmd.command('get <id>').description('a run: status, input, output or error, and its live state')).action(
    action(async (id: string, o) => {
      print((await clientFrom(o).request('GET', runPath(id))).body);
    }),
  );
  withRemote(
    cmd
      .command('list')
      .description('runs in creation order (summaries: no input, output or state); page with --after')
      .option('--name <name>', 'only runs of this workflow')
      .option('--status <status>', 'pending, running, waiting, completed, failed, cancelled or terminated')
      .option('--from <time>', 'created at or after (RFC 3339 or epoch ms)')
      .option('--to <time>', 'created before (RFC 3339 or epoch ms)')
      .option('--limit <n>', 'most runs', '100')
      .option('--after <cursor>', 'the "next" of the previous page'),
  ).action(
    action(async (o) => {
      const q = new URLSearchParams();
      for (const k of ['name', 'status', 'from', 'to', 'limit', 'after'] as const) if (o[k] !== undefined) q.set(k, String(o[k]));
      print((await clientFrom(o).request('GET', `/api/v1/workflows?${q}`)).body);
    }),
  );
  withRemote(
    cmd
      .command('wait <id>')
      .description('wait until a run ends, then print it; exit 0 when it completed, 1 when it failed, was cancelled or terminated, or the wait timed out')
      .option('--timeout <seconds>', 'longest wait', (v) => Number(v), 60),
  ).action(
    action(async (id: string, o) => {
      if (!Number.isFinite(o.timeout) || o.timeout <= 0) throw new Error('--timeout must be a positive number of seconds');
      const client = clientFrom(o);
      const end = Date.now() + o.timeout * 1000;
      // No long poll in the API: back off from 50 ms to 1 s, so a short run is seen at once and a long one costs little.
      for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
        const run = (await client.request<{ status: string; error?: { code?: string; message?: string } | null }>('GET', runPath(id))).body;
        if (ENDED.has(run.status)) {
          print(run);
          const why = [run.error?.code, run.error?.message].filter(Boolean).join(': ');
          if (run.status !== 'completed') throw new Error(`run ${id} ended ${run.status}${why ? `: ${why}` : ''}`);
          return;
        }
        if (Date.now() + pause > end) throw new Error(`run ${id} is still ${run.status} after ${o.timeout} s`);
        await new Promise((r) => setTimeout(r, pause));
      }
    }),
  );
  withRemote(cmd.command('history <id>').description('the run\'s journal: steps, timers, signals, in order')).action(
    action(async (id: string, o) => {
      print((await clientFrom(o).request('GET', runPath(id, '/history'))).body);
    }),
  );
  withRemote(cmd.command('signal <id> <name>').description('send a signal to a run (stored until a wait takes it)').option('-p, --payload <json|@file>', 'the payload, inline JSON or @file.json')).action(
    action(async (id: string, name: string, o) => {
      const payload = o.payload === undefined ? undefined : jsonOption(o.payload, '--payload');
      print((await clientFrom(o).request('POST', runPath(id, `/signals/${encodeURIComponent(name)}`), payload)).body);
    }),
  );
  for (const [verb, what] of [
    ['cancel', 'ask a run to cancel: its code observes it at its next step, sleep or wait, and may compensate'],
    ['terminate', 'end a run at once, without running any more of its code (no compensation)'],
  ] as const) {
    withRemote(cmd.command(`${verb} <id>`).description(what).option('-r, --reason <text>', 'why; recorded with the run')).action(
      action(async (id: string, o) => {
        print((await clientFrom(o).request('POST', runPath(id, `/${verb}`), o.reason === undefined ? undefined : { reason: o.reason })).body);
      }),
    );
  }
  withRemote(cmd.command('retry <id>').description('retry a failed run from its failed step')).action(
    action(async (id: string, o) => {
      print((await clientFrom(o).request('POST', runPath(id, '/retry'))).body);
    }),
  );
  withRemote(cmd.command('definitions').description('the workflows registered on the server, with their versions')).action(
    action(async (o) => {
      print((await clientFrom(o).request('GET', '/api/v1/workflows/definitions')).body);
    }),
  );
  return cmd;
}
