import { describe, expect, it } from 'vitest';
import { RE2JS } from 're2js';
import { isAiosError } from '../core/index.ts';
import { DefinitionRegistry } from '../workflows/engine/registry.ts';
import { ContractCompiler, createLinearAjv, MAX_SCHEMA_BYTES, MAX_SCHEMA_DEPTH } from './contract.ts';

const CATASTROPHIC = '^(a+)+$';
/** 2^100000 steps for a backtracking engine; one pass for RE2. */
const ADVERSARIAL = `${'a'.repeat(100_000)}!`;

function refusal(fn: () => unknown): { code: string; detail: string; errors?: { path: string; message: string }[] } {
  try {
    fn();
  } catch (e) {
    if (isAiosError(e)) return { code: e.code, detail: e.message, errors: e.errors as { path: string; message: string }[] | undefined };
    throw e;
  }
  throw new Error('expected a refusal');
}

describe('data contracts in linear time', () => {
  it('compiles every pattern of a schema with RE2', () => {
    const ajv = createLinearAjv({ code: { source: true } });
    const validate = ajv.compile({
      type: 'object',
      properties: { s: { type: 'string', pattern: CATASTROPHIC } },
      patternProperties: { '^x-(a+)+$': { type: 'number' } },
      propertyNames: { pattern: '^[a-z-]+$' },
    });
    const patterns = [...(validate.source!.scopeValues.pattern ?? [])].map((n) => n.value?.ref);
    expect(patterns).toHaveLength(3);
    for (const re of patterns) expect(re).toBeInstanceOf(RE2JS);
    expect(validate({ s: ADVERSARIAL })).toBe(false);
    expect(validate({ s: 'aaa' })).toBe(true);
    expect(validate({ [`x-${'a'.repeat(50_000)}!`]: 'not a number' })).toBe(false);
    expect(validate({ 'x-aa': 'not a number' })).toBe(false);
  });

  it('rejects a long adversarial event against a catastrophic pattern', () => {
    const contracts = new ContractCompiler();
    const schema = { type: 'object', properties: { s: { type: 'string', pattern: CATASTROPHIC } } };
    contracts.check(schema);
    const validate = contracts.validator('1:1', schema);
    expect(validate({ s: ADVERSARIAL })).toMatch(/must match pattern/);
    expect(validate({ s: 'a'.repeat(1000) })).toBeNull();
  });

  it('refuses, naming it, a pattern RE2 cannot run', () => {
    const contracts = new ContractCompiler();
    const cases: [object, string, string, RegExp][] = [
      [{ properties: { a: { type: 'string', pattern: '^(?=x)x' } } }, '^(?=x)x', '/schema/properties/a/pattern', /lookahead/],
      [{ properties: { a: { type: 'string', pattern: '(a)\\1' } } }, '(a)\\1', '/schema/properties/a/pattern', /backreference/],
      [{ patternProperties: { '(?<!a)b': {} } }, '(?<!a)b', '/schema/patternProperties/(?<!a)b', /lookbehind/],
      [{ items: { pattern: 'a{2000}' } }, 'a{2000}', '/schema/items/pattern', /repeat count/],
      [{ propertyNames: { pattern: '(?<n>a)\\k<n>' } }, '(?<n>a)\\k<n>', '/schema/propertyNames/pattern', /backreference/],
    ];
    for (const [schema, pattern, path, why] of cases) {
      const r = refusal(() => contracts.check(schema));
      expect(r.code).toBe('AIOS_EVENTS_SCHEMA_INVALID');
      expect(r.detail).toContain(JSON.stringify(pattern));
      expect(r.errors).toEqual([{ path, message: expect.stringMatching(why) }]);
    }
    // A data value that merely looks like a pattern is not one.
    expect(() => contracts.check({ enum: [{ pattern: '(?=x)' }] })).not.toThrow();
  });

  it('bounds the size and depth of a schema', () => {
    const contracts = new ContractCompiler();
    const nest = (levels: number) => {
      let s: object = { type: 'string' };
      for (let i = 1; i < levels; i++) s = { items: s };
      return s;
    };
    expect(() => contracts.check(nest(MAX_SCHEMA_DEPTH))).not.toThrow();
    expect(refusal(() => contracts.check(nest(MAX_SCHEMA_DEPTH + 1)))).toMatchObject({ code: 'AIOS_EVENTS_SCHEMA_INVALID', detail: expect.stringMatching(/levels deep/) });
    const wide = { enum: Array.from({ length: MAX_SCHEMA_BYTES / 4 }, (_, i) => `v${i}`) };
    expect(refusal(() => contracts.check(wide))).toMatchObject({ code: 'AIOS_EVENTS_SCHEMA_INVALID', detail: expect.stringMatching(/bytes of JSON/) });
    // Far too deep for recursion: refused by the bound, not by a stack overflow.
    expect(refusal(() => contracts.check(nest(100_000))).code).toBe('AIOS_EVENTS_SCHEMA_INVALID');
  });

  it('lets no contract unregister the meta-schema by claiming its $id', () => {
    const contracts = new ContractCompiler();
    contracts.check({ $id: 'http://json-schema.org/draft-07/schema#', type: 'object' });
    contracts.forget('');
    expect(() => contracts.check({ type: 'object', properties: { a: { type: 'string' } } })).not.toThrow();
  });

  it('checks uniqueItems by hashing, not by comparing every pair', () => {
    const validate = createLinearAjv().compile({ type: 'array', uniqueItems: true });
    // 200 000 distinct objects: 2e10 comparisons pair by pair.
    expect(validate(Array.from({ length: 200_000 }, (_, i) => ({ a: i })))).toBe(true);
    expect(validate([{ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }])).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ keyword: 'uniqueItems', params: { i: 1, j: 0 } });
    expect(validate([1, 1.0])).toBe(false);
    expect(validate([1, '1', [1, 2], [2, 1], { a: 1 }, { a: '1' }, null])).toBe(true);
  });

  it('keeps a stored contract this build cannot evaluate from failing reads: its events are refused with the reason', () => {
    const validate = new ContractCompiler().validator('7:1', { pattern: '(?=old)' });
    expect(validate('anything')).toMatch(/cannot be evaluated.*lookahead/);
  });

  it('evaluates workflow input schemas in linear time too', () => {
    const registry = new DefinitionRegistry();
    const def = { name: 'wf', version: '1', inputSchema: { type: 'object', properties: { s: { type: 'string', pattern: CATASTROPHIC } } }, fn: async () => null };
    registry.add(def as never);
    expect(refusal(() => registry.resolve('wf', { s: ADVERSARIAL })).code).toBe('AIOS_VALIDATION');
    expect(refusal(() => registry.add({ ...def, name: 'wf2', inputSchema: { pattern: '(?=a)' } } as never)).code).toBe('AIOS_CONFIG_INVALID');
  });
});
