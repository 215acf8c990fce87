import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import type { CliContext } from '../../capability/index.ts';
import { isAiosError } from '../../core/index.ts';
import { loadMasterKeys, masterKeyFilePath, parseMasterKey, rotateEnvMasterKey, rotateKeyFile } from '../secrets/index.ts';
import { createDatabase, migrate, type Database } from '../../storage/index.ts';
import { redactSecrets, secretsInEnvironment } from '../../cli-kit/index.ts';

/**
 * `aios secrets`: operations on the secret store that need the master key, run against the
 * database directly (no server). Prints key ids only, never key material or secret values.
 */
export function secretsCommand(ctx: CliContext): Command {
  const cmd = new Command('secrets').description('manage the encrypted secret store');
  cmd
    .command('rotate-master-key')
    .description(
      're-wrap every secret data key under a new master key. With a key file: generates the new key and replaces the file. ' +
        'With AIOS_MASTER_KEY: takes the new key from AIOS_NEW_MASTER_KEY; set AIOS_MASTER_KEY to it afterwards',
    )
    .option('-c, --config <file>', 'JSON config file (env AIOS_CONFIG)')
    .option('--data-dir <dir>', 'data directory (env AIOS_DATA_DIR; default ./.aios)')
    .option('--database-url <url>', 'postgres://... (env AIOS_DATABASE_URL; default SQLite at <data-dir>/aios.db)')
    .option('--key-file <file>', 'master key file (env AIOS_MASTER_KEY_FILE; default <data-dir>/master.key)')
    .option('--no-keep-retired', 'do not keep the old key as <key-file>.retired-<id> (when it is known to be exposed)')
    .action(async (o: { config?: string; dataDir?: string; databaseUrl?: string; keyFile?: string; keepRetired: boolean }) => {
      let database: Database | undefined;
      try {
        const config = ctx.loadConfig({ dataDir: o.dataDir, databaseUrl: o.databaseUrl }, process.env, o.config) as { dataDir: string; databaseUrl?: string };
        const keyOpts = { dataDir: config.dataDir, env: process.env, keyFile: o.keyFile };
        const sqliteFile = join(config.dataDir, 'aios.db');
        // A wrong --data-dir must not leave a fresh key file and an empty database behind.
        if (!process.env.AIOS_MASTER_KEY && !existsSync(masterKeyFilePath(keyOpts))) throw new Error(`there is no master key file at ${masterKeyFilePath(keyOpts)}`);
        if (!config.databaseUrl && !existsSync(sqliteFile)) throw new Error(`there is no database at ${sqliteFile}`);
        const keyring = loadMasterKeys(keyOpts);
        database = createDatabase({ url: config.databaseUrl, sqliteFile });
        await migrate(database, ctx.migrations);
        if (keyring.source.kind === 'file') {
          const r = await rotateKeyFile({ database, keyring, keyFile: keyring.source.path, keepRetired: o.keepRetired });
          if (r.resumed) console.error(`finished an interrupted rotation (found ${keyring.source.path}.next)`);
          console.log(`re-wrapped ${r.rewrapped} data keys under master key ${r.newKeyId}`);
          console.error(`${keyring.source.path} now holds master key ${r.newKeyId} (was ${r.oldKeyId}); restart every AIOS process that uses it`);
          if (r.retiredFile) {
            console.error(`the old key is kept in ${r.retiredFile}: delete it once every AIOS process has restarted and no backup from before this rotation is needed`);
          }
        } else {
          if (!process.env.AIOS_NEW_MASTER_KEY) {
            throw new Error('AIOS_MASTER_KEY is set, so the new key must come from AIOS_NEW_MASTER_KEY (generate one with: openssl rand -base64 32)');
          }
          const newKey = parseMasterKey(process.env.AIOS_NEW_MASTER_KEY, 'AIOS_NEW_MASTER_KEY');
          const r = await rotateEnvMasterKey({ database, keyring, newKey });
          console.log(`re-wrapped ${r.rewrapped} data keys under master key ${r.newKeyId}`);
          console.error(
            'now set AIOS_MASTER_KEY to the value of AIOS_NEW_MASTER_KEY and restart AIOS; ' +
              `until every process has restarted, keep the old value as AIOS_MASTER_KEY_PREVIOUS (it is ${keyring.active.id})`,
          );
        }
      } catch (e) {
        console.error(redactSecrets(`aios secrets rotate-master-key failed: ${isAiosError(e) ? `${e.code}: ${e.message}` : (e as Error).message}`, secretsInEnvironment(process.env)));
        process.exitCode = 1;
      } finally {
        await database?.close().catch(() => undefined);
      }
    });
  return cmd;
}
