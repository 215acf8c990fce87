import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export function eventsCommand(): Command {
  const cmd = new Command('events').description('publish and follow events');
  withRemote(
    cmd
      .command('publish <topic>')
      .description('append events: --data for one, --file or stdin for NDJSON (one event per line)')
      .option('-d, --data <json>', 'the data of one event')
      .option('--id <id>', 'idempotency key of that event')
      .option('-k, --key <key>', 'partition key of that event')
      .option('-f, --file <path>', 'NDJSON file of events ({"id","key","time","data","headers"} per line)'),
  ).action(
    action(async (topic: string, o) => {
      const client = clientFrom(o);
      const r =
        o.data !== undefined
          ? await client.publish(topic, [{ id: o.id, key: o.key, data: JSON.parse(o.data) }])
          : await client.publish(topic, o.file ? readFileSync(o.file, 'utf8') : await readStdin(), { ndjson: true });
      console.log(JSON.stringify(r));
      if (r.rejected.length) process.exitCode = 2;
    }),
  );
  withRemote(
    cmd
      .command('tail <topic>')
      .description('follow a topic live, one JSON event per line')
      .option('--from <position>', 'earliest, latest or a cursor printed earlier', 'latest')
      .option('-p, --partition <n>', 'only this partition', (v) => Number(v))
      .option('--count <n>', 'stop after this many events', (v) => Number(v)),
  ).action(
    action(async (topic: string, o) => {
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      let n = 0;
      for await (const e of clientFrom(o).tail(topic, { from: o.from, partition: o.partition, signal: ac.signal })) {
        console.log(JSON.stringify(e));
        if (o.count !== undefined && ++n >= o.count) ac.abort();
      }
    }),
  );
  return cmd;
}
