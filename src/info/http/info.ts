import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import { ProblemSchema, type App, type RouteDeps } from '../../http/index.ts';
import type { InstanceInfo } from '../instance-info.ts';
import type { InstanceStart } from '../instance-starts.ts';

type Deps = RouteDeps<{ info: InstanceInfo }>;

const InstanceOut = Type.Object({ id: Type.String(), name: Type.String(), version: Type.String(), startedAt: Type.String({ format: 'date-time' }) });
const instanceOut = (s: InstanceStart) => ({ ...s, startedAt: toRfc3339(s.startedAt) });

export function infoRoutes(deps: Deps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    app.get(
      '/info',
      {
        config: { action: 'info:read' },
        schema: {
          tags: ['info'],
          summary: 'This build of AIOS, its capabilities, this instance and the latest instances started on the database',
          querystring: Type.Object({ instances: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: 10 })) }),
          response: { 200: Type.Object({ version: Type.String(), capabilities: Type.Array(Type.String()), instance: InstanceOut, instances: Type.Array(InstanceOut) }), 400: ProblemSchema },
        },
      },
      async (req) => {
        const info = await deps.info.read({ instances: req.query.instances ?? 10 });
        return { ...info, capabilities: [...info.capabilities], instance: instanceOut(info.instance), instances: info.instances.map(instanceOut) };
      },
    );
    app.get(
      '/info/instances/:id',
      {
        config: { action: 'info:read' },
        schema: {
          tags: ['info'],
          summary: 'One instance that started on the database',
          params: Type.Object({ id: Type.String({ maxLength: 100 }) }),
          response: { 200: InstanceOut, 404: ProblemSchema },
        },
      },
      async (req) => instanceOut(await deps.info.instanceById(req.params.id)),
    );
  };
}
