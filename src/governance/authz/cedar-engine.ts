import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import type { DetailedError } from '@cedar-policy/cedar-wasm/nodejs';
import { AiosError, isAiosError, systemClock, type Clock, type FieldError, type Logger } from '../../core/index.ts';
import { loadCedarModule, type CedarModule } from './cedar-module.ts';
import { CEDAR_NAMESPACE, cedarSchemaText, type ActionTable } from './cedar-schema.ts';
import { checkPolicyBounds, POLICY_LIMITS, type PolicyLimits } from './policy-bounds.ts';
import type { AuthzDecision, AuthzRequest, CompiledPolicySet, PolicyEngine } from './policy-engine.ts';
import { GovernanceError } from '../errors.ts';

// V8 11.3 (Node 20) can abort the process ("unreachable code" in the deoptimizer) when it
// deoptimizes a function that TurboFan inlined into a WebAssembly call, which is what
// `authorize` is: seen in 5 of 6 benchmark runs under varied requests, none in 9 with inlining
// of JS-to-Wasm calls turned off. Set before any call is optimized; newer V8s keep their default.
if (process.versions.v8.startsWith('11.')) setFlagsFromString('--no-turbo-inline-js-wasm-calls');

/** Entity literals other than roles and actions: a policy naming one decides per principal or resource id. */
const ENTITY_LITERAL = /AIOS::(?!Role::|Action::)[A-Za-z_]+::"/;

const ID_ANNOTATION = /@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)/;

const MAX_REBUILD_DELAY_MS = 30_000;

function problems(errors: readonly DetailedError[], prefix = ''): FieldError[] {
  return errors.map((e) => ({ path: prefix || '/', message: e.help ? `${e.message} (${e.help})` : e.message }));
}

/** One copy of Cedar holding the schema and one policy set, pre-parsed: what decides. */
interface Evaluator {
  readonly cedar: CedarModule;
  readonly text: string;
  /** Set once a call into this copy threw: its memory can no longer be trusted. */
  broken: boolean;
}

export interface CedarEngineOptions {
  /** The actions and entity types of the schema; governance's own by default. */
  readonly actionTable?: ActionTable;
  /** Schedules the rebuild of a failed evaluator. */
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly limits?: PolicyLimits;
  /** Loads a fresh copy of Cedar (its own WebAssembly instance). */
  readonly loadCedar?: () => CedarModule;
  /** Wait before rebuilding a failed evaluator; doubles while rebuilds fail, up to 30 s. */
  readonly rebuildDelayMs?: number;
}

/**
 * Cedar through its WebAssembly build. A policy set is checked against `POLICY_LIMITS`, then
 * compiled on a copy of Cedar of its own: validated against the AIOS schema (strict mode) and
 * pre-parsed, so that a request costs one evaluation, with no parsing. That copy decides once
 * the set is activated; a set that is refused, or that Cedar fails on, never touches the copy
 * deciding for the active set. When an evaluation throws (the copy's memory is then corrupt),
 * requests get AIOS_AUTHZ_UNAVAILABLE and `ready` is false until a fresh copy, compiled from the
 * same text, replaces it; the active set and its hash are unchanged, so decisions cached for it
 * stay right.
 *
 * @example
 * const engine = new CedarEngine({ logger });
 * engine.activate(engine.compile(DEFAULT_POLICIES));
 * engine.authorize({ principal, action: 'topics:read', resource: { type: 'Topic', id: 'vibration', namespace: 'plant-a' } });
 */
export class CedarEngine implements PolicyEngine {
  readonly name = 'cedar';
  readonly schemaText: string;
  readonly #schemaName: string;
  readonly #clock: Clock;
  readonly #logger: Logger | undefined;
  readonly #limits: PolicyLimits;
  readonly #load: () => CedarModule;
  readonly #rebuildDelayMs: number;
  /** The evaluator of each compiled set; it goes with the set when the set is dropped. */
  readonly #evaluators = new WeakMap<CompiledPolicySet, Evaluator>();
  #active: CompiledPolicySet | undefined;
  #serving: Evaluator | undefined;
  #failedRebuilds = 0;
  #cancelRebuild: (() => void) | undefined;
  #closed = false;

  constructor(opts: CedarEngineOptions = {}) {
    this.schemaText = cedarSchemaText(opts.actionTable);
    // The action hierarchy (topics:read in read) comes from the schema, so requests carry it.
    this.#schemaName = `aios-${createHash('sha256').update(this.schemaText).digest('hex').slice(0, 16)}`;
    this.#clock = opts.clock ?? systemClock;
    this.#logger = opts.logger;
    this.#limits = opts.limits ?? POLICY_LIMITS;
    this.#load = opts.loadCedar ?? loadCedarModule;
    this.#rebuildDelayMs = opts.rebuildDelayMs ?? 100;
  }

  compile(text: string): CompiledPolicySet {
    checkPolicyBounds(text, this.#limits);
    const hash = createHash('sha256').update(text).digest('hex');
    const { evaluator, policyIds } = this.#prepare(text, hash);
    const set: CompiledPolicySet = Object.freeze({ hash, policyIds, namesEntities: ENTITY_LITERAL.test(text) });
    this.#evaluators.set(set, evaluator);
    return set;
  }

  activate(set: CompiledPolicySet): void {
    const evaluator = this.#evaluators.get(set);
    if (!evaluator) throw new Error('CedarEngine.activate: the policy set was not compiled by this engine');
    this.#active = set;
    this.#serving = evaluator;
    if (evaluator.broken) return this.#scheduleRebuild();
    this.#cancelRebuild?.();
    this.#cancelRebuild = undefined;
    this.#failedRebuilds = 0;
  }

  get active(): CompiledPolicySet | undefined {
    return this.#active;
  }

  /** Cancels a pending rebuild; the engine still decides while its evaluator works. */
  close(): void {
    this.#closed = true;
    this.#cancelRebuild?.();
    this.#cancelRebuild = undefined;
  }

  get ready(): boolean {
    return this.#serving !== undefined && !this.#serving.broken;
  }

  authorize(req: AuthzRequest): AuthzDecision {
    const set = this.#active;
    const evaluator = this.#serving;
    if (!set || !evaluator) throw new AiosError('AIOS_NOT_READY', 'no policy set is loaded yet');
    if (evaluator.broken) throw this.#unavailable();
    const { principal, resource } = req;
    const principalType = `${CEDAR_NAMESPACE}::${principal.type === 'user' ? 'User' : 'ServiceAccount'}`;
    const resourceType = `${CEDAR_NAMESPACE}::${resource.type}`;
    let answer: ReturnType<CedarModule['statefulIsAuthorized']>;
    try {
      answer = evaluator.cedar.statefulIsAuthorized({
        principal: { type: principalType, id: principal.id },
        action: { type: `${CEDAR_NAMESPACE}::Action`, id: req.action },
        resource: { type: resourceType, id: resource.id },
        context: {},
        preparsedPolicySetId: set.hash,
        preparsedSchemaName: this.#schemaName,
        validateRequest: false,
        entities: [
          {
            uid: { type: principalType, id: principal.id },
            attrs: { namespace: principal.namespace },
            parents: principal.roles.map((r) => ({ type: `${CEDAR_NAMESPACE}::Role`, id: r })),
          },
          { uid: { type: resourceType, id: resource.id }, attrs: { namespace: resource.namespace }, parents: [] },
        ],
      });
    } catch (err) {
      if (!evaluator.broken) {
        evaluator.broken = true;
        this.#logger?.error({ err, policySetHash: set.hash }, 'the Cedar evaluator failed; authorization is unavailable until it is rebuilt');
        this.#scheduleRebuild();
      }
      throw this.#unavailable(err);
    }
    if (answer.type === 'failure') {
      // A malformed request (never a policy's doing): deny, and say why.
      return { allowed: false, policySetHash: set.hash, policyIds: [], errors: answer.errors.map((e) => e.message) };
    }
    const { decision, diagnostics } = answer.response;
    return {
      allowed: decision === 'allow',
      policySetHash: set.hash,
      policyIds: diagnostics.reason,
      errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
    };
  }

  /** Parses, validates and pre-parses `text` on a fresh copy of Cedar, which then decides for it alone. */
  #prepare(text: string, hash: string): { evaluator: Evaluator; policyIds: readonly string[] } {
    const cedar = this.#load();
    try {
      const schema = cedar.preparseSchema(this.#schemaName, this.schemaText);
      if (schema.type === 'failure') throw new AiosError('AIOS_INTERNAL', `the AIOS Cedar schema does not parse: ${schema.errors.map((e) => e.message).join('; ')}`);
      const parts = cedar.policySetTextToParts(text);
      if (parts.type === 'failure') throw new GovernanceError('AIOS_POLICY_INVALID', 'the policy set does not parse', { errors: problems(parts.errors) });
      if (parts.policy_templates.length) throw new GovernanceError('AIOS_POLICY_INVALID', 'policy templates are not supported; write static policies');
      const policies: Record<string, string> = {};
      parts.policies.forEach((p, i) => {
        const id = ID_ANNOTATION.exec(p)?.[1] ?? `policy${i}`;
        if (Object.hasOwn(policies, id)) throw new GovernanceError('AIOS_POLICY_INVALID', `two policies have the id "${id}"`, { errors: [{ path: `/${id}`, message: 'duplicate @id' }] });
        policies[id] = p;
      });
      const validation = cedar.validate({ schema: this.schemaText, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
      if (validation.type === 'failure') throw new GovernanceError('AIOS_POLICY_INVALID', 'the policy set could not be validated', { errors: problems(validation.errors) });
      if (validation.validationErrors.length) {
        throw new GovernanceError('AIOS_POLICY_INVALID', `${validation.validationErrors.length} policy error(s) against the AIOS Cedar schema`, {
          errors: validation.validationErrors.map((v) => ({ path: `/${v.policyId}`, message: v.error.message })),
        });
      }
      const parsed = cedar.preparsePolicySet(hash, { staticPolicies: policies });
      if (parsed.type === 'failure') throw new GovernanceError('AIOS_POLICY_INVALID', 'the policy set could not be loaded', { errors: problems(parsed.errors) });
      return { evaluator: { cedar, text, broken: false }, policyIds: Object.freeze(Object.keys(policies)) };
    } catch (err) {
      if (isAiosError(err)) throw err;
      // Cedar itself failed (a stack overflow, a trap): this copy is dropped with the set.
      throw new GovernanceError('AIOS_POLICY_TOO_COMPLEX', `Cedar could not compile the policy set (${err instanceof Error ? err.message : String(err)}); simplify it`, { cause: err });
    }
  }

  #unavailable(cause?: unknown): AiosError {
    const retryAfterSeconds = Math.max(1, Math.ceil(this.#nextDelay() / 1000));
    return new GovernanceError('AIOS_AUTHZ_UNAVAILABLE', `authorization cannot decide: its evaluator failed and is being rebuilt; retry in ${retryAfterSeconds} s`, { cause, extra: { retryAfterSeconds } });
  }

  #nextDelay(): number {
    return Math.min(MAX_REBUILD_DELAY_MS, this.#rebuildDelayMs * 2 ** this.#failedRebuilds);
  }

  #scheduleRebuild(): void {
    if (this.#cancelRebuild || this.#closed) return;
    const delay = this.#nextDelay();
    const run = () => {
      this.#cancelRebuild = undefined;
      this.#rebuild();
    };
    if (this.#clock.setTimer) {
      this.#cancelRebuild = this.#clock.setTimer(this.#clock.now() + delay, run);
    } else {
      const timer = setTimeout(run, delay).unref();
      this.#cancelRebuild = () => clearTimeout(timer);
    }
  }

  #rebuild(): void {
    const set = this.#active;
    const broken = this.#serving;
    if (!set || !broken?.broken) return;
    try {
      const { evaluator } = this.#prepare(broken.text, set.hash);
      this.#evaluators.set(set, evaluator);
      this.#serving = evaluator;
      this.#failedRebuilds = 0;
      this.#logger?.info({ policySetHash: set.hash }, 'the Cedar evaluator was rebuilt; authorization is available again');
    } catch (err) {
      this.#failedRebuilds++;
      this.#logger?.error({ err, policySetHash: set.hash, retryInMs: this.#nextDelay() }, 'could not rebuild the Cedar evaluator');
      this.#scheduleRebuild();
    }
  }
}
