import { AiosError } from '../../core/index.ts';
import { GovernanceError } from '../errors.ts';

/** What a policy set may hold before Cedar is given it. */
export interface PolicyLimits {
  /** Characters of policy text in all. */
  readonly maxChars: number;
  /** Policies in the set. */
  readonly maxPolicies: number;
  /**
   * Levels of nesting in one policy: each bracket, each operator of a chain at one precedence
   * (`a && b && c` is two) and each `if` counts one.
   */
  readonly maxDepth: number;
  /** Characters in one string literal. */
  readonly maxStringChars: number;
}

/**
 * Cedar parses, validates and evaluates by recursion, on the stack it shares with JavaScript;
 * an overflow inside its WebAssembly leaves the instance's memory corrupt. Measured on Node 20
 * with a warm instance: 78 nested brackets overflow while parsing, a chain of 103 `&&` (or `||`,
 * `+`, `.attr`, nested `if`) while evaluating, both fewer with a deeper JavaScript stack
 * beneath (56 brackets under 3,000 frames). 32 levels keeps a margin of more than two at the
 * call depth of a request, and is far beyond what a policy needs: a set written for several
 * plants nests five or six. Long alternatives belong in a set: `["a", "b"].contains(x)` is one
 * level however long. A Cedar evaluation walks every policy, so the count bounds the cost of a
 * decision (about 2 ms at 1,000 policies here).
 */
export const POLICY_LIMITS: PolicyLimits = Object.freeze({ maxChars: 1_000_000, maxPolicies: 1_000, maxDepth: 32, maxStringChars: 4_096 });

// Operator precedence, loosest first, as Cedar's grammar has it.
const OR = 0;
const AND = 1;
const RELATION = 2;
const SUM = 3;
const PRODUCT = 4;
const UNARY = 5;
const POSTFIX = 6; // .attr, .method(...), [index], call(...)
const LEVELS = 7;

const RELATION_WORDS = new Set(['in', 'has', 'like', 'is']);
const POLICY_WORDS = new Set(['permit', 'forbid', 'when', 'unless']);

/** One bracket being read: the depth of the expression chains in it, by precedence. */
interface Frame {
  /** Operators in the chain being read at each level. */
  readonly run: number[];
  /** The deepest operand of that chain so far. */
  readonly sub: number[];
  /** `if`s open in the current expression. */
  ifs: number;
  /** The deepest expression that ended in this bracket. */
  deepest: number;
}

const frame = (): Frame => ({ run: new Array<number>(LEVELS).fill(0), sub: new Array<number>(LEVELS).fill(0), ifs: 0, deepest: 0 });

/** Depth of the chains from level `above` up, which end here; resets them. */
function close(f: Frame, above: number): number {
  let carry = 0;
  for (let level = LEVELS - 1; level >= above; level--) {
    carry = f.run[level] + Math.max(f.sub[level], carry);
    f.run[level] = 0;
    f.sub[level] = 0;
  }
  return carry;
}

/** Depth reached so far in `f`, without ending anything. */
function reached(f: Frame): number {
  let carry = 0;
  for (let level = LEVELS - 1; level >= 0; level--) carry = f.run[level] + Math.max(f.sub[level], carry);
  return Math.max(f.deepest, f.ifs + carry);
}

function tooComplex(detail: string, limit: keyof PolicyLimits, max: number, where?: { policy: string; line: number }): AiosError {
  return new GovernanceError('AIOS_POLICY_TOO_COMPLEX', where ? `policy "${where.policy}" (line ${where.line}): ${detail}` : detail, {
    errors: [{ path: where ? `/${where.policy}` : '/', message: detail }],
    extra: { limit, max },
  });
}

const isIdentStart = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
const isIdentPart = (c: number) => isIdentStart(c) || (c >= 48 && c <= 57);
const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Refuses a policy set Cedar could not take safely: too long, too many policies, nested too
 * deep, or with an over-long string. One pass over the text, with no recursion (so that it
 * cannot overflow itself) and no more state than `maxDepth` open brackets. The depth it counts
 * is an upper bound of both the bracket nesting Cedar's parser recurses on and the depth of the
 * expression tree its validator and evaluator recurse on. Text that is not Cedar is measured as
 * well as it can be and left to Cedar's parser to refuse.
 *
 * @example
 * checkPolicyBounds('permit (principal, action, resource) when { ((((true)))) };'); // fine
 * checkPolicyBounds(`forbid (principal, action, resource) when { ${'('.repeat(80)}true${')'.repeat(80)} };`);
 * // throws AIOS_POLICY_TOO_COMPLEX: policy "policy0" (line 1): nests more than 32 levels deep ...
 */
export function checkPolicyBounds(text: string, limits: PolicyLimits = POLICY_LIMITS): void {
  if (text.length > limits.maxChars) {
    throw tooComplex(`the policy set is ${text.length} characters long; at most ${limits.maxChars} are allowed`, 'maxChars', limits.maxChars);
  }
  const stack: Frame[] = [frame()];
  let policies = 0;
  let policyId: string | undefined;
  let policyLine = 1;
  let line = 1;
  let started = false; // a policy has begun since the last `;`
  // What came last: an operand (identifier, literal, closing bracket), or anything else.
  let afterOperand = false;
  let afterIdent = false;
  let afterDot = false;
  let member = false; // the identifier just read named an attribute or method (it followed `.`)
  let annotation = 0; // 1 after `@`, 2 after `@id`, 3 after `@id(`: the next string is the policy's id
  const where = () => ({ policy: policyId ?? `policy${policies}`, line: policyLine });
  const deeper = () =>
    tooComplex(
      `nests more than ${limits.maxDepth} levels deep (each bracket, each operator of a chain and each \`if\` counts one); write long alternatives as a set, e.g. ["a", "b"].contains(x)`,
      'maxDepth',
      limits.maxDepth,
      where(),
    );
  const check = (f: Frame) => {
    if (stack.length - 1 + reached(f) > limits.maxDepth) throw deeper();
  };
  const operator = (level: number) => {
    const f = stack[stack.length - 1];
    f.sub[level] = Math.max(f.sub[level], close(f, level + 1));
    f.run[level]++;
    check(f);
  };
  const endExpression = (f: Frame, ifs: 'keep' | 'end') => {
    f.deepest = Math.max(f.deepest, f.ifs + close(f, 0));
    if (ifs === 'end') f.ifs = 0;
  };
  const begin = () => {
    if (!started) {
      started = true;
      policyLine = line;
    }
  };

  for (let i = 0; i < text.length; ) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      i++;
      continue;
    }
    if (c === 32 || c === 9 || c === 13) {
      i++;
      continue;
    }
    if (c === 47 && text.charCodeAt(i + 1) === 47) {
      // A comment, to the end of the line.
      const end = text.indexOf('\n', i);
      i = end < 0 ? text.length : end;
      continue;
    }
    begin();
    const top = stack[stack.length - 1];
    if (c === 34) {
      // A string literal, with backslash escapes.
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) !== 34) {
        if (text.charCodeAt(j) === 92) j++;
        else if (text.charCodeAt(j) === 10) line++;
        j++;
      }
      if (j - i - 1 > limits.maxStringChars) {
        throw tooComplex(`has a string of ${j - i - 1} characters; at most ${limits.maxStringChars} are allowed`, 'maxStringChars', limits.maxStringChars, where());
      }
      if (annotation === 3 && policyId === undefined) policyId = text.slice(i + 1, j);
      annotation = 0;
      i = j + 1;
      afterOperand = true;
      afterIdent = member = afterDot = false;
      continue;
    }
    if (isIdentStart(c)) {
      let j = i + 1;
      while (j < text.length && isIdentPart(text.charCodeAt(j))) j++;
      const word = text.slice(i, j);
      i = j;
      member = afterDot;
      afterDot = false;
      annotation = annotation === 1 && word === 'id' ? 2 : 0;
      if (stack.length === 1 && POLICY_WORDS.has(word)) {
        endExpression(top, 'end');
        afterOperand = afterIdent = false;
      } else if (word === 'if') {
        top.ifs++;
        check(top);
        afterOperand = afterIdent = false;
      } else if (word === 'then' || word === 'else') {
        endExpression(top, 'keep');
        afterOperand = afterIdent = false;
      } else if (RELATION_WORDS.has(word)) {
        operator(RELATION);
        afterOperand = afterIdent = false;
      } else {
        afterOperand = afterIdent = true;
      }
      continue;
    }
    if (isDigit(c)) {
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      afterOperand = true;
      afterIdent = member = afterDot = false;
      annotation = 0;
      continue;
    }
    const next = text.charCodeAt(i + 1);
    i++;
    const wasOperand = afterOperand;
    const wasIdent = afterIdent;
    const wasMember = member;
    afterOperand = afterIdent = member = afterDot = false;
    if (annotation === 2 && c === 40) annotation = 3;
    else if (c !== 64) annotation = 0;
    switch (c) {
      case 40: // (
      case 91: // [
      case 123: // {
        // A call or an index follows an operand; a group, a set or a record does not. The `.`
        // of a method call counted already.
        if ((c === 40 && wasIdent && !wasMember) || (c === 91 && wasOperand)) operator(POSTFIX);
        stack.push(frame());
        if (stack.length - 1 > limits.maxDepth) throw deeper();
        break;
      case 41: // )
      case 93: // ]
      case 125: {
        // }
        if (stack.length === 1) break; // unbalanced: Cedar's parser says so
        const inner = stack.pop()!;
        endExpression(inner, 'end');
        const parent = stack[stack.length - 1];
        parent.sub[POSTFIX] = Math.max(parent.sub[POSTFIX], inner.deepest + 1);
        check(parent);
        afterOperand = true;
        break;
      }
      case 58: // `::` joins a path; `:` ends a record's key
        if (next === 58) {
          i++;
          break;
        }
        endExpression(top, 'end');
        break;
      case 44: // ,
        endExpression(top, 'end');
        break;
      case 59: // ;
        if (stack.length === 1) {
          endExpression(top, 'end');
          top.deepest = 0;
          policies++;
          if (policies > limits.maxPolicies) throw tooComplex(`the policy set holds more than ${limits.maxPolicies} policies`, 'maxPolicies', limits.maxPolicies);
          policyId = undefined;
          started = false;
        }
        break;
      case 46: // .
        operator(POSTFIX);
        afterDot = true;
        break;
      case 124: // ||
        if (next === 124) i++;
        operator(OR);
        break;
      case 38: // &&
        if (next === 38) i++;
        operator(AND);
        break;
      case 61: // ==
      case 60: // < <=
      case 62: // > >=
        if (next === 61) i++;
        operator(RELATION);
        break;
      case 33: // ! or !=
        if (next === 61) {
          i++;
          operator(RELATION);
        } else {
          top.run[UNARY]++;
          check(top);
        }
        break;
      case 45: // - (binary after an operand)
        if (wasOperand) operator(SUM);
        else {
          top.run[UNARY]++;
          check(top);
        }
        break;
      case 43: // +
        operator(SUM);
        break;
      case 42: // *
        operator(PRODUCT);
        break;
      case 64: // @
        if (stack.length === 1) endExpression(top, 'end');
        annotation = 1;
        break;
      default:
        break;
    }
  }
}
