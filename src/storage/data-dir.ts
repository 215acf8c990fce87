import { chmodSync, existsSync, lstatSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

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

/**
 * Brings each named file of `dir` that exists and that others may use to 0600; returns those it
 * changed, with the mode they had. Symbolic links are left alone (their target is not ours).
 *
 * @example
 * for (const { file, mode } of tightenFiles(dataDir, ['admin.key'])) logger.warn({ file, mode }, 'tightened');
 */
export function tightenFiles(dir: string, names: readonly string[]): { file: string; mode: number }[] {
  const changed: { file: string; mode: number }[] = [];
  for (const name of names) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const st = lstatSync(file);
    if (!st.isFile() || (st.mode & 0o077) === 0) continue;
    chmodSync(file, PRIVATE_FILE_MODE);
    changed.push({ file, mode: st.mode & 0o777 });
  }
  return changed;
}
