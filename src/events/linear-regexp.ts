import { RE2JS, RE2JSException } from 're2js';

/**
 * Regular expressions of data contracts, evaluated by RE2 (re2js): matching time is linear in the
 * input whatever the pattern, so `^(a+)+$` cannot stall the process on a crafted event the way
 * a backtracking engine does. The price is RE2's syntax: no backreferences and no lookaround,
 * repeat counts up to 1000. Such a pattern is refused with the reason (`LinearPatternError`).
 *
 * Patterns are written in ECMA-262 syntax (what JSON Schema specifies) and checked by the
 * JavaScript parser first; what the two syntaxes read differently is translated so that a
 * pattern means the same in both: JavaScript's `\s` (which includes the Unicode spaces), `\S`
 * and `.` (which excludes `\r`, U+2028 and U+2029), then re2js's own translation (`\u` escapes,
 * named groups, `[^]`).
 */
export class LinearPatternError extends Error {
  readonly pattern: string;
  readonly reason: string;

  constructor(pattern: string, reason: string) {
    super(`the pattern ${JSON.stringify(pattern.length > 200 ? `${pattern.slice(0, 200)}...` : pattern)} ${reason}`);
    this.name = 'LinearPatternError';
    this.pattern = pattern;
    this.reason = reason;
  }
}

/**
 * The largest compiled program a pattern may have (RE2's approximate measure of its cost; each
 * input character costs at most this many steps). `(a|b|c|d){1000}` is 3002; the largest
 * pattern behind a built-in format (ipv6) is 1373.
 */
export const MAX_PATTERN_PROGRAM = 10_000;

const RE2_LIMITS = 'patterns are evaluated in linear time (RE2), which excludes backreferences and lookaround';
const JS_SPACE = '\\t\\n\\x0B\\f\\r \\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}\\x{FEFF}';
const JS_NON_SPACE =
  '\\x00-\\x08\\x0E-\\x1F\\x21-\\x{9F}\\x{A1}-\\x{167F}\\x{1681}-\\x{1FFF}\\x{200B}-\\x{2027}\\x{202A}-\\x{202E}\\x{2030}-\\x{205E}\\x{2060}-\\x{2FFF}\\x{3001}-\\x{FEFE}\\x{FF00}-\\x{10FFFF}';
const JS_DOT = '[^\\n\\r\\x{2028}\\x{2029}]';

/** ECMA-262 source to RE2 source; throws LinearPatternError for what RE2 cannot do. */
function toRe2Source(source: string, dotAll: boolean): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      const n = source[i + 1] ?? '';
      if (!inClass && ((n >= '1' && n <= '9') || n === 'k')) throw new LinearPatternError(source, `uses a backreference; ${RE2_LIMITS}`);
      if (n === 's') out += inClass ? JS_SPACE : `[${JS_SPACE}]`;
      else if (n === 'S') out += inClass ? JS_NON_SPACE : `[${JS_NON_SPACE}]`;
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A `]` right after `[` or `[^` closes the class in ECMA-262 (re2js rewrites `[]` and `[^]`).
      if (source[i + 1] === '^') out += source[++i];
      if (source[i + 1] === ']') {
        out += source[++i];
        inClass = false;
      }
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const a = source[i + 2];
      const b = source[i + 3];
      if (a === '=' || a === '!' || (a === '<' && (b === '=' || b === '!'))) throw new LinearPatternError(source, `uses lookahead or lookbehind; ${RE2_LIMITS}`);
    }
    out += c === '.' && !dotAll ? JS_DOT : c;
  }
  return out;
}

/**
 * Compiles an ECMA-262 pattern for RE2. `flags` as in JavaScript (`i`, `m`, `s` are applied;
 * `u`, `g`, `y` change nothing for a test). `test` has search semantics, like RegExp's.
 *
 * @example
 * const re = compileLinear('^(a+)+$', 'u');
 * re.test('a'.repeat(100_000) + '!'); // false, in linear time
 */
export function compileLinear(source: string, flags = ''): RE2JS {
  try {
    new RegExp(source, flags.includes('u') ? flags : `${flags}u`);
  } catch (e) {
    throw new LinearPatternError(source, `is not a valid regular expression: ${(e as Error).message}`);
  }
  const prefix = ['i', 'm', 's'].filter((f) => flags.includes(f)).join('');
  let re: RE2JS;
  try {
    re = RE2JS.compile(`${prefix ? `(?${prefix})` : ''}${RE2JS.translateRegExp(toRe2Source(source, flags.includes('s')))}`);
  } catch (e) {
    if (e instanceof LinearPatternError) throw e;
    if (e instanceof RE2JSException) throw new LinearPatternError(source, `cannot be evaluated in linear time (${e.message})`);
    throw e;
  }
  if (re.programSize() > MAX_PATTERN_PROGRAM) {
    throw new LinearPatternError(source, `compiles to ${re.programSize()} instructions, more than the limit of ${MAX_PATTERN_PROGRAM}: lower its repeat counts`);
  }
  return re;
}

/**
 * Ajv's `code.regExp` engine: every `pattern`, `patternProperties` and `propertyNames` pattern
 * of a schema compiled by the Ajv goes through `compileLinear`.
 */
export const linearRegExp = Object.assign((pattern: string, flags: string): RE2JS => compileLinear(pattern, flags), { code: 'linearRegExp' });
