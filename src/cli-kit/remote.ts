import type { Command } from 'commander';
import { AiosClient, ApiError } from '../sdk/index.ts';
import { readApiKey } from './key-file.ts';
import { redactSecrets } from './redact.ts';

/** The options every command that talks to a running AIOS takes. */
export function withRemote(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'AIOS API address (env AIOS_URL)', process.env.AIOS_URL ?? `http://127.0.0.1:${process.env.AIOS_PORT ?? 8080}`)
    .option('-n, --namespace <ns>', 'namespace to act in (env AIOS_NAMESPACE); default: the key\'s own', process.env.AIOS_NAMESPACE)
    .option('--key-file <file>', 'file holding the API key (env AIOS_KEY_FILE); default <data-dir>/admin.key', process.env.AIOS_KEY_FILE);
}

// The keys this process loaded: an error message that quotes one is printed without it.
const loadedKeys = new Set<string>();
// Where the key of this process came from, named when the server refuses it.
let keySource: string | undefined;

/**
 * A client for the command's options, with the key from AIOS_API_KEY or the key file. Throws,
 * naming the file or variable and never its content, when there is no usable key.
 */
export function clientFrom(opts: { url: string; namespace?: string; keyFile?: string }): AiosClient {
  const { token, source } = readApiKey(opts, process.env);
  loadedKeys.add(token);
  keySource = source;
  return new AiosClient({ url: opts.url, namespace: opts.namespace, token });
}

/** Prints a line of an error to stderr, with every credential it might quote removed. */
export function printError(text: string): void {
  console.error(redactSecrets(text, loadedKeys));
}

/**
 * Runs a CLI action; an error prints its code and detail (never a key, token or password) and
 * sets a failing exit code.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const url = (args.at(-2) as { url?: string } | undefined)?.url ?? 'the given URL';
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      if (e instanceof ApiError) {
        printError(`error: ${e.message}`);
        const errors = (e.body as { errors?: { path: string; message: string }[] })?.errors;
        for (const fe of errors ?? []) printError(`  ${fe.path}: ${fe.message}`);
        if (e.status === 401 && keySource) printError(`  the key from ${keySource} was refused: it may be revoked or expired, or belong to another AIOS`);
      } else if (cause?.code === 'ECONNREFUSED') {
        printError(`error: no AIOS answers at ${url}; start one with "aios start"`);
      } else {
        printError(`error: ${(e as Error).message}${cause?.message ? ` (${cause.message})` : ''}`);
      }
      process.exitCode = 1;
    }
  };
}
