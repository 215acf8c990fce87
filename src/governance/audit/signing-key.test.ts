import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyIdOf, loadAuditPublicKey, loadAuditSigningKey } from './signing-key.ts';

const root = mkdtempSync(join(tmpdir(), 'aios-key-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('audit signing key', () => {
  it('creates <dataDir>/audit-signing.key (mode 0600) on first use and reuses it', () => {
    const dataDir = join(root, 'a', 'nested');
    const first = loadAuditSigningKey({ dataDir, env: {} });
    const file = join(dataDir, 'audit-signing.key');
    expect(readFileSync(file, 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(first.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(first.privateKey.asymmetricKeyType).toBe('ed25519');
    const again = loadAuditSigningKey({ dataDir, env: {} });
    expect(again.keyId).toBe(first.keyId);
    const sig = sign(null, Buffer.from('m'), first.privateKey);
    expect(verify(null, Buffer.from('m'), again.publicKey, sig)).toBe(true);
  });

  it('prefers AIOS_AUDIT_SIGNING_KEY, as PEM or base64 DER', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const dataDir = join(root, 'env');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    expect(loadAuditSigningKey({ dataDir, env: { AIOS_AUDIT_SIGNING_KEY: pem } }).keyId).toBe(keyIdOf(publicKey));
    expect(loadAuditSigningKey({ dataDir, env: { AIOS_AUDIT_SIGNING_KEY: der } }).keyId).toBe(keyIdOf(publicKey));
    expect(() => statSync(join(dataDir, 'audit-signing.key'))).toThrow();
  });

  it('refuses a key that is not Ed25519', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    expect(() => loadAuditSigningKey({ dataDir: root, env: { AIOS_AUDIT_SIGNING_KEY: rsa } })).toThrow(/Ed25519/);
    expect(() => loadAuditSigningKey({ dataDir: root, env: { AIOS_AUDIT_SIGNING_KEY: 'nonsense' } })).toThrow(/AIOS_AUDIT_SIGNING_KEY/);
  });

  it('loads a public key for verification without ever creating one', () => {
    const empty = join(root, 'empty');
    expect(() => loadAuditPublicKey({ dataDir: empty, env: {} })).toThrow(/no audit public key/);
    expect(() => statSync(join(empty, 'audit-signing.key'))).toThrow();

    const { publicKey } = generateKeyPairSync('ed25519');
    const spki = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    expect(loadAuditPublicKey({ dataDir: empty, env: { AIOS_AUDIT_PUBLIC_KEY: spki } }).keyId).toBe(keyIdOf(publicKey));

    const signer = loadAuditSigningKey({ dataDir: join(root, 'b'), env: {} });
    expect(loadAuditPublicKey({ dataDir: join(root, 'b'), env: {} }).keyId).toBe(signer.keyId);
  });
});
