import type { Format } from 'ajv';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { compileLinear } from './linear-regexp.ts';

/**
 * The formats of ajv-formats ("full" mode), with every regular expression evaluated by RE2 in
 * linear time: several of theirs backtrack (Ajv's security notes say so), and a format is
 * checked against strings that come from users. They accept exactly what ajv-formats accepts
 * (src/events/linear-formats.test.ts compares the two).
 *
 * Left as they are: the date and time formats (small fixed patterns with no nested repetition,
 * linear), `regex` (it only parses the string), the numeric ones and `password`/`binary`.
 */

function linear(re: RegExp): (s: string) => boolean {
  const r = compileLinear(re.source, re.flags);
  return (s) => r.test(s);
}

function regexOf(name: string): RegExp {
  const f = (fullFormats as Record<string, unknown>)[name];
  if (!(f instanceof RegExp)) throw new Error(`ajv-formats: format ${name} is no longer a regular expression`);
  return f;
}

/** `source` with `part` replaced; fails loudly if ajv-formats changed the expression. */
function without(name: string, part: string, by = ''): RegExp {
  const re = regexOf(name);
  if (!re.source.includes(part)) throw new Error(`ajv-formats: the ${name} format changed; review its linear-time rewrite`);
  return new RegExp(re.source.replace(part, by), re.flags);
}

// duration: `P(?!$)` (something after the P) and `T(?=\d)` (a digit after the T), checked apart.
function duration(): (s: string) => boolean {
  const re = without('duration', '(?!$)');
  if (!re.source.includes('(?=\\d)')) throw new Error('ajv-formats: the duration format changed; review its linear-time rewrite');
  const body = linear(new RegExp(re.source.replace('(?=\\d)', ''), re.flags));
  return (s) => {
    if (s.length < 2) return false;
    const t = s.indexOf('T');
    if (t >= 0 && !(s.charCodeAt(t + 1) >= 48 && s.charCodeAt(t + 1) <= 57)) return false;
    return body(s);
  };
}

// hostname: `(?=.{1,253}\.?$)` is a length limit: at most 253 characters, or 254 with a final dot.
function hostname(): (s: string) => boolean {
  const body = linear(without('hostname', '(?=.{1,253}\\.?$)'));
  return (s) => (s.length <= 253 || (s.length === 254 && s.endsWith('.'))) && body(s);
}

// url: three negative lookaheads keep private IPv4 addresses out of the IP branch; here the IP
// branch spells out the public first and second octets instead.
const O2 = '(?:1?\\d{1,2}|2[0-4]\\d|25[0-5])';
const PUBLIC_FIRST = '(?:[1-9]|1[1-9]|[2-9]\\d|1[013-58]\\d|12[0-689]|16[0-8]|17[013-9]|19[013-9]|2[01]\\d|22[0-3])';
const PUBLIC_HEAD =
  `(?:${PUBLIC_FIRST}(?:\\.${O2}){2}` +
  `|169\\.(?:1?\\d{1,2}|2[0-4]\\d|25[0-35])\\.${O2}` +
  `|192\\.(?:\\d{1,2}|1(?:[0-57-9]\\d|6[0-79])|2[0-4]\\d|25[0-5])\\.${O2}` +
  `|172\\.(?:\\d|[04-9]\\d|1[0-5]|3[2-9]|1\\d\\d|2[0-4]\\d|25[0-5])\\.${O2})`;
const PRIVATE_LOOKAHEADS = '(?!(?:10|127)(?:\\.\\d{1,3}){3})(?!(?:169\\.254|192\\.168)(?:\\.\\d{1,3}){2})(?!172\\.(?:1[6-9]|2\\d|3[0-1])(?:\\.\\d{1,3}){2})';
const IP_HEAD = '(?:[1-9]\\d?|1\\d\\d|2[01]\\d|22[0-3])(?:\\.(?:1?\\d{1,2}|2[0-4]\\d|25[0-5])){2}';

// uri and byte are functions in ajv-formats over expressions it does not export; these are theirs.
const NOT_URI_FRAGMENT = /\/|:/;
const URI =
  /^(?:[a-z][a-z0-9+\-.]*:)(?:\/?\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:]|%[0-9a-f]{2})*@)?(?:\[(?:(?:(?:(?:[0-9a-f]{1,4}:){6}|::(?:[0-9a-f]{1,4}:){5}|(?:[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){4}|(?:(?:[0-9a-f]{1,4}:){0,1}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){3}|(?:(?:[0-9a-f]{1,4}:){0,2}[0-9a-f]{1,4})?::(?:[0-9a-f]{1,4}:){2}|(?:(?:[0-9a-f]{1,4}:){0,3}[0-9a-f]{1,4})?::[0-9a-f]{1,4}:|(?:(?:[0-9a-f]{1,4}:){0,4}[0-9a-f]{1,4})?::)(?:[0-9a-f]{1,4}:[0-9a-f]{1,4}|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?))|(?:(?:[0-9a-f]{1,4}:){0,5}[0-9a-f]{1,4})?::[0-9a-f]{1,4}|(?:(?:[0-9a-f]{1,4}:){0,6}[0-9a-f]{1,4})?::)|[Vv][0-9a-f]+\.[a-z0-9\-._~!$&'()*+,;=:]+)\]|(?:(?:25[0-5]|2[0-4]\d|[01]?\d\d?)\.){3}(?:25[0-5]|2[0-4]\d|[01]?\d\d?)|(?:[a-z0-9\-._~!$&'()*+,;=]|%[0-9a-f]{2})*)(?::\d*)?(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*|\/(?:(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)?|(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})+(?:\/(?:[a-z0-9\-._~!$&'()*+,;=:@]|%[0-9a-f]{2})*)*)(?:\?(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?(?:#(?:[a-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9a-f]{2})*)?$/i;
// Without its `gm` flags: a string is valid base64 when any of its lines is, as with `m`.
const BYTE_LINE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LINE_BREAK = /[\n\r\u2028\u2029]/;

/** A fresh table of the linear-time formats, to give to `ajv.addFormat`. */
export function linearFormats(): Record<string, Format> {
  const uri = linear(URI);
  const byteLine = linear(BYTE_LINE);
  const out: Record<string, Format> = {
    duration: duration(),
    hostname: hostname(),
    url: linear(without('url', PRIVATE_LOOKAHEADS + IP_HEAD, PUBLIC_HEAD)),
    uri: (s: string) => NOT_URI_FRAGMENT.test(s) && uri(s),
    byte: (s: string) => s.split(LINE_BREAK).some(byteLine),
  };
  for (const [name, f] of Object.entries(fullFormats as Record<string, Format>)) {
    if (!(name in out)) out[name] = f instanceof RegExp ? linear(f) : f;
  }
  return out;
}
