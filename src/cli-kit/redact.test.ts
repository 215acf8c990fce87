import { describe, expect, it } from 'vitest';
import { redactSecrets, secretsInEnvironment } from './redact.ts';

const KEY = 'aios_abcdefghijkm_Q2hlY2tzIHRoYXQgdGhlIHNlY3JldCBuZXZlciBzaG93cw';

describe('redactSecrets', () => {
  it('keeps an AIOS key\'s id and drops its secret', () => {
    expect(redactSecrets(`key ${KEY} refused`)).toBe('key aios_abcdefghijkm_[redacted] refused');
  });

  it('drops a bearer header value, whatever it holds', () => {
    const text = 'Headers.append: "Bearer > aios@0.1.0 aios\n> node bin/aios.js" is an invalid header value';
    expect(redactSecrets(text)).not.toContain('aios@0.1.0');
    expect(redactSecrets(text)).toContain('Bearer [redacted]');
  });

  it('drops JWTs and passwords in URLs', () => {
    expect(redactSecrets('token eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbmEifQ.c2ln expired')).toBe('token [redacted] expired');
    expect(redactSecrets('cannot reach postgres://ops:hunter2@db:5432/plant')).toBe('cannot reach postgres://[redacted]@db:5432/plant');
  });

  it('drops every known value, even where no pattern would see it', () => {
    expect(redactSecrets('master key 8Jx1+abc/def== is wrong', ['8Jx1+abc/def=='])).toBe('master key [redacted] is wrong');
    expect(redactSecrets('short ab stays', ['ab'])).toBe('short ab stays');
  });

  it('reads the key variables of the environment', () => {
    expect(secretsInEnvironment({ AIOS_API_KEY: ` ${KEY}\n`, AIOS_MASTER_KEY: 'm', AIOS_PORT: '8080' })).toEqual([KEY, 'm']);
  });
});
