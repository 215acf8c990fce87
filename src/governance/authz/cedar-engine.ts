import { createHash } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { AiosError, type FieldError } from '../../core/index.ts';
import { CEDAR_NAMESPACE, cedarSchemaText } from './cedar-schema.ts';
import type { AuthzDecision, AuthzRequest, CompiledPolicySet, PolicyEngine } from './policy-engine.ts';

// V8 11.3 (Node 20) can abort the process ("unreachable code" in the deoptimizer) when it
// deoptimizes a function that TurboFan inlined into a WebAssembly call, which is what
// `authorize` is: seen in 5 of 6 benchmark runs under varied requests, none in 9 with inlining
// of JS-to-Wasm calls turned off. Set before any call is optimized; newer V8s keep their default.
if (process.versions.v8.startsWith('11.')) setFlagsFromString('--no-turbo-inline-js-wasm-calls');

/** Entity literals other than roles and actions: a policy naming one decides per principal or resource id. */
const ENTITY_LITERAL = /AIOS::(?!Role::|Action::)[A-Za-z_]+::"/;

const ID_ANNOTATION = /@id\(\s*"((?:[^"\\]|\\.)*)"\s*\)/;

function problems(errors: readonly cedar.DetailedError[], prefix = ''): FieldError[] {
  return errors.map((e) => ({ path: prefix || '/', message: e.help ? `${e.message} (${e.help})` : e.message }));
}

/**
 * Cedar through its WebAssembly build. Policy sets are validated against the AIOS schema
 * (strict mode) and pre-parsed into the engine's cache once, when they are compiled; a request
 * then costs one evaluation, with no parsing.
 */
export class CedarEngine implements PolicyEngine {
  readonly name = 'cedar';
  readonly schemaText = cedarSchemaText();
  readonly #schemaName: string;
  #active: CompiledPolicySet | undefined;

  constructor() {
    // The action hierarchy (topics:read in read) comes from the schema, so requests carry it.
    this.#schemaName = `aios-${createHash('sha256').update(this.schemaText).digest('hex').slice(0, 16)}`;
    const parsed = cedar.preparseSchema(this.#schemaName, this.schemaText);
    if (parsed.type === 'failure') throw new Error(`the AIOS Cedar schema does not parse: ${parsed.errors.map((e) => e.message).join('; ')}`);
  }

  compile(text: string): CompiledPolicySet {
    const parts = cedar.policySetTextToParts(text);
    if (parts.type === 'failure') throw new AiosError('AIOS_POLICY_INVALID', 'the policy set does not parse', { errors: problems(parts.errors) });
    if (parts.policy_templates.length) throw new AiosError('AIOS_POLICY_INVALID', 'policy templates are not supported; write static policies');
    const policies: Record<string, string> = {};
    parts.policies.forEach((p, i) => {
      const id = ID_ANNOTATION.exec(p)?.[1] ?? `policy${i}`;
      if (Object.hasOwn(policies, id)) throw new AiosError('AIOS_POLICY_INVALID', `two policies have the id "${id}"`, { errors: [{ path: `/${id}`, message: 'duplicate @id' }] });
      policies[id] = p;
    });
    const validation = cedar.validate({ schema: this.schemaText, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
    if (validation.type === 'failure') throw new AiosError('AIOS_POLICY_INVALID', 'the policy set could not be validated', { errors: problems(validation.errors) });
    if (validation.validationErrors.length) {
      throw new AiosError('AIOS_POLICY_INVALID', `${validation.validationErrors.length} policy error(s) against the AIOS Cedar schema`, {
        errors: validation.validationErrors.map((v) => ({ path: `/${v.policyId}`, message: v.error.message })),
      });
    }
    const hash = createHash('sha256').update(text).digest('hex');
    const parsed = cedar.preparsePolicySet(hash, { staticPolicies: policies });
    if (parsed.type === 'failure') throw new AiosError('AIOS_POLICY_INVALID', 'the policy set could not be loaded', { errors: problems(parsed.errors) });
    return Object.freeze({ hash, policyIds: Object.freeze(Object.keys(policies)), namesEntities: ENTITY_LITERAL.test(text) });
  }

  activate(set: CompiledPolicySet): void {
    this.#active = set;
  }

  get active(): CompiledPolicySet | undefined {
    return this.#active;
  }

  authorize(req: AuthzRequest): AuthzDecision {
    const set = this.#active;
    if (!set) throw new AiosError('AIOS_NOT_READY', 'no policy set is loaded yet');
    const { principal, resource } = req;
    const principalType = `${CEDAR_NAMESPACE}::${principal.type === 'user' ? 'User' : 'ServiceAccount'}`;
    const resourceType = `${CEDAR_NAMESPACE}::${resource.type}`;
    const answer = cedar.statefulIsAuthorized({
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
}
