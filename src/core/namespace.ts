/**
 * Namespace names, defined once. A namespace (tenant) is named by 1-63 lowercase letters, digits,
 * `-` and `_`, starting with a letter or a digit: short enough for every index and rate-limit
 * key on both engines, and plain enough to sit in a URL, a log line or a qualified principal id
 * (`plant-a/ana`) without escaping.
 *
 * @example
 * namespaceProblem('plant-a');   // undefined: a valid name
 * namespaceProblem('Plant A');   // 'must be 1-63 of a-z, 0-9, "-" and "_", starting with a letter or digit'
 */
export const NAMESPACE_PATTERN = '^[a-z0-9][a-z0-9_-]{0,62}$';

export const MAX_NAMESPACE_LENGTH = 63;

/** What a principal of every namespace names as its own; never the namespace of a stored record's data. */
export const ALL_NAMESPACES = '*';

/**
 * Where AIOS records what belongs to no tenant: denials of requests that did not authenticate.
 * Namespaces starting with `aios-` are AIOS's own: no key or token belongs to one.
 */
export const SYSTEM_NAMESPACE = 'aios-system';

const NAMESPACE = new RegExp(NAMESPACE_PATTERN);

/** Why `ns` is not a namespace name, or undefined when it is one. */
export function namespaceProblem(ns: unknown): string | undefined {
  if (typeof ns !== 'string') return 'must be a string';
  if (ns.length > MAX_NAMESPACE_LENGTH) return `is ${ns.length} characters long; at most ${MAX_NAMESPACE_LENGTH} are allowed`;
  if (!NAMESPACE.test(ns)) return 'must be 1-63 of a-z, 0-9, "-" and "_", starting with a letter or digit';
  return undefined;
}

export function isNamespaceName(ns: unknown): ns is string {
  return namespaceProblem(ns) === undefined;
}

/** Namespaces AIOS keeps for itself (`aios-system`, anything starting `aios-`). */
export function isReservedNamespace(ns: string): boolean {
  return ns === 'aios' || ns.startsWith('aios-') || ns.startsWith('aios_');
}
