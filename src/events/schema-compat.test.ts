import { isDeepStrictEqual } from 'node:util';
import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { Ajv, type AnySchema } from 'ajv';
import { schemaIncompatibilities } from './schema-compat.ts';

const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: 'object', properties, ...extra });
const rpm = (s: unknown) => obj({ rpm: s });

/** [case, old, new, expected path (undefined: compatible), text the message must contain]. */
type Case = [string, unknown, unknown, string?, string?];

function check([, oldSchema, newSchema, path, text]: Case): void {
  const found = schemaIncompatibilities(oldSchema, newSchema);
  if (path === undefined) {
    expect(found).toEqual([]);
    return;
  }
  expect(found.map((i) => i.path)).toContain(path);
  expect(found.find((i) => i.path === path)!.message).toContain(text);
}

const rules: Record<string, Case[]> = {
  'boolean schemas': [
    ['new true', { type: 'string' }, true],
    ['new {}', { type: 'string' }, { description: 'anything' }],
    ['old false', false, { type: 'string' }],
    ['old true, new typed', true, { type: 'string' }, '/type', 'now restricted to type string'],
    ['new false', rpm({ type: 'number' }), rpm(false), '/properties/rpm', 'property "rpm": now rejects every value'],
  ],
  type: [
    ['type widened', rpm({ type: 'number' }), rpm({ type: ['number', 'null'] })],
    ['integer to number', rpm({ type: 'integer' }), rpm({ type: 'number' })],
    ['type changed', rpm({ type: 'number' }), rpm({ type: 'string' }), '/properties/rpm/type', 'property "rpm" changed type from number to string'],
    ['number to integer', rpm({ type: 'number' }), rpm({ type: 'integer' }), '/properties/rpm/type', 'property "rpm" changed type from number to integer'],
    ['type appears', rpm({}), rpm({ type: 'number' }), '/properties/rpm/type', 'property "rpm": now restricted to type number'],
  ],
  required: [
    ['required dropped', obj({}, { required: ['site', 'rpm'] }), obj({}, { required: ['rpm'] })],
    ['new required', obj({}, { required: ['rpm'] }), obj({}, { required: ['rpm', 'site'] }), '/required', 'new required property "site"'],
    ['nested required', obj({ loc: obj({}) }), obj({ loc: obj({}, { required: ['lat'] }) }), '/properties/loc/required', 'new required property "loc.lat"'],
  ],
  properties: [
    ['removed from open object', obj({ rpm: { type: 'number' }, site: {} }), obj({ site: {} })],
    ['removed from closed object', obj({ rpm: { type: 'number' } }, { additionalProperties: false }), obj({}, { additionalProperties: false }),
      '/properties/rpm', 'property "rpm" removed from a closed object'],
    ['removed, fits additionalProperties', obj({ rpm: { type: 'integer' } }, { additionalProperties: { type: 'number' } }), obj({}, { additionalProperties: { type: 'number' } })],
    ['removed, violates additionalProperties', obj({ rpm: { type: 'string' } }, { additionalProperties: { type: 'number' } }), obj({}, { additionalProperties: { type: 'number' } }),
      '/properties/rpm/type', 'property "rpm" changed type from string to number'],
    ['added to open object', obj({}), obj({ site: { type: 'string' } })],
    ['added to closed object', obj({}, { additionalProperties: false }), obj({ site: { type: 'string' } }, { additionalProperties: false })],
    ['added, narrower than old additionalProperties', obj({}, { additionalProperties: { type: 'string' } }),
      obj({ site: { type: 'string', maxLength: 8 } }, { additionalProperties: { type: 'string' } }), '/properties/site/maxLength', 'property "site": maxLength 8 added'],
    ['nested property', obj({ loc: obj({ lat: { type: 'number' } }) }), obj({ loc: obj({ lat: { type: 'string' } }) }),
      '/properties/loc/properties/lat/type', 'property "loc.lat" changed type'],
  ],
  additionalProperties: [
    ['closed object opened', obj({}, { additionalProperties: false }), obj({})],
    ['open object closed', obj({}), obj({}, { additionalProperties: false }), '/additionalProperties', 'no longer allows additional properties'],
    ['open object restricted', rpm(obj({})), rpm(obj({}, { additionalProperties: { type: 'string' } })),
      '/properties/rpm/additionalProperties', 'property "rpm": additional properties are now restricted'],
    ['schema widened', obj({}, { additionalProperties: { type: 'integer' } }), obj({}, { additionalProperties: { type: 'number' } })],
    ['schema narrowed', rpm(obj({}, { additionalProperties: { type: 'number' } })), rpm(obj({}, { additionalProperties: { type: 'integer' } })),
      '/properties/rpm/additionalProperties/type', 'property "rpm.*" changed type from number to integer'],
  ],
  'enum and const': [
    ['enum extended', obj({ mode: { enum: ['a', 'b'] } }), obj({ mode: { enum: ['b', 'a', 'c'] } })],
    ['enum of objects, other key order', obj({ mode: { enum: [{ x: 1, y: 2 }] } }), obj({ mode: { enum: [{ y: 2, x: 1 }] } })],
    ['enum value dropped', obj({ mode: { enum: ['a', 'b'] } }), obj({ mode: { enum: ['a'] } }), '/properties/mode/enum', 'property "mode": enum no longer contains "b"'],
    ['enum appears', obj({ mode: { type: 'string' } }), obj({ mode: { type: 'string', enum: ['a'] } }), '/properties/mode/enum', 'property "mode": now restricted to enum'],
    ['const to enum', obj({ mode: { const: 'a' } }), obj({ mode: { enum: ['a', 'b'] } })],
    ['single enum to const', obj({ mode: { enum: ['a'] } }), obj({ mode: { const: 'a' } })],
    ['const changed', obj({ mode: { const: 'a' } }), obj({ mode: { const: 'b' } }), '/properties/mode/const', 'property "mode": const changed from "a" to "b"'],
    ['const appears', obj({ mode: {} }), obj({ mode: { const: 'a' } }), '/properties/mode/const', 'property "mode": now restricted to const "a"'],
  ],
  numbers: [
    ['maximum raised', rpm({ maximum: 100 }), rpm({ maximum: 150 })],
    ['maximum lowered', rpm({ maximum: 100 }), rpm({ maximum: 50 }), '/properties/rpm/maximum', 'property "rpm": maximum lowered from 100 to 50'],
    ['minimum appears', rpm({ type: 'number' }), rpm({ type: 'number', minimum: 0 }), '/properties/rpm/minimum', 'property "rpm": minimum 0 added'],
    ['minimum to looser exclusiveMinimum', rpm({ minimum: 0 }), rpm({ exclusiveMinimum: -1 })],
    ['exclusiveMaximum lowered', rpm({ exclusiveMaximum: 10 }), rpm({ exclusiveMaximum: 5 }), '/properties/rpm/exclusiveMaximum', 'property "rpm": exclusiveMaximum lowered'],
    ['multipleOf divides old', rpm({ multipleOf: 4 }), rpm({ multipleOf: 2 })],
    ['multipleOf changed', rpm({ multipleOf: 2 }), rpm({ multipleOf: 4 }), '/properties/rpm/multipleOf', 'property "rpm": multipleOf changed from 2 to 4'],
    ['multipleOf appears', rpm({}), rpm({ multipleOf: 5 }), '/properties/rpm/multipleOf', 'property "rpm": multipleOf 5 added'],
  ],
  strings: [
    ['minLength lowered', obj({ site: { minLength: 2 } }), obj({ site: { minLength: 1 } })],
    ['minLength raised', obj({ site: { minLength: 1 } }), obj({ site: { minLength: 3 } }), '/properties/site/minLength', 'property "site": minLength raised from 1 to 3'],
    ['maxLength lowered', obj({ site: { maxLength: 10 } }), obj({ site: { maxLength: 5 } }), '/properties/site/maxLength', 'property "site": maxLength lowered'],
    ['pattern removed', obj({ site: { pattern: '^s' } }), obj({ site: {} })],
    ['pattern appears', obj({ site: {} }), obj({ site: { pattern: '^s' } }), '/properties/site/pattern', 'property "site": pattern "^s" added'],
    ['format changed', obj({ at: { format: 'date' } }), obj({ at: { format: 'date-time' } }), '/properties/at/format', 'property "at": format changed'],
  ],
  arrays: [
    ['items widened', obj({ tags: { items: { type: 'integer' } } }), obj({ tags: { items: { type: 'number' } } })],
    ['items narrowed', obj({ tags: { items: { type: 'number' } } }), obj({ tags: { items: { type: 'integer' } } }), '/properties/tags/items/type', 'property "tags[]" changed type'],
    ['maxItems raised', obj({ tags: { maxItems: 3 } }), obj({ tags: { maxItems: 4 } })],
    ['minItems raised', obj({ tags: { minItems: 1 } }), obj({ tags: { minItems: 2 } }), '/properties/tags/minItems', 'property "tags": minItems raised from 1 to 2'],
    ['uniqueItems dropped', obj({ tags: { uniqueItems: true } }), obj({ tags: { uniqueItems: false } })],
    ['uniqueItems turned on', obj({ tags: {} }), obj({ tags: { uniqueItems: true } }), '/properties/tags/uniqueItems', 'property "tags": items must now be unique'],
  ],
  objects: [
    ['maxProperties raised', obj({ meta: { maxProperties: 3 } }), obj({ meta: { maxProperties: 9 } })],
    ['minProperties appears', obj({ meta: {} }), obj({ meta: { minProperties: 1 } }), '/properties/meta/minProperties', 'property "meta": minProperties 1 added'],
  ],
  'keywords that cannot be proven': [
    ['anyOf unchanged', rpm({ anyOf: [{ type: 'string' }] }), rpm({ anyOf: [{ type: 'string' }], title: 'RPM' })],
    ['anyOf changed', rpm({ anyOf: [{ type: 'string' }] }), rpm({ anyOf: [{ type: 'number' }] }), '/properties/rpm/anyOf', 'property "rpm": cannot prove compatibility of anyOf'],
    ['allOf dropped', rpm({ allOf: [{ type: 'string' }] }), rpm({})],
    ['$ref changed', rpm({ $ref: '#/$defs/a' }), rpm({ $ref: '#/$defs/b' }), '/properties/rpm/$ref', 'cannot prove compatibility of $ref'],
    ['if appears', rpm({}), rpm({ if: { type: 'string' }, then: { minLength: 1 } }), '/properties/rpm/if', 'cannot prove compatibility of if'],
    ['patternProperties changed', obj({}, { patternProperties: { '^x': {} } }), obj({}, { patternProperties: { '^x': { type: 'string' } } }),
      '/patternProperties', 'cannot prove compatibility of patternProperties'],
    ['property added next to patternProperties', obj({}, { patternProperties: { '^x': {} }, additionalProperties: false }),
      obj({ x1: { type: 'string' } }, { patternProperties: { '^x': {} }, additionalProperties: false }), '/properties/x1', 'new property "x1" (patternProperties)'],
    ['tuple items changed', obj({ p: { items: [{}, {}] } }), obj({ p: { items: [{}, { type: 'number' }] } }), '/properties/p/items', 'cannot prove compatibility of items'],
    ['unknown keyword changed', rpm({ 'x-unit': 'rpm' }), rpm({ 'x-unit': 'hz' }), '/properties/rpm/x-unit', 'cannot prove compatibility of x-unit'],
    ['unevaluatedProperties anywhere', obj({ a: {} }, { unevaluatedProperties: false }), obj({}, { unevaluatedProperties: false }),
      '/unevaluatedProperties', 'cannot prove compatibility of unevaluatedProperties'],
    ['definition narrowed', { $defs: { n: { type: 'number' } }, $ref: '#/$defs/n' }, { $defs: { n: { type: 'integer' } }, $ref: '#/$defs/n' },
      '/$defs/n/type', 'changed type from number to integer'],
  ],
  annotations: [
    ['annotations changed', rpm({ type: 'number', title: 'a', description: 'b', default: 1, examples: [1], deprecated: false }),
      rpm({ type: 'number', title: 'c', $comment: 'd', default: 2, readOnly: true, writeOnly: false })],
  ],
};

describe('schemaIncompatibilities', () => {
  for (const [rule, cases] of Object.entries(rules)) {
    describe(rule, () => {
      for (const c of cases) it(`${c[0]}: ${c[3] === undefined ? 'compatible' : 'incompatible'}`, () => check(c));
    });
  }

  it('matches the documented example', () => {
    const oldSchema = { type: 'object', properties: { rpm: { type: 'number', maximum: 100 } } };
    const newSchema = { type: 'object', properties: { rpm: { type: 'number', maximum: 50 } }, required: ['rpm'] };
    expect(schemaIncompatibilities(oldSchema, newSchema)).toEqual([
      { path: '/required', message: 'new required property "rpm"' },
      { path: '/properties/rpm/maximum', message: 'property "rpm": maximum lowered from 100 to 50' },
    ]);
  });

  it('escapes property names in the JSON pointer', () => {
    expect(schemaIncompatibilities(obj({ 'a/b~c': { type: 'number' } }), obj({ 'a/b~c': { type: 'string' } }))[0].path).toBe('/properties/a~1b~0c/type');
  });
});

// ---- property test: whatever the checker accepts, Ajv agrees on random values ----

const POOL = [1, 2, 'a', 'b', null];
const int = (min: number, max: number) => fc.integer({ min, max });
/** A keyword present one time in three, so that generated schemas are mostly satisfiable. */
const some = (arb: fc.Arbitrary<unknown>) => fc.oneof({ arbitrary: fc.constant(undefined), weight: 2 }, { arbitrary: arb, weight: 1 });
const node = (model: Record<string, fc.Arbitrary<unknown>>) =>
  fc.record(model).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
const leaf = fc.oneof(
  fc.constantFrom<unknown>(true, {}, false),
  node({ type: fc.constantFrom<unknown>('number', 'integer', ['integer', 'null']), minimum: some(int(-2, 2)), maximum: some(int(3, 8)),
    exclusiveMinimum: some(int(-3, 1)), multipleOf: some(fc.constantFrom(1, 2, 3)) }),
  node({ type: fc.constant('string'), minLength: some(int(0, 1)), maxLength: some(int(2, 3)), pattern: some(fc.constantFrom('^a', 'b')) }),
  node({ enum: fc.subarray(POOL, { minLength: 1 }) }),
  node({ const: fc.constantFrom(...POOL) }),
  fc.constant({ anyOf: [{ type: 'string' }, { minimum: 1 }] }),
);
const { schema: schemaArb } = fc.letrec<{ schema: unknown; array: unknown; object: unknown }>((tie) => ({
  schema: fc.oneof({ maxDepth: 3 }, leaf, tie('array'), tie('object')),
  array: node({ type: fc.constant('array'), items: some(tie('schema')), minItems: some(int(0, 1)), maxItems: some(int(2, 3)), uniqueItems: some(fc.boolean()) }),
  object: node({
    type: fc.constant('object'), properties: fc.record({ a: tie('schema'), b: tie('schema') }, { requiredKeys: [], noNullPrototype: true }),
    required: some(fc.subarray(['a', 'b', 'c'])), additionalProperties: some(fc.oneof(fc.constant(false), fc.boolean(), leaf)),
    minProperties: some(int(0, 1)), maxProperties: some(int(2, 3)),
  }),
}));
const { value: valueArb } = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof({ maxDepth: 3 }, fc.constantFrom<unknown>(...POOL, true, '', 'ab', 'ba', 'abc'), fc.integer({ min: -3, max: 13 }),
    fc.double({ min: -3, max: 13, noNaN: true }), fc.array(tie('value'), { maxLength: 3 }), fc.dictionary(fc.constantFrom('a', 'b', 'c'), tie('value'), { maxKeys: 3, noNullPrototype: true })),
}));

/** Values shaped after a schema (not necessarily valid), so that the old schema accepts a fair share of them. */
function valueFor(s: any, depth = 0): fc.Arbitrary<unknown> {
  if (depth > 3 || typeof s !== 'object' || s === null) return valueArb;
  if (s.const !== undefined) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  const types: unknown[] = [s.type ?? []].flat();
  if (types.includes('object')) {
    const fields = ['a', 'b', 'c'].map((k) => [k, valueFor(s.properties?.[k] ?? s.additionalProperties, depth + 1)]);
    return fc.record(Object.fromEntries(fields), { requiredKeys: [], noNullPrototype: true });
  }
  if (types.includes('array')) return fc.array(valueFor(s.items, depth + 1), { maxLength: 3 }).map((xs) => (xs.length === 1 ? [xs[0], xs[0]] : xs));
  if (types.includes('string')) return fc.constantFrom('', 'a', 'b', 'ab', 'ba', 'abc');
  return types.length ? fc.oneof(fc.integer({ min: -3, max: 13 }), fc.constant(null)) : valueArb;
}

/**
 * Derives a new schema from an old one by one or two random edits (widening or narrowing), driven by `dice`.
 * It never declares a property the old schema left to an open additionalProperties (the practical choice).
 */
function mutator(dice: number[]): (s: unknown) => unknown {
  let i = 0;
  const roll = (n: number) => dice[i++ % dice.length] % n;
  const pick = <T>(xs: readonly T[]): T => xs[roll(xs.length)];
  const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
  const isEmpty = (v: unknown) => isObj(v) && Object.keys(v).length === 0;
  const family = (s: Record<string, any>) => ({ integer: 'number', number: 'number', object: 'object', array: 'array', string: 'string' })[[s.type].flat()[0] as string] ?? 'any';
  const children = (s: unknown): string[] =>
    !isObj(s) ? [] : [...(s.items === undefined ? [] : ['items']), ...(s.additionalProperties === undefined ? [] : ['additionalProperties']),
      ...Object.keys(s.properties ?? {}).map((k) => `properties.${k}`)];
  const size = (s: unknown): number => 1 + children(s).reduce((n, c) => n + size(get(s, c)), 0);
  const get = (s: any, c: string) => (c.startsWith('properties.') ? s.properties[c.slice(11)] : s[c]);
  const tweak = (k: string, v: unknown, s: Record<string, any>): unknown => {
    if (k === 'multipleOf' || k === 'pattern' || k === 'const' || k === 'type') return pick(OPTIONS[k]);
    if (typeof v === 'number') return Math.max(/Length|Items|Properties/.test(k) ? 0 : -9, v + pick([-1, 1]));
    if (k === 'required' || k === 'enum') return roll(2) ? (v as unknown[]).slice(1) : [...new Set([...(v as unknown[]), pick(k === 'enum' ? POOL : ['a', 'b', 'c'])])];
    if (k === 'uniqueItems') return !v;
    if (k === 'additionalProperties') return pick([true, false, { type: 'number' }, {}]);
    if (k !== 'properties') return v;
    const p = { ...(v as object) } as Record<string, unknown>, name = pick(['a', 'b']);
    const open = s.additionalProperties === undefined || s.additionalProperties === true || isEmpty(s.additionalProperties);
    if (Object.hasOwn(p, name) || open) delete p[name];
    else p[name] = { type: pick(OPTIONS.type) };
    return p;
  };
  const edit = (s: unknown): unknown => {
    if (!isObj(s) || roll(5) === 0) return pick([true, false, {}, { type: pick(OPTIONS.type) }]);
    const r = { ...s }, keys = Object.keys(r), k = pick([...keys, 'type', 'properties', 'multipleOf']);
    const how = roll(3);
    if (how === 0) Object.assign(r, pick(ADDITIONS[family(s)]));
    else if (how === 1) delete r[k];
    else if (r[k] !== undefined) r[k] = tweak(k, r[k], s);
    return r;
  };
  const apply = (s: unknown, at: { n: number }): unknown => {
    if (at.n-- === 0) return edit(s);
    if (!isObj(s)) return s;
    const r: Record<string, any> = { ...s, ...(s.properties ? { properties: { ...s.properties } } : {}) };
    for (const c of children(s)) {
      const v = apply(get(s, c), at);
      if (c.startsWith('properties.')) r.properties[c.slice(11)] = v;
      else r[c] = v;
    }
    return r;
  };
  return (s) => {
    for (let e = 1 + roll(2); e > 0; e--) s = apply(s, { n: roll(size(s)) });
    return s;
  };
}
const OPTIONS: Record<string, readonly unknown[]> = {
  multipleOf: [1, 2, 3, 4, 6], pattern: ['^a', 'b', 'a'], const: POOL,
  type: ['number', 'integer', 'string', 'null', 'array', 'object', ['number', 'null'], ['string', 'integer']],
};
/** Keywords an edit may add, by the type of the edited schema. */
const ADDITIONS: Record<string, Record<string, unknown>[]> = {
  number: [{ minimum: 0 }, { maximum: 3 }, { exclusiveMinimum: 1 }, { exclusiveMaximum: 3 }, { multipleOf: 2 }, { type: 'integer' }],
  string: [{ minLength: 1 }, { maxLength: 2 }, { pattern: '^a' }, { enum: ['a', 'b'] }, { format: 'email' }],
  array: [{ items: { type: 'integer' } }, { minItems: 1 }, { maxItems: 1 }, { uniqueItems: true }],
  object: [{ required: ['a'] }, { additionalProperties: false }, { additionalProperties: { type: 'number' } }, { minProperties: 1 }, { maxProperties: 1 }],
  any: [{ type: 'string' }, { type: 'integer' }, { enum: [1, 'a', null] }, { const: 1 }, { anyOf: [{ type: 'string' }] }, { not: { type: 'string' } }],
};

describe('schemaIncompatibilities soundness (property)', () => {
  it('every value Ajv accepts under the old schema is accepted under a schema judged compatible', () => {
    const ajv = new Ajv({ strict: false, logger: false });
    let exercised = 0; // changed-but-compatible pairs where some value passed the old schema
    fc.assert(
      fc.property(schemaArb.chain((old) => fc.tuple(fc.constant(old), fc.array(fc.nat(99), { minLength: 1, maxLength: 12 }),
        fc.array(fc.oneof(valueFor(old), valueArb), { maxLength: 40 }))), ([oldSchema, dice, values]) => {
        const newSchema = mutator(dice)(oldSchema);
        if (isDeepStrictEqual(oldSchema, newSchema) || schemaIncompatibilities(oldSchema, newSchema).length > 0) return;
        const vOld = ajv.compile(oldSchema as AnySchema), vNew = ajv.compile(newSchema as AnySchema);
        const accepted = values.filter((v) => vOld(v));
        if (accepted.length > 0) exercised++;
        for (const v of accepted) expect(vNew(v), JSON.stringify({ v, oldSchema, newSchema })).toBe(true);
      }),
      { numRuns: 1000 },
    );
    expect(exercised).toBeGreaterThan(100);
  });
});
