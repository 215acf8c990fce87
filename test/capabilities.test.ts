import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  actionsOnUnknownTypes,
  defineCapability,
  migrationProblems,
  routesWithoutAction,
  undocumentedConfigOptions,
  undocumentedErrorCodes,
  unprefixedErrorCodes,
  usesProblems,
  type Capability,
} from '../src/capability/index.ts';
import { ERROR_CODES as CORE_ERRORS } from '../src/core/index.ts';
import { BASE_RESOURCE_TYPES } from '../src/governance/index.ts';
import { CAPABILITIES, CONFIG_OPTIONS, ERROR_CODES, MIGRATIONS } from '../src/runtime/index.ts';
import { createMetricsRegistry } from '../src/observability/index.ts';
import { buildServer, routeInventory } from '../src/server/index.ts';
import type { Migration } from '../src/storage/index.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';

const LIST: readonly Capability[] = CAPABILITIES;
const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const ERRORS_DOC = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
const OPEN = new Set(['/healthz', '/readyz', '/openapi.json', '/docs']);
const isOpen = (url: string) => OPEN.has(url) || url.startsWith('/docs/');

const migration = (version: number, name: string): Migration => ({ version, name, up: async () => undefined });

/** A capability with one thing wrong in each part the checks look at. */
const broken = defineCapability({
  id: 'broken',
  uses: ['nowhere'],
  migrations: [migration(3, 'twice'), migration(99, 'far-ahead')],
  errors: { AIOS_BROKEN_UNDOCUMENTED: { status: 400, title: 'Not in docs/errors.md' }, AIOS_OTHER_PREFIX: { status: 400, title: 'Wrong prefix' } },
  actions: { 'broken:read': { group: 'read', resource: 'NoSuchType', description: 'on a type no one declares' } },
  config: [{ key: 'brokenOption', flag: 'broken-option', env: 'AIOS_BROKEN_OPTION', kind: 'int', default: 1, description: 'not in the README' }],
});

describe('the capability list', () => {
  it('has unique ids, and every capability uses only capabilities of the list, without a cycle', () => {
    expect(usesProblems(LIST)).toEqual([]);
  });

  it('holds every migration once, in one sequence 1, 2, 3... (the one the runtime applies)', () => {
    expect(migrationProblems(LIST)).toEqual([]);
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    // The names of the migrations databases already hold: a rename would be a new schema.
    expect(MIGRATIONS.slice(0, 11).map((m) => `${m.version}-${m.name}`)).toEqual([
      '1-events', '2-group-leases', '3-identity', '4-audit', '5-lineage', '6-secrets', '7-workflows', '8-schedules', '9-event-waits', '10-workflow-outbox', '11-audit-checkpoint-chain',
    ]);
  });

  it('documents every error code in docs/errors.md, each under its capability\'s prefix', () => {
    expect(undocumentedErrorCodes(LIST, ERRORS_DOC)).toEqual([]);
    expect(unprefixedErrorCodes(LIST)).toEqual([]);
    // The registry problem+json answers from: core's codes and every capability's.
    for (const c of LIST) for (const code of Object.keys(c.errors ?? {})) expect(ERROR_CODES).toHaveProperty(code);
    expect(Object.keys(ERROR_CODES)).toEqual(expect.arrayContaining(Object.keys(CORE_ERRORS)));
  });

  it('lists every config option in the README\'s table, and the assembled table holds them', () => {
    expect(undocumentedConfigOptions(LIST, README)).toEqual([]);
    for (const c of LIST) for (const o of c.config ?? []) expect(CONFIG_OPTIONS).toContainEqual(o);
  });

  it('declares actions only on Namespace or on entity types a capability declares', () => {
    expect(actionsOnUnknownTypes(LIST, BASE_RESOURCE_TYPES)).toEqual([]);
  });
});

describe('the checks fail on a broken capability', () => {
  const withBroken = [...LIST, broken];

  it('a use of a capability not in the list, and a cycle', () => {
    expect(usesProblems(withBroken)).toEqual(['capability "broken" uses "nowhere", which is not in the list']);
    const a = defineCapability({ id: 'a', uses: ['b'] });
    const b = defineCapability({ id: 'b', uses: ['a'] });
    expect(usesProblems([a, b])).toEqual([expect.stringContaining('cycle: a -> b -> a')]);
  });

  it('a migration number taken twice, and a gap', () => {
    const problems = migrationProblems(withBroken);
    expect(problems).toEqual(expect.arrayContaining([expect.stringMatching(/migration 3 is declared twice/), expect.stringMatching(/99-far-ahead of broken is out of sequence/)]));
  });

  it('an undocumented error code and one without its prefix', () => {
    expect(undocumentedErrorCodes(withBroken, ERRORS_DOC)).toEqual(expect.arrayContaining([expect.stringContaining('AIOS_BROKEN_UNDOCUMENTED is not in docs/errors.md')]));
    expect(unprefixedErrorCodes(withBroken)).toEqual(['broken: error code AIOS_OTHER_PREFIX does not start with AIOS_BROKEN_']);
  });

  it('a config option missing from the README', () => {
    expect(undocumentedConfigOptions(withBroken, README)).toEqual(['broken: config option --broken-option (AIOS_BROKEN_OPTION) is not in the README\'s table']);
  });

  it('an action on an entity type no one declares', () => {
    expect(actionsOnUnknownTypes(withBroken, BASE_RESOURCE_TYPES)).toEqual(['broken: action broken:read applies to NoSuchType, which no one declares']);
  });
});

describe('routes of the capability list', () => {
  let t: TestAios;
  beforeAll(async () => {
    t = await startTestAios();
  });
  afterAll(() => t.cleanup());

  const deps = () => ({ ...t.aios, metrics: createMetricsRegistry({ defaultMetrics: false }), authEnabled: true, limits: t.aios.config, isReady: () => true, streams: new Set<AbortController>() });

  it('every route of the running API declares an authorization action, or is one of the open ones', () => {
    expect(routesWithoutAction(routeInventory(t.aios.http), isOpen)).toEqual([]);
    expect(routesWithoutAction([{ method: 'GET', url: '/api/v1/broken', action: undefined }], isOpen)).toEqual(['GET /api/v1/broken declares no authorization action']);
  });

  it('the server refuses to start with a route that declares no action, or an action no capability declares', async () => {
    const routes = (config: object) => defineCapability({
      id: 'broken',
      http: {
        plugin: () => async (app: { get(url: string, opts: object, h: () => unknown): void }) => app.get('/broken', { config, schema: { operationId: 'getBroken' } }, () => ({})),
        operations: { 'GET /api/v1/broken': { id: 'getBroken' } },
        tags: [],
      },
    });
    await expect(buildServer(deps(), [routes({})])).rejects.toThrow(/GET \/api\/v1\/broken declares no authorization action/);
    await expect(buildServer(deps(), [routes({ action: 'broken:read' })])).rejects.toThrow(/declares the action "broken:read", which no capability declares/);
  });
});
