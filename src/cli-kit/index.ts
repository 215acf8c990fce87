export { action, clientFrom, printError, withRemote } from './remote.ts';
export { readApiKey, reserveKeyFile } from './key-file.ts';
export type { ApiKeySource, ReservedKeyFile } from './key-file.ts';
export { redactSecrets, secretsInEnvironment } from './redact.ts';
