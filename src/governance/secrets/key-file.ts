import { randomBytes } from 'node:crypto';
import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir } from '../../storage/index.ts';

/**
 * File I/O for key files, written so that a crash never leaves a half-written key behind: the
 * bytes go to a temporary file (mode 0600, fsynced), which is then linked or renamed into place
 * and the directory fsynced. Knows nothing about what the bytes mean.
 */

/** The file's text, or undefined when it does not exist. */
export function readKeyText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * Creates `path` holding `text` unless it already exists; returns whether it did. `link` fails
 * with EEXIST instead of replacing, so two processes starting at once agree on one key.
 */
export function writeKeyFileExclusive(path: string, text: string): boolean {
  const tmp = writeTemp(path, text);
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
  syncDir(dirname(path));
  return true;
}

/** Renames `from` over `to` atomically (POSIX rename), then makes the rename durable. */
export function replaceFile(from: string, to: string): void {
  renameSync(from, to);
  syncDir(dirname(to));
}

function writeTemp(path: string, text: string): string {
  ensurePrivateDir(dirname(path));
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // The mode given to open is reduced by the umask; set it explicitly so it is exactly 0600.
    fchmodSync(fd, 0o600);
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return tmp;
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some platforms (Windows) cannot fsync a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
