import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../runtime/index.ts';
import { AiosError } from './errors.ts';
import { EventsError } from '../events/index.ts';

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
const documented = new Map([...doc.matchAll(/^\| `(AIOS_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]));

// The registry assembled from core and the capability list, as problem+json answers from it.
describe('error registry', () => {
  it('documents every code with its status', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(documented.get(code), `${code} is missing from docs/errors.md`).toBe(spec.status);
    }
  });

  it('documents no code that no longer exists', () => {
    for (const code of documented.keys()) expect(Object.keys(ERROR_CODES), `docs/errors.md lists ${code}, which no longer exists`).toContain(code);
  });

  it('gives every code a capability prefix and a 4xx/5xx status', () => {
    for (const [code, spec] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^AIOS_[A-Z]+(_[A-Z]+)*$/);
      expect(spec.status).toBeGreaterThanOrEqual(400);
      expect(spec.status).toBeLessThan(600);
    }
  });

  it('carries retry semantics in the error', () => {
    expect(new AiosError('AIOS_OVERLOADED').retryable).toBe(true);
    expect(new EventsError('AIOS_EVENTS_SCHEMA_VIOLATION').retryable).toBe(false);
    expect(new EventsError('AIOS_EVENTS_SCHEMA_VIOLATION').status).toBe(422);
  });
});
