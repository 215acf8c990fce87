import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAiosError, type AiosError } from '../../core/index.ts';
import type { Principal } from '../principal.ts';
import { CedarEngine } from './cedar-engine.ts';
import { DEFAULT_POLICIES } from './default-policies.ts';
import { checkPolicyBounds, POLICY_LIMITS } from './policy-bounds.ts';

const P = 'principal.namespace == "x"'; // two levels: `.` below `==`
const forbid = (condition: string, id = 'deep') => `${DEFAULT_POLICIES}\n@id("${id}")\nforbid (principal == AIOS::User::"mallory", action, resource) when { ${condition} };`;

function refusal(text: string): AiosError | undefined {
  try {
    checkPolicyBounds(text);
    return undefined;
  } catch (e) {
    if (!isAiosError(e, 'AIOS_POLICY_TOO_COMPLEX')) throw e;
    return e;
  }
}

// Each builder gives a condition of depth n + 2 (P's two levels), plus one for the `when` braces.
const AT = POLICY_LIMITS.maxDepth - 3;
const shapes: Record<string, (n: number) => string> = {
  parentheses: (n) => `${'('.repeat(n)}${P}${')'.repeat(n)}`,
  '&& chain': (n) => Array(n + 1).fill(P).join(' && '),
  '|| chain': (n) => Array(n + 1).fill(P).join(' || '),
  'if in else': (n) => `${`if ${P} then true else `.repeat(n)}false`,
  'if in then': (n) => `${`if ${P} then `.repeat(n)}true${' else false'.repeat(n)}`,
  'sets in sets': (n) => `${'['.repeat(n)}${P}${']'.repeat(n)}`,
  'records in records': (n) => `${'{a: '.repeat(n)}${P}${'}'.repeat(n)}`,
};

describe('policy set bounds', () => {
  it('let the default policy set and sets near every limit through', () => {
    expect(refusal(DEFAULT_POLICIES)).toBeUndefined();
    for (const [name, make] of Object.entries(shapes)) expect(refusal(forbid(make(AT))), name).toBeUndefined();
    expect(refusal(forbid(`principal.namespace == "${'a'.repeat(POLICY_LIMITS.maxStringChars)}"`))).toBeUndefined();
    expect(refusal('permit (principal, action, resource);\n'.repeat(POLICY_LIMITS.maxPolicies))).toBeUndefined();
    // Wide is not deep: a long set of alternatives is one level.
    expect(refusal(forbid(`[${Array.from({ length: 5000 }, (_, i) => `"ns-${i}"`).join(', ')}].contains(principal.namespace)`))).toBeUndefined();
    // Brackets in comments and strings, and the `::` of paths, do not count.
    expect(refusal(forbid(`principal.namespace == "${'('.repeat(200)}" // ${'['.repeat(200)}\n`))).toBeUndefined();
    expect(refusal(forbid(`principal in ${Array(100).fill('AIOS').join('::')}::Role::"x"`))).toBeUndefined();
  });

  it('refuse one level past the limit in every shape, naming the limit, the policy and its line', () => {
    for (const [name, make] of Object.entries(shapes)) {
      const e = refusal(forbid(make(AT + 1)));
      expect(e, name).toBeDefined();
      expect(e!.extra).toEqual({ limit: 'maxDepth', max: POLICY_LIMITS.maxDepth });
      expect(e!.errors).toEqual([{ path: '/deep', message: expect.stringContaining(`more than ${POLICY_LIMITS.maxDepth} levels`) }]);
      expect(e!.message).toMatch(/^policy "deep" \(line \d+\)/);
    }
    const text = forbid(shapes.parentheses(80));
    const line = text.split('\n').findIndex((l) => l.startsWith('@id("deep")')) + 1;
    expect(refusal(text)!.message).toContain(`(line ${line})`);
    // A policy without @id is named as Cedar names it: policy<index>.
    const unnamed = `${DEFAULT_POLICIES}\nforbid (principal, action, resource) when { ${shapes['&& chain'](200)} };`;
    expect(refusal(unnamed)!.errors![0].path).toBe('/policy6');
  });

  it('refuse too much text, too many policies and over-long strings', () => {
    expect(refusal('permit (principal, action, resource);\n'.repeat(POLICY_LIMITS.maxPolicies + 1))!.extra).toMatchObject({ limit: 'maxPolicies' });
    expect(refusal(' '.repeat(POLICY_LIMITS.maxChars + 1))!.extra).toMatchObject({ limit: 'maxChars' });
    const long = refusal(forbid(`principal.namespace == "${'a'.repeat(POLICY_LIMITS.maxStringChars + 1)}"`));
    expect(long!.extra).toMatchObject({ limit: 'maxStringChars' });
    expect(long!.errors![0].path).toBe('/deep');
  });

  it('measure a megabyte of open brackets, or of operators, without recursion and without keeping them', () => {
    for (const text of ['('.repeat(POLICY_LIMITS.maxChars), '[{'.repeat(POLICY_LIMITS.maxChars / 2), `permit (principal, action, resource) when { ${'true && '.repeat(120_000)}true };`, `permit (principal, action, resource) when { ${'if '.repeat(300_000)}`]) {
      expect(refusal(text)?.extra).toMatchObject({ limit: 'maxDepth' });
    }
  });
});

/*
 * A condition built from the inside out: each layer wraps what it is given in one more level
 * (a bracket, an operator, an `if`), always of type Bool, so that Cedar validates and evaluates
 * the whole. The two properties: a condition deeper than the limit is refused, and one that is
 * let through never makes Cedar fail, even with a deeper stack beneath than any request has.
 */
const LAYERS: readonly ((inner: string) => string)[] = [
  (c) => `(${c})`,
  (c) => `(${c}) && ${P}`,
  (c) => `${P} || (${c})`,
  (c) => `!(${c})`,
  (c) => `if (${c}) then true else false`,
  (c) => `if ${P} then (${c}) else false`,
  (c) => `{a: ${c}}.a`,
  (c) => `[${c}].contains(true)`,
  (c) => `(${c}) == true`,
  (c) => `(${c}) || ${P} || ${P} || ${P}`,
];

/** Runs `f` below `frames` extra stack frames. */
function underStack<T>(frames: number, f: () => T): T {
  const result = frames <= 0 ? f() : underStack(frames - 1, f);
  return result;
}

const mallory: Principal = { type: 'user', id: 'mallory', namespace: 'x', roles: ['viewer'], authMethod: 'api_key' };

describe('the bound, against Cedar itself', () => {
  it('refuses every condition deeper than the limit, and Cedar compiles and evaluates every one it lets through', () => {
    const engine = new CedarEngine();
    // Lengths drawn evenly up to past the limit (fast-check's default sizes stay small).
    const layerList = fc.integer({ min: 1, max: POLICY_LIMITS.maxDepth + 8 }).chain((n) => fc.array(fc.nat(LAYERS.length - 1), { minLength: n, maxLength: n }));
    fc.assert(
      fc.property(layerList, (layers) => {
        const condition = layers.reduce((c, k) => LAYERS[k](c), P);
        const text = forbid(condition);
        const refused = refusal(text);
        // Every layer adds a bracket at least, to the `when` braces (1) and P (2).
        if (layers.length + 3 > POLICY_LIMITS.maxDepth) expect(refused, condition).toBeDefined();
        if (refused) return;
        underStack(2_000, () => {
          engine.activate(engine.compile(text));
          const decision = engine.authorize({ principal: mallory, action: 'lineage:read', resource: { type: 'Lineage', id: 't', namespace: 'x' } });
          expect(decision.errors).toEqual([]);
        });
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 60) },
    );
    expect(engine.ready).toBe(true);
  });
});
