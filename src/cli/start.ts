import { Command, Option } from 'commander';
import { isAiosError, type ConfigInput, type ConfigOptionSpec } from '../core/index.ts';
import type { Aios, AiosConfig } from '../runtime/index.ts';
import { redactSecrets, secretsInEnvironment } from '../cli-kit/index.ts';

/** `aios start`: every configuration option as a flag; flags beat AIOS_* variables beat the config file. */
export function startCommand(options: readonly ConfigOptionSpec[], loadConfig: (flags: ConfigInput, env: Record<string, string | undefined>, file?: string) => AiosConfig): Command {
  const cmd = new Command('start').description('run AIOS: the HTTP API, workers and scheduler in one process');
  cmd.option('-c, --config <file>', 'JSON config file (env AIOS_CONFIG; default ./aios.config.json when present)');
  for (const o of options) {
    const def = o.default !== undefined ? ` (default: ${o.default})` : '';
    cmd.addOption(new Option(`--${o.flag} <value>`, `${o.description}; env ${o.env}${def}`));
  }
  cmd.action(async (flags: Record<string, string | undefined>) => {
    const input: Record<string, string | undefined> = {};
    for (const o of options) input[o.key] = flags[o.flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())];
    let aios: Aios | undefined;
    try {
      const config = loadConfig(input as ConfigInput, process.env, flags.config);
      // Loaded here so that the client commands (topics, events) start without the server stack.
      const { createAios } = await import('../runtime/index.ts');
      aios = await createAios({ config });
      const running = aios;
      let signalled = false;
      const shutdown = (signal: string) => {
        // Ctrl-C on `npm start` delivers SIGINT twice, from the terminal and forwarded by npm: one drain, bounded by its timeout.
        if (signalled) return running.logger.info({ signal }, 'already shutting down');
        signalled = true;
        running.logger.info({ signal }, 'shutting down: draining in-flight work');
        const timer = setTimeout(() => {
          running.logger.error({ timeoutMs: config.shutdownTimeoutMs }, 'graceful shutdown timed out');
          process.exit(1);
        }, config.shutdownTimeoutMs);
        timer.unref();
        running.stop().then(
          () => {
            process.exitCode = 0;
          },
          (e) => {
            running.logger.error({ err: e }, 'shutdown failed');
            process.exitCode = 1;
          },
        );
      };
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      process.on('SIGINT', () => shutdown('SIGINT'));
      await running.start({ listen: true });
      console.error(`AIOS listening on ${running.url} (docs: ${running.url}/docs)`);
      if (running.createdAdminKeyFile) {
        console.error(`first start: an admin API key was written to ${running.createdAdminKeyFile} (mode 0600); the CLI uses it by default, curl with -H "authorization: Bearer $(cat ${running.createdAdminKeyFile})"`);
      }
    } catch (e) {
      const msg = isAiosError(e) ? `${e.code}: ${e.message}` : (e as Error).stack ?? String(e);
      console.error(redactSecrets(`aios start failed: ${msg}`, secretsInEnvironment(process.env)));
      await aios?.stop().catch(() => undefined);
      process.exitCode = 1;
    }
  });
  return cmd;
}
