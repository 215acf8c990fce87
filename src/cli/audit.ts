import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { isAiosError, loadConfig } from '../core/index.ts';
import { action, clientFrom, withRemote } from './remote.ts';
import { redactSecrets, secretsInEnvironment } from './redact.ts';

interface AuditFilterOptions {
  actor?: string;
  action?: string;
  resource?: string;
  from?: string;
  to?: string;
  lineage?: string;
}

function withFilters(cmd: Command): Command {
  return cmd
    .option('--actor <id>', 'principal id')
    .option('--action <action>', 'e.g. topics:create')
    .option('--resource <type:id>', 'e.g. Topic:vibration')
    .option('--from <rfc3339>', 'records at or after')
    .option('--to <rfc3339>', 'records before')
    .option('--lineage <id>', 'lineage id');
}

function queryString(o: AuditFilterOptions, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  for (const [k, v] of [['actor', o.actor], ['action', o.action], ['resource', o.resource], ['from', o.from], ['to', o.to], ['lineageId', o.lineage]] as const) if (v) q.set(k, v);
  return q.toString();
}

/**
 * `aios audit verify`: checks the audit trail straight from the database (no running AIOS
 * needed), with the public key from AIOS_AUDIT_PUBLIC_KEY or the data directory's signing key.
 * Exit code 0 when the chain is intact, 1 otherwise.
 *
 * @example aios audit verify --data-dir ./.aios
 * @example AIOS_AUDIT_PUBLIC_KEY="$(cat audit.pub)" aios audit verify --database-url postgres://... --json
 */
export function auditCommand(): Command {
  const cmd = new Command('audit').description('inspect the tamper-evident audit trail');
  withRemote(withFilters(cmd.command('query').description('audit records of the namespace, one JSON object per line (from a running AIOS)')).option('--limit <n>', 'most records', '100')).action(
    action(async (o: AuditFilterOptions & { limit: string; url: string }) => {
      const r = await clientFrom(o).request<{ records: unknown[] }>('GET', `/api/v1/audit?${queryString(o, { limit: o.limit })}`);
      for (const rec of r.body.records) console.log(JSON.stringify(rec));
    }),
  );
  withRemote(withFilters(cmd.command('export').description('every matching record as NDJSON, streamed (from a running AIOS)'))).action(
    action(async (o: AuditFilterOptions & { url: string; namespace?: string; keyFile?: string }) => {
      const client = clientFrom(o);
      const res = await client.raw('GET', `/api/v1/audit/export?${queryString(o)}`);
      const reader = res.body!.getReader();
      for (let r = await reader.read(); !r.done; r = await reader.read()) process.stdout.write(r.value);
    }),
  );
  cmd
    .command('verify')
    .description('verify the hash chain, the signed checkpoints and the head of the audit trail')
    .option('--data-dir <dir>', 'AIOS data directory: SQLite at <dir>/aios.db and the signing key (env AIOS_DATA_DIR)')
    .option('--database-url <url>', 'postgres://... to verify a PostgreSQL database (env AIOS_DATABASE_URL)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { dataDir?: string; databaseUrl?: string; json?: boolean }) => {
      let close: (() => Promise<void>) | undefined;
      try {
        const config = loadConfig({ dataDir: o.dataDir, databaseUrl: o.databaseUrl }, process.env);
        // Loaded here so that the other commands start without the database drivers.
        const { createDatabase } = await import('../storage/index.ts');
        const { loadAuditPublicKey, verifyAuditChain } = await import('../governance/audit/index.ts');
        const { publicKey, keyId } = loadAuditPublicKey({ dataDir: config.dataDir, env: process.env });
        const sqliteFile = join(config.dataDir, 'aios.db');
        // Opening a missing SQLite file would create an empty one; verifying that proves nothing.
        if (!config.databaseUrl && !existsSync(sqliteFile)) throw new Error(`no database at ${sqliteFile}; pass --data-dir or --database-url`);
        const database = createDatabase({ url: config.databaseUrl, sqliteFile, poolSize: 1 });
        close = () => database.close();
        const result = await verifyAuditChain(database, { publicKey });
        if (o.json) {
          console.log(JSON.stringify({ ...result, database: database.location, keyId }, null, 2));
        } else if (result.ok) {
          console.log(`audit chain OK: ${result.records} records, ${result.checkpoints} checkpoints`);
        } else {
          for (const p of result.problems) console.log(`${p.seq === null ? '' : `seq ${p.seq}: `}${p.kind}: ${p.message}`);
          console.error(`audit chain FAILED: ${result.problems.length} problem(s) in ${result.records} records, ${result.checkpoints} checkpoints (${database.location}, key ${keyId})`);
        }
        if (!result.ok) process.exitCode = 1;
      } catch (e) {
        console.error(redactSecrets(`aios audit verify failed: ${isAiosError(e) ? `${e.code}: ${e.message}` : (e as Error).message}`, secretsInEnvironment(process.env)));
        process.exitCode = 1;
      } finally {
        await close?.().catch(() => undefined);
      }
    });
  return cmd;
}
