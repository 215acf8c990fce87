import { Command, Option } from 'commander';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';
import { inputOf } from './workflows.ts';

const schedulePath = (id: string) => `/api/v1/schedules/${encodeURIComponent(id)}`;
const print = (body: unknown) => console.log(JSON.stringify(body, null, 2));

/** The options create and update share; each maps to the API field of the same name. */
function withSettings(cmd: Command): Command {
  return cmd
    .option('--timezone <iana>', 'time zone the cron is read in, e.g. Europe/Berlin (default UTC)')
    .option('-i, --input <json|@file>', 'the input of every run, inline JSON or @file.json')
    .option('--input-file <file>', 'file holding the input as JSON')
    .addOption(new Option('--overlap <policy>', 'when the previous run is still under way at a tick').choices(['skip', 'buffer_one', 'allow']))
    .addOption(new Option('--catch-up <policy>', 'ticks missed while no scheduler ran').choices(['skip', 'one', 'all']))
    .option('--catch-up-limit <n>', 'most missed ticks fired by --catch-up all', (v) => Number(v));
}

interface SettingOptions {
  cron?: string;
  timezone?: string;
  input?: string;
  inputFile?: string;
  overlap?: string;
  catchUp?: string;
  catchUpLimit?: number;
}

function settings(o: SettingOptions): Record<string, unknown> {
  const input = inputOf(o);
  const out: Record<string, unknown> = { cron: o.cron, timezone: o.timezone, overlap: o.overlap, catchUp: o.catchUp, catchUpLimit: o.catchUpLimit };
  if (input !== undefined) out.input = input;
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/**
 * `aios schedules`: cron schedules that start workflow runs, on a running AIOS. Prints the API's
 * answers as JSON; an API error prints its code and exits 1.
 *
 * @example aios schedules create --id shift-report --workflow report --cron '0 6,14,22 * * *' --timezone Europe/Berlin
 * @example aios schedules update shift-report --pause
 */
export function schedulesCommand(): Command {
  const cmd = new Command('schedules').description('cron schedules that start workflow runs');
  withRemote(
    withSettings(
      cmd
        .command('create')
        .description('create a schedule; each tick starts the run sched:<id>:<tick ms>')
        .requiredOption('--id <id>', 'the schedule id: letters, digits, . _ -')
        .requiredOption('-w, --workflow <name>', 'the registered workflow it starts')
        .requiredOption('--cron <expr>', '5 to 7 fields, or a nickname such as @daily'),
    ).option('--paused', 'create it paused'),
  ).action(
    action(async (o: SettingOptions & { id: string; workflow: string; paused?: boolean; url: string }) => {
      const body = { id: o.id, workflow: o.workflow, ...settings(o), ...(o.paused ? { paused: true } : {}) };
      print((await clientFrom(o).request('POST', '/api/v1/schedules', body)).body);
    }),
  );
  withRemote(cmd.command('get <id>').description('a schedule with its next and last tick')).action(
    action(async (id: string, o) => {
      print((await clientFrom(o).request('GET', schedulePath(id))).body);
    }),
  );
  withRemote(cmd.command('list').description('schedules in id order; page with --after').option('--limit <n>', 'most schedules', '100').option('--after <cursor>', 'the "next" of the previous page')).action(
    action(async (o) => {
      const q = new URLSearchParams({ limit: o.limit });
      if (o.after !== undefined) q.set('after', o.after);
      print((await clientFrom(o).request('GET', `/api/v1/schedules?${q}`)).body);
    }),
  );
  withRemote(
    withSettings(cmd.command('update <id>').description('change a schedule; a new cron or time zone, and --resume, recompute the next tick from now').option('--cron <expr>', 'a new cron expression'))
      .addOption(new Option('--pause', 'stop firing until resumed').conflicts('resume'))
      .option('--resume', 'fire again, from the next tick after now'),
  ).action(
    action(async (id: string, o: SettingOptions & { pause?: boolean; resume?: boolean; url: string }) => {
      const body = { ...settings(o), ...(o.pause ? { paused: true } : o.resume ? { paused: false } : {}) };
      print((await clientFrom(o).request('PATCH', schedulePath(id), body)).body);
    }),
  );
  withRemote(cmd.command('delete <id>').description('delete a schedule (the runs it started are left as they are)')).action(
    action(async (id: string, o) => {
      await clientFrom(o).request('DELETE', schedulePath(id));
      console.error(`deleted schedule ${id}`);
    }),
  );
  return cmd;
}
