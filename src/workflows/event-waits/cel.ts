import { celEnv, isCelError, parse, plan, type CelInput } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { AiosError } from '../../core/index.ts';
import type { MatchedEvent } from '../engine/event-port.ts';

/** What a match expression sees as `event`: a stored event of the log, with its topic (what the wait gets back). */
export type MatchableEvent = MatchedEvent;

/** An event converted once to CEL values, to test against many compiled expressions. */
export type CelEvent = Map<string, CelInput>;

/** Longer expressions are refused: a wait's match is a filter, not a program. */
export const MAX_MATCH_LENGTH = 4096;
const CACHE_SIZE = 1000;

const env = celEnv({ funcs: strings });
/** Identifiers an expression may use besides `event` and its own comprehension variables. */
const KNOWN_IDENTS = new Set(['event', 'int', 'uint', 'double', 'bool', 'string', 'bytes', 'list', 'map', 'null_type', 'type', 'dyn', 'google']);

type Test = (event: CelEvent) => boolean;
const cache = new Map<string, Test>();

/**
 * Compiles a CEL match expression over one variable, `event`. Throws AIOS_VALIDATION, naming
 * the CEL error, for an expression that does not parse, is longer than 4 KiB, or names a
 * variable or function that does not exist. The returned test never throws: an evaluation error
 * (a missing field, a type mismatch) or a result that is not a bool is "no match".
 *
 * Numbers: JSON numbers in `data` are CEL doubles, as CEL's own JSON mapping
 * (google.protobuf.Value) makes them; comparisons are heterogeneous, so `event.data.count == 3`,
 * `event.data.count > 2` and `event.data.rms > 0.5` all work. Arithmetic is not: write
 * `event.data.count + 1.0`, or `int(event.data.count) % 2`. `partition`, `offset` and `time`
 * are CEL ints. The strings extension is loaded (`startsWith`, `lowerAscii`, `split`, ...).
 *
 * @example
 * const matches = compileMatch("event.data.turbineId == 'T-7' && event.data.rms > 0.5");
 * matches({ id: 'e1', topic: 'vibration', key: null, partition: 0, offset: 4, time: 0, data: { turbineId: 'T-7', rms: 0.7 }, headers: {} }); // true
 */
export function compileMatch(expr: string): (event: MatchableEvent) => boolean {
  const test = compileCel(expr);
  return (event) => {
    let converted: CelEvent;
    try {
      converted = toCelEvent(event);
    } catch {
      return false;
    }
    return test(converted);
  };
}

/** compileMatch over an already-converted event; compiled once per expression (bounded LRU). */
export function compileCel(expr: string): Test {
  const hit = cache.get(expr);
  if (hit) {
    cache.delete(expr);
    cache.set(expr, hit);
    return hit;
  }
  const test = build(expr);
  cache.set(expr, test);
  if (cache.size > CACHE_SIZE) cache.delete(cache.keys().next().value!);
  return test;
}

function build(expr: string): Test {
  if (typeof expr !== 'string' || expr.trim() === '') throw new AiosError('AIOS_VALIDATION', 'the match expression is empty; give a CEL expression over `event`, such as "event.data.rms > 0.5"');
  if (expr.length > MAX_MATCH_LENGTH) {
    throw new AiosError('AIOS_VALIDATION', `the match expression is ${expr.length} characters long; the limit is ${MAX_MATCH_LENGTH}`);
  }
  let parsed;
  try {
    parsed = parse(expr);
  } catch (e) {
    throw new AiosError('AIOS_VALIDATION', `the match expression is not valid CEL: ${(e as Error).message}`, { cause: e });
  }
  const unknown = unresolved(parsed.expr);
  if (unknown) throw new AiosError('AIOS_VALIDATION', `the match expression is not valid CEL: ${unknown}; the only variable is \`event\``);
  const run = plan(env, parsed);
  return (event) => {
    try {
      return run({ event }) === true;
    } catch {
      return false;
    }
  };
}

/**
 * The first variable or function the expression names that cannot exist, or null. CEL reports
 * these only when evaluating, where they would make a wait that never matches.
 */
function unresolved(root: unknown): string | null {
  const walk = (e: any, bound: ReadonlySet<string>): string | null => {
    const k = e?.exprKind;
    if (!k) return null;
    const all = (xs: any[], b = bound) => xs.reduce<string | null>((found, x) => found ?? walk(x, b), null);
    switch (k.case) {
      case 'identExpr':
        return bound.has(k.value.name) || KNOWN_IDENTS.has(k.value.name) ? null : `undeclared reference to '${k.value.name}'`;
      case 'selectExpr':
        return walk(k.value.operand, bound);
      case 'callExpr': {
        const name: string = k.value.function;
        // Operators (`_&&_`, `_[_]`, `@not_strictly_false`) are the parser's own; only named functions can be typos.
        if (!/^[_@]/.test(name) && !env.funcs.find(name)) return `undeclared function '${name}'`;
        return all(k.value.target ? [k.value.target, ...k.value.args] : k.value.args);
      }
      case 'listExpr':
        return all(k.value.elements);
      case 'structExpr':
        return all(k.value.entries.flatMap((x: any) => (x.keyKind.case === 'mapKey' ? [x.keyKind.value, x.value] : [x.value])));
      case 'comprehensionExpr': {
        const c = k.value;
        const inner = new Set([...bound, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean));
        return all([c.iterRange, c.accuInit]) ?? all([c.loopCondition, c.loopStep, c.result], inner);
      }
      default:
        return null;
    }
  };
  return walk(root, new Set());
}

/** The event as CEL values; convert once per event when testing it against many waits. */
export function toCelEvent(e: MatchableEvent): CelEvent {
  return new Map<string, CelInput>([
    ['id', e.id],
    ['topic', e.topic],
    ['key', e.key],
    ['partition', BigInt(e.partition)],
    ['offset', BigInt(e.offset)],
    ['time', BigInt(Math.trunc(e.time))],
    ['data', fromJson(e.data)],
    ['headers', new Map(Object.entries(e.headers ?? {}).map(([k, v]) => [k, String(v)]))],
  ]);
}

/** JSON to CEL: objects to maps, arrays to lists, every number to a double. */
function fromJson(v: unknown): CelInput {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'boolean':
    case 'number':
      return v;
    case 'object':
      if (Array.isArray(v)) return v.map(fromJson);
      return new Map(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).map(([k, x]) => [k, fromJson(x)]));
    default:
      return null;
  }
}
