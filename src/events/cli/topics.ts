import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';

function jsonArg(text: string): unknown {
  const source = text.startsWith('@') ? readFileSync(text.slice(1), 'utf8') : text;
  return JSON.parse(source);
}

export function topicsCommand(): Command {
  const cmd = new Command('topics').description('create and inspect event topics');
  withRemote(
    cmd
      .command('create <name>')
      .description('create a topic (idempotent)')
      .option('-p, --partitions <n>', 'number of partitions', (v) => Number(v))
      .option('-k, --key-field <path>', 'dotted path into data used as the partition key')
      .option('-s, --schema <json|@file>', 'JSON Schema data contract, inline or @file.json')
      .option('--retention-ms <ms>', 'delete events older than this', (v) => Number(v))
      .option('--retention-count <n>', 'keep this many latest offsets per partition', (v) => Number(v))
      .option('-d, --description <text>', 'what the topic holds'),
  ).action(
    action(async (name: string, o) => {
      const retention = o.retentionMs || o.retentionCount ? { ms: o.retentionMs, count: o.retentionCount } : undefined;
      const t = await clientFrom(o).createTopic({ name, partitions: o.partitions, keyField: o.keyField, schema: o.schema ? jsonArg(o.schema) : undefined, retention, description: o.description });
      console.log(JSON.stringify(t, null, 2));
    }),
  );
  withRemote(cmd.command('list').description('list topics')).action(
    action(async (o) => {
      for (const t of await clientFrom(o).listTopics()) console.log(`${t.name}\tpartitions=${t.partitions}\tschema v${t.schemaVersion}`);
    }),
  );
  withRemote(cmd.command('get <name>').description('show a topic and its offsets')).action(
    action(async (name: string, o) => {
      console.log(JSON.stringify(await clientFrom(o).getTopic(name), null, 2));
    }),
  );
  return cmd;
}
