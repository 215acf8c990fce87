const REDACTED = '[redacted]';

// Shapes of credentials that may reach an error message: an AIOS key's secret part (its id, the
// visible prefix, is kept), a bearer header value, a JWT, and a password in a URL.
const PATTERNS: [RegExp, string][] = [
  [/\b(aios_[a-z0-9]{12})_[A-Za-z0-9_-]+/g, `$1_${REDACTED}`],
  // Quoted (as undici quotes an invalid header value), everything up to the closing quote, lines and all.
  [/(["'])Bearer\s[^"']*\1/gi, `$1Bearer ${REDACTED}$1`],
  [/\b(Bearer)\s+(?!\[redacted\])[^\s"']+/gi, `$1 ${REDACTED}`],
  [/\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, REDACTED],
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, `$1${REDACTED}@`],
];

/**
 * Text that is safe to print: every `known` value (the key the CLI loaded) and every string shaped
 * like a credential is replaced. Error messages from the platform, fetch or the server may quote
 * what they were given; the CLI prints them only through this.
 *
 * @example redactSecrets('Headers.append: "Bearer aios_abcdefghijkm_s3cr3t..." is an invalid header value') // '... "Bearer [redacted]" ...'
 */
export function redactSecrets(text: string, known: Iterable<string> = []): string {
  let out = text;
  // Longest first, so that a value containing another is replaced whole.
  for (const value of [...known].filter((v) => v.length >= 8).sort((a, b) => b.length - a.length)) out = out.split(value).join(REDACTED);
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/** The values of the variables that hold keys: a failure message is printed without them. */
export function secretsInEnvironment(env: Record<string, string | undefined>): string[] {
  return ['AIOS_API_KEY', 'AIOS_MASTER_KEY', 'AIOS_MASTER_KEY_PREVIOUS', 'AIOS_NEW_MASTER_KEY', 'AIOS_AUDIT_SIGNING_KEY']
    .map((name) => env[name]?.trim())
    .filter((v): v is string => !!v);
}
