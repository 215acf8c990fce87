import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { isAiosError } from '../../core/index.ts';
import type { CliContext } from '../../capability/index.ts';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';
import { redactSecrets, secretsInEnvironment } from '../../cli-kit/index.ts';

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
 * needed), with the public key from --public-key, AIOS_AUDIT_PUBLIC_KEY or the data directory's
 * signing key, and against a witness file when given one. Exit code 0 when the trail is intact,
 * 1 otherwise.
 *
 * @example aios audit verify --data-dir ./.aios
 * @example aios audit verify --database-url postgres://... --public-key audit.pub --witness /mnt/witness/aios.ndjson --json
 */
export function auditCommand(ctx: CliContext): Command {
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
    .description('verify the hash chain, the chain of signed checkpoints, their cover and the head of the audit trail, and the database against a witness')
    .option('--data-dir <dir>', 'AIOS data directory: SQLite at <dir>/aios.db and the signing key (env AIOS_DATA_DIR)')
    .option('--database-url <url>', 'postgres://... to verify a PostgreSQL database (env AIOS_DATABASE_URL)')
    .option('--public-key <file|pem|base64>', 'the Ed25519 public key checkpoints must be signed with: a file of SPKI PEM, the PEM, or base64 SPKI DER (env AIOS_AUDIT_PUBLIC_KEY)')
    .option('--witness <file>', 'NDJSON of witnessed checkpoints (AIOS_AUDIT_WITNESS_FILE of the writers, or what a webhook witness stored)')
    .option('--cover-within-ms <ms>', 'records older than this must be covered by a checkpoint (default: twice AIOS_AUDIT_CHECKPOINT_INTERVAL_MS)')
    .option('--json', 'print the result as JSON')
    .action(async (o: { dataDir?: string; databaseUrl?: string; publicKey?: string; witness?: string; coverWithinMs?: string; json?: boolean }) => {
      let close: (() => Promise<void>) | undefined;
      try {
        const config = ctx.loadConfig({ dataDir: o.dataDir, databaseUrl: o.databaseUrl }, process.env) as { dataDir: string; databaseUrl?: string; auditCheckpointIntervalMs: number };
        // Loaded here so that the other commands start without the database drivers.
        const { createDatabase } = await import('../../storage/index.ts');
        const { loadAuditPublicKey, parseAuditPublicKey, parseWitness, verifyAuditChain } = await import('../audit/index.ts');
        const { publicKey, keyId } = o.publicKey ? parseAuditPublicKey(o.publicKey, '--public-key') : loadAuditPublicKey({ dataDir: config.dataDir, env: process.env });
        const coverWithinMs = o.coverWithinMs === undefined ? 2 * config.auditCheckpointIntervalMs : Number(o.coverWithinMs);
        if (!Number.isSafeInteger(coverWithinMs) || coverWithinMs < 0) throw new Error(`--cover-within-ms must be a non-negative integer, got ${JSON.stringify(o.coverWithinMs)}`);
        // Read before the database: every checkpoint a writer publishes is stored first.
        const witness = o.witness === undefined ? undefined : parseWitness(readWitness(o.witness));
        const sqliteFile = join(config.dataDir, 'aios.db');
        // Opening a missing SQLite file would create an empty one; verifying that proves nothing.
        if (!config.databaseUrl && !existsSync(sqliteFile)) throw new Error(`no database at ${sqliteFile}; pass --data-dir or --database-url`);
        const database = createDatabase({ url: config.databaseUrl, sqliteFile, poolSize: 1 });
        close = () => database.close();
        const result = await verifyAuditChain(database, { publicKey, witness, coverWithinMs });
        const what = `${result.records} records, ${result.checkpoints} checkpoints${result.unchainedCheckpoints ? ` (+${result.unchainedCheckpoints} unchained)` : ''}, ${witness ? `${result.witnessed} witnessed` : 'no witness'}`;
        if (o.json) {
          console.log(JSON.stringify({ ...result, database: database.location, keyId }, null, 2));
        } else if (result.ok) {
          console.log(`audit chain OK: ${what}`);
        } else {
          for (const p of result.problems) console.log(`${p.seq === null ? '' : `seq ${p.seq}: `}${p.kind}: ${p.message}`);
          console.error(`audit chain FAILED: ${result.problems.length} problem(s) in ${what} (${database.location}, key ${keyId})`);
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

function readWitness(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the witness ${file}: ${(e as Error).message}`);
  }
}
