import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { existsSync, linkSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AiosError } from '../../core/index.ts';
import { ensurePrivateDir } from '../../storage/index.ts';

/** The Ed25519 key that signs audit checkpoints. */
export interface AuditSigningKey {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** First 16 hex chars of sha256 over the public key's SPKI DER; names the key in checkpoints. */
  readonly keyId: string;
  /** Where it came from: `AIOS_AUDIT_SIGNING_KEY`, or the path of the key file. */
  readonly source?: string;
}

/** What verification needs: the public half only. */
export interface AuditPublicKey {
  readonly publicKey: KeyObject;
  readonly keyId: string;
}

export interface AuditKeySource {
  /** Where `audit-signing.key` lives (the AIOS data directory). */
  readonly dataDir: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

export const SIGNING_KEY_FILE = 'audit-signing.key';

/**
 * Loads the checkpoint signing key: `AIOS_AUDIT_SIGNING_KEY` (PKCS#8 PEM, or base64 of PKCS#8
 * DER), else `<dataDir>/audit-signing.key` (PEM), which is created (mode 0600) on first use.
 *
 * @example
 * const key = loadAuditSigningKey({ dataDir: config.dataDir, env: process.env });
 * console.log(key.keyId); // '3f2a9c…' (16 hex chars)
 */
export function loadAuditSigningKey({ dataDir, env = process.env }: AuditKeySource): AuditSigningKey {
  const fromEnv = env.AIOS_AUDIT_SIGNING_KEY?.trim();
  const privateKey = fromEnv ? parsePrivateKey(fromEnv, 'AIOS_AUDIT_SIGNING_KEY') : loadOrCreateFile(dataDir);
  const publicKey = createPublicKey(privateKey);
  return Object.freeze({ privateKey, publicKey, keyId: keyIdOf(publicKey), source: fromEnv ? 'AIOS_AUDIT_SIGNING_KEY' : join(dataDir, SIGNING_KEY_FILE) });
}

/**
 * Parses a public key an auditor holds: the path of a file holding SPKI PEM, or the PEM itself,
 * or base64 of the SPKI DER. Throws AIOS_CONFIG_INVALID for anything else, or a key that is not
 * Ed25519.
 *
 * @example const { keyId } = parseAuditPublicKey('./audit.pub', '--public-key');
 */
export function parseAuditPublicKey(value: string, source: string): AuditPublicKey {
  let text = value.trim();
  if (!text.includes('-----BEGIN') && existsSync(text)) text = readFileSync(text, 'utf8').trim();
  const publicKey = parse(source, () =>
    text.includes('-----BEGIN') ? createPublicKey(text) : createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' }),
  );
  requireEd25519(publicKey, source);
  return Object.freeze({ publicKey, keyId: keyIdOf(publicKey) });
}

/**
 * Loads the key that verifies checkpoints, never creating one: `AIOS_AUDIT_PUBLIC_KEY` (as
 * {@link parseAuditPublicKey} takes it), else derived from `AIOS_AUDIT_SIGNING_KEY` or `<dataDir>/audit-signing.key`. Throws
 * AIOS_CONFIG_INVALID when there is none. Keeping the public key apart from the data directory
 * (an auditor's own copy) is what makes a forged checkpoint detectable by someone who could
 * also replace the key file.
 *
 * @example const { publicKey } = loadAuditPublicKey({ dataDir: './.aios', env: process.env });
 */
export function loadAuditPublicKey({ dataDir, env = process.env }: AuditKeySource): AuditPublicKey {
  const pub = env.AIOS_AUDIT_PUBLIC_KEY?.trim();
  if (pub) return parseAuditPublicKey(pub, 'AIOS_AUDIT_PUBLIC_KEY');
  const file = join(dataDir, SIGNING_KEY_FILE);
  if (!env.AIOS_AUDIT_SIGNING_KEY?.trim() && !existsSync(file)) {
    throw new AiosError(
      'AIOS_CONFIG_INVALID',
      `no audit public key: set AIOS_AUDIT_PUBLIC_KEY (SPKI PEM) or AIOS_AUDIT_SIGNING_KEY, or point --data-dir at the directory holding ${SIGNING_KEY_FILE} (looked for ${file})`,
    );
  }
  const { publicKey, keyId } = loadAuditSigningKey({ dataDir, env });
  return Object.freeze({ publicKey, keyId });
}

/** First 16 hex chars of sha256 over the SPKI DER encoding. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

function loadOrCreateFile(dataDir: string): KeyObject {
  const file = join(dataDir, SIGNING_KEY_FILE);
  if (!existsSync(file)) {
    ensurePrivateDir(dataDir);
    const { privateKey } = generateKeyPairSync('ed25519');
    // Written aside, then hard-linked into place: link() fails if the name exists, so of two
    // processes starting at once one creates the key, the other reads it, and neither can read
    // a half-written file.
    const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600, flag: 'wx' });
    try {
      linkSync(tmp, file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      unlinkSync(tmp);
    }
  }
  return parsePrivateKey(readFileSync(file, 'utf8'), file);
}

function parsePrivateKey(text: string, source: string): KeyObject {
  const key = parse(source, () =>
    text.includes('-----BEGIN') ? createPrivateKey(text) : createPrivateKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'pkcs8' }),
  );
  requireEd25519(key, source);
  return key;
}

function parse(source: string, fn: () => KeyObject): KeyObject {
  try {
    return fn();
  } catch (e) {
    throw new AiosError('AIOS_CONFIG_INVALID', `${source} is not a readable key (${(e as Error).message})`, { cause: e });
  }
}

function requireEd25519(key: KeyObject, source: string): void {
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new AiosError('AIOS_CONFIG_INVALID', `${source} must be an Ed25519 key, got ${key.asymmetricKeyType ?? 'a symmetric key'}`);
  }
}
