/** One reason a data-contract update is not backward compatible. */
export interface Incompatibility {
  /** JSON pointer into the schema, e.g. "/properties/rpm/type". */
  readonly path: string;
  readonly message: string;
}

type Obj = Record<string, unknown>;
type Report = (suffix: string, message: string) => void;

/** Keywords that never change which values a schema accepts. */
const ANNOTATIONS = new Set([
  'title', 'description', 'examples', 'default', '$comment', '$schema', '$id', 'deprecated', 'readOnly', 'writeOnly',
]);

/** Keywords with a dedicated rule below; every other keyword must be deep-equal (or droppable). */
const HANDLED = new Set([
  'type', 'required', 'properties', 'additionalProperties', 'enum', 'const', 'minimum', 'exclusiveMinimum', 'maximum',
  'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties',
  'pattern', 'format', 'items', 'uniqueItems', '$defs', 'definitions',
]);

/**
 * Keywords that only ever add a constraint to the schema they sit in, so removing one can only widen what
 * is accepted. (`minContains` is absent: dropping it re-enables the implicit `minContains: 1`.)
 */
const DROPPABLE = new Set([
  'allOf', 'anyOf', 'oneOf', 'not', 'if', 'then', 'else', 'dependentRequired', 'dependentSchemas', 'dependencies',
  'contains', 'maxContains', 'propertyNames',
]);

const LOWER = new Set(['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties']);
const BOUNDS = [...LOWER, 'maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'];

/**
 * Lists why `newSchema` is not a backward-compatible replacement for `oldSchema`, i.e. why some JSON value
 * valid under the old data contract might be rejected by the new one. An empty array means compatible.
 *
 * The check is conservative: whatever cannot be proven compatible is reported, for instance any change to
 * `anyOf`, `$ref`, `patternProperties` or keywords it does not know. Annotations (`title`, `description`,
 * `default`, ...) are ignored. One deliberate exception, see the `properties` rule: a newly declared
 * property is accepted even when the old schema allowed arbitrary additional properties.
 *
 * @example
 * schemaIncompatibilities(
 *   { type: 'object', properties: { rpm: { type: 'number', maximum: 100 } } },
 *   { type: 'object', properties: { rpm: { type: 'number', maximum: 50 } }, required: ['rpm'] },
 * );
 * // [ { path: '/required', message: 'new required property "rpm"' },
 * //   { path: '/properties/rpm/maximum', message: 'property "rpm": maximum lowered from 100 to 50' } ]
 */
export function schemaIncompatibilities(oldSchema: unknown, newSchema: unknown): Incompatibility[] {
  const out: Incompatibility[] = [];
  if (deepEqual(oldSchema, newSchema)) return out;
  // unevaluatedProperties/unevaluatedItems depend on what sibling, nested and referenced schemas evaluate,
  // so a change anywhere in the document can make them reject more: never claim compatibility around them.
  for (const s of [oldSchema, newSchema]) findUnevaluated(s, '', out);
  compare(oldSchema, newSchema, '', '', out);
  const seen = new Set<string>();
  return out.filter((i) => !seen.has(`${i.path}\0${i.message}`) && !!seen.add(`${i.path}\0${i.message}`));
}

/**
 * Pushes to `out` every reason why `n` may reject a value `o` accepts. `path` points at both sub-schemas,
 * `name` is the dotted property path used in messages ('' at the root).
 *
 * Identical `$ref`s are accepted: they point at the same location in both documents, and that location is
 * itself compared here (or, for `$defs`, definition by definition), so it is only as strict as proven.
 */
function compare(o: unknown, n: unknown, path: string, name: string, out: Incompatibility[]): void {
  if (deepEqual(o, n) || o === false || isTrivial(n)) return;
  const raw: Report = (suffix, message) => out.push({ path: path + suffix, message });
  const say: Report = (suffix, text) => raw(suffix, name ? `property "${name}": ${text}` : text);
  const unproven = (kw: string) => say(`/${esc(kw)}`, `cannot prove compatibility of ${kw}`);
  if (n === false) return say('', 'now rejects every value');
  if (o === true) o = {};
  if (!isObject(o) || !isObject(n)) return say('', 'cannot prove compatibility (not a JSON Schema object)');
  /** True when the keyword's values have the expected shape on both sides; otherwise reports if they differ. */
  const shaped = (kw: string, ok: (v: unknown) => boolean): boolean => {
    if ((o[kw] === undefined || ok(o[kw])) && (n[kw] === undefined || ok(n[kw]))) return true;
    if (!deepEqual(o[kw], n[kw])) unproven(kw);
    return false;
  };

  // type: every old type must still be accepted ("number" includes "integer").
  if (n.type !== undefined && shaped('type', (v) => typeList(v) !== undefined)) {
    const nt = typeList(n.type)!, ot = o.type === undefined ? undefined : typeList(o.type)!;
    if (!ot) say('/type', `now restricted to type ${nt.join(' or ')}`);
    else if (ot.some((t) => !nt.includes(t) && !(t === 'integer' && nt.includes('number')))) {
      const change = `from ${ot.join(' or ')} to ${nt.join(' or ')}`;
      raw('/type', name ? `property "${name}" changed type ${change}` : `type changed ${change}`);
    }
  }

  // required: nothing newly required.
  if (n.required !== undefined && shaped('required', isStringArray)) {
    const before = (o.required ?? []) as string[];
    for (const r of n.required as string[]) {
      if (!before.includes(r)) raw('/required', `new required property "${join(name, r)}"`);
    }
  }

  // properties + additionalProperties: compare the schema each property name falls under, old vs new.
  if (shaped('properties', isObject) && shaped('additionalProperties', isSchema)) {
    const op = (o.properties ?? {}) as Obj, np = (n.properties ?? {}) as Obj;
    const oa = o.additionalProperties ?? true, na = n.additionalProperties ?? true;
    for (const [k, os] of Object.entries(op)) {
      const at = `${path}/properties/${esc(k)}`, child = join(name, k);
      if (Object.hasOwn(np, k)) compare(os, np[k], at, child, out);
      else if (na !== false) compare(os, na, at, child, out); // now governed by the new additionalProperties
      else if (os !== false) out.push({ path: at, message: `property "${child}" removed from a closed object (additionalProperties: false)` });
    }
    for (const [k, ns] of Object.entries(np)) {
      if (Object.hasOwn(op, k) || isTrivial(ns)) continue;
      const at = `${path}/properties/${esc(k)}`, child = join(name, k);
      // Under old patternProperties the name may have matched a pattern rather than additionalProperties.
      if (o.patternProperties !== undefined) out.push({ path: at, message: `cannot prove compatibility of new property "${child}" (patternProperties)` });
      else if (oa !== false && !isTrivial(oa)) compare(oa, ns, at, child, out); // closed old object: name never occurred
      // Practical choice: when the old schema allowed any additional property, declaring a new property is
      // accepted although, strictly, old data could already carry any value under that name. Otherwise no
      // schema could ever gain a property; producers own their event shapes, so such stray fields are rare.
    }
    if (!deepEqual(oa, na) && !isTrivial(na) && oa !== false) {
      if (na === false) say('/additionalProperties', 'no longer allows additional properties');
      else if (isTrivial(oa)) say('/additionalProperties', 'additional properties are now restricted');
      else compare(oa, na, `${path}/additionalProperties`, join(name, '*'), out);
    }
  }

  // enum / const: every value the old schema could allow must still be listed.
  const oldValues = o.const !== undefined ? [o.const] : Array.isArray(o.enum) ? (o.enum as unknown[]) : undefined;
  if (n.enum !== undefined && shaped('enum', Array.isArray)) {
    const lost = oldValues?.filter((v) => !(n.enum as unknown[]).some((w) => deepEqual(v, w)));
    if (!oldValues) say('/enum', `now restricted to enum ${show(n.enum)}`);
    else if (lost!.length) say('/enum', `enum no longer contains ${lost!.map(show).join(', ')}`);
  }
  if (n.const !== undefined && !(oldValues ?? [undefined]).every((v) => deepEqual(v, n.const))) {
    say('/const', o.const !== undefined ? `const changed from ${show(o.const)} to ${show(n.const)}`
      : oldValues ? `enum ${show(o.enum)} narrowed to const ${show(n.const)}` : `now restricted to const ${show(n.const)}`);
  }

  // Numeric bounds and length/count limits: lower bounds must not rise, upper bounds must not fall.
  for (const kw of BOUNDS) {
    if (n[kw] === undefined || !shaped(kw, (v) => typeof v === 'number') || implied(o, kw, n[kw] as number)) continue;
    const verb = LOWER.has(kw) ? 'raised' : 'lowered';
    say(`/${kw}`, o[kw] !== undefined ? `${kw} ${verb} from ${o[kw]} to ${n[kw]}` : `${kw} ${n[kw]} added`);
  }
  if (n.multipleOf !== undefined && shaped('multipleOf', (v) => typeof v === 'number' && v > 0)) {
    // Computed in floating point like Ajv: 0.3 / 0.1 is not an integer there, so that change is reported.
    if (o.multipleOf === undefined) say('/multipleOf', `multipleOf ${n.multipleOf} added`);
    else if (!Number.isInteger((o.multipleOf as number) / (n.multipleOf as number))) {
      say('/multipleOf', `multipleOf changed from ${o.multipleOf} to ${n.multipleOf}`);
    }
  }
  for (const kw of ['pattern', 'format']) {
    if (n[kw] === undefined || deepEqual(o[kw], n[kw])) continue;
    say(`/${kw}`, o[kw] === undefined ? `${kw} ${show(n[kw])} added` : `${kw} changed from ${show(o[kw])} to ${show(n[kw])}`);
  }

  // Arrays.
  if (n.uniqueItems !== undefined && n.uniqueItems !== false && o.uniqueItems !== true && !deepEqual(o.uniqueItems, n.uniqueItems)) {
    say('/uniqueItems', 'items must now be unique');
  }
  if (n.items !== undefined && shaped('items', isSchema)) compare(o.items ?? true, n.items, `${path}/items`, `${name}[]`, out);

  // Definitions: compared one by one, so that identical $refs into them stay sound.
  for (const kw of ['$defs', 'definitions']) {
    if (deepEqual(o[kw], n[kw]) || !shaped(kw, isObject)) continue;
    const od = (o[kw] ?? {}) as Obj, nd = (n[kw] ?? {}) as Obj;
    for (const [k, s] of Object.entries(od)) {
      const at = `${path}/${kw}/${esc(k)}`;
      if (Object.hasOwn(nd, k)) compare(s, nd[k], at, `#/${kw}/${k}`, out);
      else out.push({ path: at, message: `cannot prove compatibility: definition "${k}" removed` });
    }
  }

  // Everything else (combinators, $ref, conditionals, unknown keywords): must be unchanged, or dropped if droppable.
  for (const kw of new Set([...Object.keys(o), ...Object.keys(n)])) {
    if (ANNOTATIONS.has(kw) || HANDLED.has(kw) || deepEqual(o[kw], n[kw])) continue;
    if (DROPPABLE.has(kw) && n[kw] === undefined) continue;
    unproven(kw);
  }
}

/** Whether the old schema already guarantees the new bound `kw: v`. */
function implied(o: Obj, kw: string, v: number): boolean {
  const num = (k: string) => (typeof o[k] === 'number' ? (o[k] as number) : undefined);
  const atLeast = (k: string, strict = false) => num(k) !== undefined && (strict ? num(k)! > v : num(k)! >= v);
  const atMost = (k: string, strict = false) => num(k) !== undefined && (strict ? num(k)! < v : num(k)! <= v);
  switch (kw) {
    case 'minimum': return atLeast('minimum') || atLeast('exclusiveMinimum');
    case 'exclusiveMinimum': return atLeast('exclusiveMinimum') || atLeast('minimum', true);
    case 'maximum': return atMost('maximum') || atMost('exclusiveMaximum');
    case 'exclusiveMaximum': return atMost('exclusiveMaximum') || atMost('maximum', true);
    default: return LOWER.has(kw) ? v <= 0 || atLeast(kw) : atMost(kw);
  }
}

function findUnevaluated(s: unknown, path: string, out: Incompatibility[]): void {
  if (Array.isArray(s)) s.forEach((x, i) => findUnevaluated(x, `${path}/${i}`, out));
  else if (isObject(s)) {
    for (const [k, v] of Object.entries(s)) {
      if (k === 'unevaluatedProperties' || k === 'unevaluatedItems') out.push({ path: `${path}/${k}`, message: `cannot prove compatibility of ${k}` });
      findUnevaluated(v, `${path}/${esc(k)}`, out);
    }
  }
}

/** `true`, or an object schema with nothing but annotations: accepts every value. */
function isTrivial(s: unknown): boolean {
  return s === true || (isObject(s) && Object.keys(s).every((k) => ANNOTATIONS.has(k)));
}

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isSchema(v: unknown): boolean {
  return typeof v === 'boolean' || isObject(v);
}

function isStringArray(v: unknown): boolean {
  return Array.isArray(v) && v.every((x) => typeof x === 'string');
}

function typeList(v: unknown): string[] | undefined {
  return typeof v === 'string' ? [v] : isStringArray(v) && (v as string[]).length > 0 ? (v as string[]) : undefined;
}

/** Structural equality of JSON values (object key order does not matter), as Ajv uses for enum/const. */
function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && deepEqual((a as Obj)[k], (b as Obj)[k]));
}

function join(name: string, key: string): string {
  return name ? `${name}.${key}` : key;
}

function esc(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

function show(v: unknown): string {
  return JSON.stringify(v);
}
