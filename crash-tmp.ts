import { CedarEngine } from './src/governance/authz/cedar-engine.ts';
import { Authorizer } from './src/governance/authz/authorizer.ts';
import { DEFAULT_POLICIES } from './src/governance/authz/default-policies.ts';
const a = new Authorizer(new CedarEngine(), { cacheSize: 100 });
a.activate(a.engine.compile(DEFAULT_POLICIES));
const roles = ['admin', 'viewer', 'engineer', 'operator', 'service'];
const actions = ['topics:read', 'topics:create', 'events:append', 'secrets:reveal', 'keys:create'] as const;
let allowed = 0;
for (let i = 0; i < 300000; i++) {
  const d = a.authorize({ principal: { type: i % 2 ? 'user' : 'service', id: 'p' + (i % 37), namespace: i % 3 ? 'a' : '*', roles: [roles[i % 5]], authMethod: 'api_key' }, action: actions[i % 5], resource: { type: i % 5 < 1 ? 'Topic' : 'Namespace', id: 'r' + (i % 101), namespace: 'a' } } as any);
  if (d.allowed) allowed++;
}
console.log('done', allowed);
