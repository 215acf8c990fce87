import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import { qualifiedId, type PolicySetVersion } from '../index.ts';
import type { App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { ProblemSchema } from '../../http/index.ts';

const PolicySetOut = Type.Object({
  version: Type.Integer(),
  hash: Type.String({ description: 'sha256 of the text; audit records name it' }),
  policyIds: Type.Array(Type.String()),
  text: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  createdBy: Type.Union([Type.String(), Type.Null()]),
  comment: Type.Union([Type.String(), Type.Null()]),
});

function out(v: PolicySetVersion) {
  return { ...v, policyIds: [...v.policyIds], createdAt: toRfc3339(v.createdAt) };
}

export function policyRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const policies = deps.governance.policies;

    app.get(
      '/policies',
      { config: { action: 'policies:read' }, schema: { tags: ['policies'], summary: 'The active Cedar policy set', response: { 200: PolicySetOut } } },
      async () => out(await policies.current()),
    );

    app.get(
      '/policies/schema',
      {
        config: { action: 'policies:read' },
        schema: {
          tags: ['policies'],
          summary: 'The Cedar schema policies are validated against, and every action with its group',
          response: { 200: Type.Object({ schema: Type.String(), actions: Type.Record(Type.String(), Type.Object({ group: Type.String(), resource: Type.String(), description: Type.String() })) }) },
        },
      },
      async () => ({ schema: deps.governance.authorizer.engine.schemaText, actions: deps.governance.actionTable.actions }),
    );

    app.get(
      '/policies/versions',
      {
        config: { action: 'policies:read' },
        schema: {
          tags: ['policies'],
          summary: 'Every version of the policy set, newest first',
          querystring: Type.Object({ before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 20 })) }),
          response: { 200: Type.Object({ versions: Type.Array(PolicySetOut) }) },
        },
      },
      async (req) => ({ versions: (await policies.history({ before: req.query.before, limit: req.query.limit ?? 20 })).map(out) }),
    );

    app.put(
      '/policies',
      {
        config: { action: 'policies:update' },
        schema: {
          tags: ['policies'],
          summary: 'Replace the policy set: validated against the Cedar schema first, then stored as the next version and activated',
          body: Type.Object({ text: Type.String({ minLength: 1, maxLength: 1_000_000 }), comment: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false }),
          response: { 200: PolicySetOut, 400: ProblemSchema },
        },
      },
      async (req) => out(await policies.put(req.body.text, { createdBy: qualifiedId(req.aiosAuth!.principal), comment: req.body.comment })),
    );
  };
}
