import { describe, expect, it } from 'vitest';
import type { Principal } from '../principal.ts';
import { Authorizer } from './authorizer.ts';
import { CedarEngine } from './cedar-engine.ts';
import { DEFAULT_POLICIES } from './default-policies.ts';
import type { AuthzRequest } from './policy-engine.ts';

/** The real Cedar engine, counting its evaluations. */
class CountingCedar extends CedarEngine {
  calls = 0;
  override authorize(req: AuthzRequest) {
    this.calls++;
    return super.authorize(req);
  }
}

const viewer: Principal = { type: 'user', id: 'u1', namespace: 'a', roles: ['viewer'], authMethod: 'api_key' };
const read = (graph: string, principal: Principal = viewer): AuthzRequest => ({ principal, action: 'lineage:read', resource: { type: 'Lineage', id: graph, namespace: 'a' } });

describe('Authorizer', () => {
  it('decides once per principal shape and resource type when the policy set names no entity', () => {
    const engine = new CountingCedar();
    const authz = new Authorizer(engine);
    authz.activate(engine.compile(DEFAULT_POLICIES));
    for (let i = 0; i < 50; i++) expect(authz.authorize(read(`t${i}`, { ...viewer, id: `u${i}` })).allowed).toBe(true);
    expect(engine.calls).toBe(1);
    expect(authz.authorize({ ...read('t1'), resource: { type: 'Lineage', id: 't1', namespace: 'b' } }).allowed).toBe(false);
    expect(engine.calls).toBe(2);
  });

  it('decides per id when a policy names a resource, and a new policy set is never served old decisions', () => {
    const engine = new CountingCedar();
    const authz = new Authorizer(engine);
    authz.activate(engine.compile(DEFAULT_POLICIES));
    expect(authz.authorize(read('secret-plans')).allowed).toBe(true);
    const set = engine.compile(`${DEFAULT_POLICIES}\n@id("hide")\nforbid (principal, action, resource == AIOS::Lineage::"secret-plans");`);
    expect(set.namesEntities).toBe(true);
    authz.activate(set);
    const denied = authz.authorize(read('secret-plans'));
    expect(denied).toMatchObject({ allowed: false, policyIds: ['hide'], policySetHash: set.hash });
    expect(authz.authorize(read('public')).allowed).toBe(true);
    expect(authz.authorize(read('secret-plans', { ...viewer, id: 'u2' })).allowed).toBe(false);
  });
});
