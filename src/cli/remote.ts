import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { AiosClient, ApiError } from '../sdk/index.ts';

/** The options every command that talks to a running AIOS takes. */
export function withRemote(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'AIOS API address (env AIOS_URL)', process.env.AIOS_URL ?? `http://127.0.0.1:${process.env.AIOS_PORT ?? 8080}`)
    .option('-n, --namespace <ns>', 'namespace to act in (env AIOS_NAMESPACE); default: the key\'s own', process.env.AIOS_NAMESPACE)
    .option('--key-file <file>', 'file holding the API key (env AIOS_KEY_FILE); default <data-dir>/admin.key', process.env.AIOS_KEY_FILE);
}

/**
 * The API key the CLI sends: AIOS_API_KEY, else the key file (by default the admin key the
 * first start wrote to <data-dir>/admin.key). Keys are read from the environment or a file,
 * never from a flag, so they stay out of shell history and process lists.
 */
export function apiKeyFrom(opts: { keyFile?: string }): string | undefined {
  if (process.env.AIOS_API_KEY) return process.env.AIOS_API_KEY;
  const file = opts.keyFile ?? join(process.env.AIOS_DATA_DIR ?? './.aios', 'admin.key');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined;
}

export function clientFrom(opts: { url: string; namespace?: string; keyFile?: string }): AiosClient {
  return new AiosClient({ url: opts.url, namespace: opts.namespace, token: apiKeyFrom(opts) });
}

/** Runs a CLI action; an API error prints its code and detail and sets a failing exit code. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      if (e instanceof ApiError) {
        console.error(`error: ${e.message}`);
        const errors = (e.body as { errors?: { path: string; message: string }[] })?.errors;
        for (const fe of errors ?? []) console.error(`  ${fe.path}: ${fe.message}`);
      } else if ((e as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED') {
        console.error(`error: no AIOS answers at ${(args.at(-2) as { url?: string })?.url ?? 'the given URL'}; start one with "aios start"`);
      } else {
        console.error(`error: ${(e as Error).message}`);
      }
      process.exitCode = 1;
    }
  };
}
