import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';

/** The data directory holds the database and key material: its owner alone may enter it. */
export const PRIVATE_DIR_MODE = 0o700;
/** Every file AIOS creates in the data directory. */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Creates `dir` (with any missing parents) as 0700, whatever the umask. An existing directory is
 * left as it is: it may be shared on purpose (`--data-dir .`); `exposedMode` tells the caller
 * whether to warn.
 *
 * @example
 * ensurePrivateDir('./.aios');
 */
export function ensurePrivateDir(dir: string): void {
  if (existsSync(dir)) return;
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  // mkdir's mode is reduced by the umask; chmod is not.
  chmodSync(dir, PRIVATE_DIR_MODE);
}

/** The permission bits of an existing directory when others than its owner may use it, else undefined. */
export function exposedMode(dir: string): number | undefined {
  if (!existsSync(dir)) return undefined;
  const mode = statSync(dir).mode & 0o777;
  return mode & 0o077 ? mode : undefined;
}
