import { existsSync, linkSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** The API key the CLI sends, and where it came from (a file name or a variable name: never the key). */
export interface ApiKeySource {
  readonly token: string;
  readonly source: string;
}

// RFC 6750 b64token: what a bearer credential may hold. An AIOS key (aios_<id>_<secret>) and a JWT
// both fit; a key file with anything else (a second line, npm's banner, a space) does not.
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
const MAX_TOKEN_CHARS = 16 * 1024;

const HOW_TO_GET_ONE =
  'the first "aios start" writes the admin key to <data-dir>/admin.key (set AIOS_DATA_DIR when the data directory is elsewhere); ' +
  'another key comes from "aios keys create NAME --role ROLE --out FILE", used with --key-file FILE, AIOS_KEY_FILE or AIOS_API_KEY';

/** Describes what is wrong with a token without quoting any of it. */
function checkToken(token: string, source: string): string {
  const t = token.trim();
  if (t === '') throw new Error(`${source} is empty: it should hold one API key; ${HOW_TO_GET_ONE}`);
  if (t.length > MAX_TOKEN_CHARS) throw new Error(`${source} does not hold an API key: it has ${t.length} characters`);
  if (!BEARER_TOKEN.test(t)) {
    const lines = t.split(/\r?\n/).length;
    const what = lines > 1 ? `it has ${lines} lines` : 'it has characters that no key has (such as spaces or quotes)';
    const cause = lines > 1 ? ' (a key redirected from "npm run aios -- keys create ... > FILE" has npm\'s banner in front of it)' : '';
    throw new Error(
      `${source} does not hold an API key: ${what}, where a key is one line "aios_<id>_<secret>"${cause}; ` +
        'create the key again with "aios keys create NAME --role ROLE --out FILE"',
    );
  }
  return t;
}

/**
 * The API key the CLI sends: AIOS_API_KEY, else the key file (`--key-file`, AIOS_KEY_FILE, or the
 * admin key the first start wrote to <data-dir>/admin.key). Keys come from the environment or a
 * file, never from a flag, so they stay out of shell history and process lists. A missing or
 * malformed key is an error that names the file or variable and never quotes its content.
 *
 * @example const { token, source } = readApiKey({ keyFile: 'gateway.key' }, process.env);
 */
export function readApiKey(opts: { keyFile?: string }, env: Record<string, string | undefined>): ApiKeySource {
  if (env.AIOS_API_KEY) return { token: checkToken(env.AIOS_API_KEY, 'AIOS_API_KEY'), source: 'AIOS_API_KEY' };
  const file = opts.keyFile ?? join(env.AIOS_DATA_DIR ?? './.aios', 'admin.key');
  if (!existsSync(file)) throw new Error(`no API key: there is no key file at ${file}; ${HOW_TO_GET_ONE}`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`cannot read the key file ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
  return { token: checkToken(text, `the key file ${file}`), source: file };
}

/** A key file reserved before the key is created, so that a key is never made that cannot be stored. */
export interface ReservedKeyFile {
  /** Writes the key (mode 0600) and puts the file in place; without `force` never over an existing file. */
  write(key: string): void;
  /** Removes the reservation (the key was not created). */
  abandon(): void;
}

/**
 * Reserves `file` for a new key: refuses an existing file unless `force`, and creates an empty
 * 0600 file beside it that `write` fills and moves into place (a link without `force`, so a file
 * that appeared meanwhile is never replaced; a rename with it).
 *
 * @example const out = reserveKeyFile('gateway.key', { force: false }); out.write(key);
 */
export function reserveKeyFile(file: string, opts: { force: boolean }): ReservedKeyFile {
  if (!opts.force && existsSync(file)) throw new Error(`${file} exists; pass --force to replace it`);
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, '', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    throw new Error(`cannot write the key file ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return {
    write(key) {
      try {
        writeFileSync(tmp, `${key}\n`, { mode: 0o600 });
        if (opts.force) renameSync(tmp, file);
        else linkSync(tmp, file);
      } finally {
        rmSync(tmp, { force: true });
      }
    },
    abandon() {
      rmSync(tmp, { force: true });
    },
  };
}
