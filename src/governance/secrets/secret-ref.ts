/**
 * How configuration refers to a secret instead of holding its value: `{ "secret": "<name>" }`
 * or the string `"secret:<name>"`. Anything else is a literal value.
 */
export type SecretRef = { readonly secret: string } | `secret:${string}`;

const PREFIX = 'secret:';

/**
 * Whether a configuration value refers to a secret.
 *
 * @example
 * isSecretRef({ secret: 'opcua-password' }) // true
 * isSecretRef('secret:opcua-password')      // true
 * isSecretRef('hunter2')                    // false
 */
export function isSecretRef(value: unknown): value is SecretRef {
  if (typeof value === 'string') return value.startsWith(PREFIX);
  return typeof value === 'object' && value !== null && !Array.isArray(value) && typeof (value as { secret?: unknown }).secret === 'string';
}

/** The secret name a reference points at. */
export function secretRefName(ref: SecretRef): string {
  return typeof ref === 'string' ? ref.slice(PREFIX.length) : ref.secret;
}
