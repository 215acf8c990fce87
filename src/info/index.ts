import { hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { defineCapability } from '../capability/index.ts';
import { uuidv7 } from '../core/index.ts';
import { infoCommand } from './cli/info.ts';
import { InfoError } from './errors.ts';
import { infoRoutes } from './http/info.ts';
import { InstanceInfo } from './instance-info.ts';
import { InstanceStarts } from './instance-starts.ts';
import { m0012InstanceStarts } from './migrations/0012-instance-starts.ts';

export type { Info, InstanceInfo } from './instance-info.ts';
export type { InstanceStart } from './instance-starts.ts';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/**
 * What runs: this build's version and capabilities, this instance, and the instances that have
 * started on the database. The smallest capability, and the example of the shape every one takes.
 */
export const infoCapability = defineCapability({
  id: 'info',
  migrations: [m0012InstanceStarts],
  errors: InfoError.specs,
  actions: { 'info:read': { group: 'read', resource: 'Namespace', description: 'see the version, capabilities and instances of AIOS' } },
  config: [{ key: 'instanceName', flag: 'instance-name', env: 'AIOS_INSTANCE_NAME', kind: 'string', description: 'name of this instance in `aios info` and the aios_info metric (default: the host name)' }],
  metrics: [{ name: 'aios_info', type: 'gauge', help: 'Always 1; its labels name the version and this instance' }],
  http: {
    plugin: infoRoutes,
    operations: { 'GET /api/v1/info': { id: 'getInfo' }, 'GET /api/v1/info/instances/{id}': { id: 'getInstance' } },
    tags: [{ name: 'info', description: 'What runs: version, capabilities and instances' }],
    fixtures: { 'GET /api/v1/info': { url: '/api/v1/info' }, 'GET /api/v1/info/instances/:id': { url: '/api/v1/info/instances/no-such-instance', expect: 'not-found' } },
  },
  cli: () => [infoCommand()],
  create(ctx) {
    const name = (ctx.config as { instanceName?: string }).instanceName ?? hostname();
    const info = new InstanceInfo({
      starts: new InstanceStarts(ctx.database),
      instance: { id: uuidv7(), name, version: VERSION, startedAt: ctx.clock.now() },
      capabilities: ctx.capabilities.map((c) => c.id),
      metrics: ctx.metrics,
    });
    return { services: { info }, start: () => info.recordStart() };
  },
});
