import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { isAiosError, loadConfig } from '../core/index.ts';

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
        console.error(`aios audit verify failed: ${isAiosError(e) ? `${e.code}: ${e.message}` : (e as Error).message}`);
        process.exitCode = 1;
      } finally {
        await close?.().catch(() => undefined);
      }
    });
  return cmd;
}
