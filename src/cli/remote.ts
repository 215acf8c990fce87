import type { Command } from 'commander';
import { AiosClient, ApiError } from '../sdk/index.ts';

/** The options every command that talks to a running AIOS takes. */
export function withRemote(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'AIOS API address (env AIOS_URL)', process.env.AIOS_URL ?? `http://127.0.0.1:${process.env.AIOS_PORT ?? 8080}`)
    .option('-n, --namespace <ns>', 'namespace (env AIOS_NAMESPACE)', process.env.AIOS_NAMESPACE ?? 'default');
}

export function clientFrom(opts: { url: string; namespace: string }): AiosClient {
  return new AiosClient({ url: opts.url, namespace: opts.namespace });
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
