import { createHash, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { inspect } from 'node:util';
import { AiosError } from '../../core/index.ts';
import { KEY_BYTES } from './envelope.ts';
import { readKeyText, writeKeyFileExclusive } from './key-file.ts';
import { GovernanceError } from '../errors.ts';

/** A 256-bit master key and its fingerprint. `id` is safe to print and store; `key` is not. */
export interface MasterKey {
  /** `mk_` + the first 16 hex digits of sha256(key). */
  readonly id: string;
  readonly key: Buffer;
}

/** The key new data keys are wrapped with, and every key that may unwrap an existing one. */
export interface Keyring {
  readonly active: MasterKey;
  readonly all: ReadonlyMap<string, MasterKey>;
}

/** Where the active key came from; the rotation CLI follows a different procedure for each. */
export type KeySource = { readonly kind: 'env' } | { readonly kind: 'file'; readonly path: string; readonly created: boolean };

export interface LoadedKeyring extends Keyring {
  readonly source: KeySource;
}

export interface LoadMasterKeysOptions {
  readonly dataDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Default: `env.AIOS_MASTER_KEY_FILE`, else `<dataDir>/master.key`. */
  readonly keyFile?: string;
}

const HOW_TO_GENERATE = 'generate one with: openssl rand -base64 32';
// Exactly 32 bytes in standard base64 is 43 characters and one '=' of padding.
const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;

/**
 * Builds a MasterKey from 32 raw bytes. The returned object serialises (JSON, util.inspect, so
 * pino too) as its id only, so that logging a keyring by mistake does not print key material.
 */
export function masterKeyFromBytes(bytes: Buffer): MasterKey {
  if (bytes.length !== KEY_BYTES) throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `a master key must be exactly ${KEY_BYTES} bytes; ${HOW_TO_GENERATE}`);
  const key = Buffer.from(bytes);
  const id = `mk_${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
  const mk = { id, key };
  Object.defineProperty(mk, 'toJSON', { value: () => ({ id }) });
  Object.defineProperty(mk, inspect.custom, { value: () => `MasterKey(${id})` });
  return Object.freeze(mk);
}

/**
 * Parses base64 of exactly 32 bytes (surrounding whitespace allowed, as in a file with a final
 * newline). `source` names where the text came from; the text itself never enters the message.
 *
 * @example parseMasterKey(process.env.AIOS_MASTER_KEY!, 'AIOS_MASTER_KEY').id // 'mk_3f9a…'
 */
export function parseMasterKey(text: string, source: string): MasterKey {
  const t = text.trim();
  if (!BASE64_32.test(t)) {
    throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `${source} must be exactly 32 bytes encoded as base64 (44 characters); ${HOW_TO_GENERATE}`);
  }
  return masterKeyFromBytes(Buffer.from(t, 'base64'));
}

/** A fresh random master key. */
export function generateMasterKey(): MasterKey {
  return masterKeyFromBytes(randomBytes(KEY_BYTES));
}

/** The key file path `loadMasterKeys` uses for these options. */
export function masterKeyFilePath(opts: LoadMasterKeysOptions): string {
  return resolve(opts.keyFile ?? (opts.env.AIOS_MASTER_KEY_FILE || join(opts.dataDir, 'master.key')));
}

/**
 * Loads the master keyring.
 *
 * - `AIOS_MASTER_KEY` (base64, 32 bytes) set: it is the active key, and no file is read.
 * - otherwise the key file (`keyFile`, `AIOS_MASTER_KEY_FILE`, or `<dataDir>/master.key`) is the
 *   active key; on first start it is created with mode 0600. It lives beside the database, never
 *   in it, so a copy of the database alone reveals nothing.
 *
 * Also loaded, for unwrapping only: `AIOS_MASTER_KEY_PREVIOUS` (the old key during a rotation),
 * `<keyFile>.next` (left by an interrupted `aios secrets rotate-master-key`: the database may
 * already be re-wrapped under it), and `AIOS_NEW_MASTER_KEY` (the env counterpart of `.next`).
 *
 * @example
 * const keyring = loadMasterKeys({ dataDir: config.dataDir, env: process.env });
 * const store = new SecretStore({ database, clock: systemClock, keyring, audit });
 */
export function loadMasterKeys(opts: LoadMasterKeysOptions): LoadedKeyring {
  const { env } = opts;
  let active: MasterKey;
  let source: KeySource;
  const extra: MasterKey[] = [];
  if (env.AIOS_MASTER_KEY) {
    active = parseMasterKey(env.AIOS_MASTER_KEY, 'AIOS_MASTER_KEY');
    source = { kind: 'env' };
  } else {
    const path = masterKeyFilePath(opts);
    const next = readKeyFile(`${path}.next`);
    let existing = readKeyFile(path);
    let created = false;
    if (!existing) {
      if (next) {
        // Creating a fresh key here would hide that the key the data was written under is gone.
        throw new GovernanceError(
          'AIOS_SECRETS_MASTER_KEY',
          `the master key file ${path} is missing but ${path}.next exists (an interrupted rotation): ` +
            `restore ${path} from a backup, or, if the rotation had re-wrapped the database, rename ${path}.next to ${path}`,
        );
      }
      created = writeMasterKeyFile(path, generateMasterKey());
      // Another process may have created it first; either way the file on disk is the key.
      existing = readKeyFile(path);
      if (!existing) throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `could not create the master key file ${path}`);
    }
    active = existing;
    source = { kind: 'file', path, created };
    if (next) extra.push(next);
  }
  if (env.AIOS_MASTER_KEY_PREVIOUS) extra.push(parseMasterKey(env.AIOS_MASTER_KEY_PREVIOUS, 'AIOS_MASTER_KEY_PREVIOUS'));
  if (env.AIOS_NEW_MASTER_KEY) extra.push(parseMasterKey(env.AIOS_NEW_MASTER_KEY, 'AIOS_NEW_MASTER_KEY'));
  return Object.freeze({ ...keyringOf(active, extra), source });
}

/**
 * A keyring from keys already in hand (library use, tests).
 *
 * @example const keyring = keyringOf(generateMasterKey());
 */
export function keyringOf(active: MasterKey, others: readonly MasterKey[] = []): Keyring {
  const all = new Map<string, MasterKey>([[active.id, active]]);
  for (const k of others) if (!all.has(k.id)) all.set(k.id, k);
  return Object.freeze({ active, all });
}

/** Reads a key file; undefined when it does not exist, AIOS_SECRETS_MASTER_KEY when malformed. */
export function readKeyFile(path: string): MasterKey | undefined {
  const text = readKeyText(path);
  return text === undefined ? undefined : parseMasterKey(text, `the master key file ${path}`);
}

/** Writes `key` to `path` (mode 0600) unless the file exists; returns whether it wrote. */
export function writeMasterKeyFile(path: string, key: MasterKey): boolean {
  return writeKeyFileExclusive(path, `${key.key.toString('base64')}\n`);
}
