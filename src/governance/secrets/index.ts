export { SecretStore, SECRET_NAME_PATTERN, MAX_SECRET_BYTES } from './secret-store.ts';
export type { SecretMetadata, SecretStoreOptions, PutSecretOptions, RevealSecretContext } from './secret-store.ts';
export { isSecretRef, secretRefName } from './secret-ref.ts';
export type { SecretRef } from './secret-ref.ts';
export { loadMasterKeys, keyringOf, generateMasterKey, parseMasterKey, masterKeyFromBytes, masterKeyFilePath } from './master-key.ts';
export type { MasterKey, Keyring, LoadedKeyring, KeySource, LoadMasterKeysOptions } from './master-key.ts';
export { rotateMasterKey, rotateKeyFile, rotateEnvMasterKey } from './rotate.ts';
export type { RotateMasterKeyOptions, RotateKeyFileOptions, RotateKeyFileResult, MasterKeyRotationResult } from './rotate.ts';
