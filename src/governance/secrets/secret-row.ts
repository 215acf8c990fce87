import type { Kysely } from 'kysely';
import { AiosError } from '../../core/index.ts';
import { unwrapKey } from './envelope.ts';
import type { Keyring } from './master-key.ts';
import { GovernanceError } from '../errors.ts';

/** A row of `aios_secrets` (migration 0006). Base64 in the crypto columns; epoch ms in the times. */
export interface SecretRow {
  ns: string;
  name: string;
  version: number;
  wrapped_key: string;
  master_key_id: string;
  iv: string;
  ciphertext: string;
  tag: string;
  created_at: number;
  updated_at: number;
  created_by: string | null;
  description: string | null;
}

export type SecretsDb = Kysely<{ aios_secrets: SecretRow }>;

/**
 * Additional authenticated data: the value and its wrapped data key only open at the
 * (ns, name, version) they were written for, so a row's crypto columns copied onto another
 * secret, or an older version's onto a newer row, fail authentication instead of decrypting.
 * JSON keeps the fields unambiguous whatever characters they hold; the labels keep the two uses
 * apart.
 */
export function valueAad(ns: string, name: string, version: number): Buffer {
  return Buffer.from(JSON.stringify(['aios-secret-value/v1', ns, name, version]));
}

export function dataKeyAad(ns: string, name: string, version: number): Buffer {
  return Buffer.from(JSON.stringify(['aios-secret-data-key/v1', ns, name, version]));
}

type KeyColumns = Pick<SecretRow, 'ns' | 'name' | 'version' | 'wrapped_key' | 'master_key_id'>;

/** Unwraps a row's data key with the master key it names; AIOS_SECRETS_MASTER_KEY when it cannot. */
export function unwrapRowKey(row: KeyColumns, keyring: Keyring): Buffer {
  const master = keyring.all.get(row.master_key_id);
  if (!master) {
    throw new GovernanceError(
      'AIOS_SECRETS_MASTER_KEY',
      `secret ${row.name} is wrapped by master key ${row.master_key_id}, which is not loaded (loaded: ${[...keyring.all.keys()].join(', ')}); ` +
        'start AIOS with that key (AIOS_MASTER_KEY, AIOS_MASTER_KEY_PREVIOUS or the key file)',
    );
  }
  try {
    return unwrapKey(master.key, row.wrapped_key, dataKeyAad(row.ns, row.name, Number(row.version)));
  } catch (e) {
    throw new GovernanceError('AIOS_SECRETS_MASTER_KEY', `master key ${master.id} does not unwrap the data key of secret ${row.name}: the key or the stored row is wrong`, { cause: e });
  }
}
