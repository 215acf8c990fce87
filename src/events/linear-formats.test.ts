import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fullFormats } from 'ajv-formats/dist/formats.js';
import { linearFormats } from './linear-formats.ts';

type Check = (s: string) => boolean;

function checkOf(f: unknown): Check {
  if (f instanceof RegExp) return (s) => f.test(s);
  if (typeof f === 'function') return f as Check;
  if (f && typeof f === 'object' && 'validate' in f) return checkOf((f as { validate: unknown }).validate);
  throw new Error('not a string format');
}

const ours = linearFormats();
const native = fullFormats as Record<string, unknown>;

/** Short strings only: the native expressions backtrack, but not much on these. */
const from = (chars: string, maxLength = 40) => fc.string({ unit: fc.constantFrom(...chars), maxLength });
const octet = fc.oneof(fc.integer({ min: 0, max: 300 }), fc.constantFrom(10, 127, 169, 172, 192, 254, 168, 16, 31, 32, 15, 223, 224)).map(String);
const ip = fc.tuple(octet, octet, octet, octet).map((o) => o.join('.'));
const urlish = fc
  .tuple(fc.constantFrom('http://', 'https://', 'ftp://', 'htp://', ''), fc.option(from('ab:@', 6)), fc.oneof(ip, from('ab0-.\u00e9', 16)), fc.constantFrom('', ':80', ':8', '/x', '/a b', '/\u00a0'))
  .map(([s, u, h, t]) => `${s}${u ? `${u}@` : ''}${h}${t}`);

const cases: Record<string, fc.Arbitrary<string>> = {
  duration: fc.oneof(from('PTYMDWHS0123'), fc.tuple(fc.constant('P'), from('TYMDWHS12', 12)).map(([a, b]) => a + b)),
  uri: fc.oneof(urlish, from("ab:/?#[]@!$&'()*+,;=%0f.\"\\ ")),
  'uri-reference': fc.oneof(urlish, from("ab:/?#[]@!$&'()*+,;=%0f.\"\\ ")),
  'uri-template': from('{}+#./;?&=,!@|:*a0%" '),
  url: fc.oneof(urlish, from('htps:/f@.:-a0\u00a1 \u00a0')),
  email: from('a0.@-_+z!'),
  hostname: fc.oneof(from('a0.-A', 30), fc.tuple(fc.integer({ min: 240, max: 260 }), fc.boolean()).map(([n, dot]) => `${'a.'.repeat(n >> 1)}${'b'.repeat(n & 1)}${dot ? '.' : ''}`)),
  ipv4: fc.oneof(ip, from('0123456789.')),
  ipv6: from('0123456789abcdefABCDEF:.', 45),
  uuid: fc.oneof(from('0123456789abcdef-'), fc.uuid(), fc.uuid().map((u) => `urn:uuid:${u.toUpperCase()}`)),
  'json-pointer': from('/~012a#%'),
  'json-pointer-uri-fragment': from('/~012a#%F'),
  'relative-json-pointer': from('/~0129a#'),
  byte: from('AZaz09+/=\n\r!\u2028'),
};

describe('linear-time formats', () => {
  for (const [name, arb] of Object.entries(cases)) {
    it(`${name} accepts exactly what ajv-formats accepts`, () => {
      const a = checkOf(native[name]);
      const b = checkOf(ours[name]);
      fc.assert(fc.property(arb, (s) => a(s) === b(s)), { numRuns: 2000 });
    });
  }

  it('keeps private addresses out of url, as ajv-formats does', () => {
    const url = checkOf(ours.url);
    for (const u of ['http://10.1.2.3/', 'http://127.0.0.1', 'http://169.254.1.1', 'http://192.168.0.1:8080/x', 'http://172.16.0.1', 'http://172.31.9.9']) expect(url(u)).toBe(false);
    for (const u of ['http://11.1.2.3/', 'http://172.32.0.1', 'http://172.160.0.1', 'http://192.169.0.1', 'https://example.com/a?b']) expect(url(u)).toBe(true);
  });

  it('rejects long adversarial strings without backtracking', () => {
    // Each of these takes a backtracking engine far longer than a test may run.
    const url = checkOf(ours.url);
    expect(url(`http://${':'.repeat(200_000)}`)).toBe(false);
    const email = checkOf(ours.email);
    expect(email(`a@${'a'.repeat(200_000)}!`)).toBe(false);
    const duration = checkOf(ours.duration);
    expect(duration(`P${'1'.repeat(200_000)}`)).toBe(false);
  });
});
