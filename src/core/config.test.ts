import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { CONFIG_OPTIONS, loadConfig as loadEveryOption } from '../runtime/index.ts';
import { loadConfig } from './config.ts';

describe('configuration', () => {
  const file = join(mkdtempSync(join(tmpdir(), 'aios-cfg-')), 'aios.json');
  writeFileSync(file, JSON.stringify({ port: 7000, logLevel: 'debug', dataDir: '/from/file' }));

  it('takes flags over environment over file over defaults', () => {
    const c = loadConfig({ port: '9000' }, { AIOS_PORT: '8500', AIOS_LOG_LEVEL: 'warn' }, file);
    expect(c.port).toBe(9000);
    expect(c.logLevel).toBe('warn');
    expect(c.dataDir).toBe('/from/file');
    expect(c.shutdownTimeoutMs).toBe(15_000);
    // A capability's options are resolved by the runtime's loader, with the same precedence.
    expect(loadEveryOption({ port: '9000' }, { AIOS_MAX_EVENTS_PER_REQUEST: '50' }, file)).toMatchObject({ port: 9000, dataDir: '/from/file', maxEventsPerRequest: 50, workflowConcurrency: 200, oidcRolesClaim: 'roles' });
    expect(loadConfig({}, { AIOS_PORT: '8500' }, file).port).toBe(8500);
    expect(loadConfig({}, {}, file).port).toBe(7000);
    expect(loadConfig({}, {}).port).toBe(8080);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names the bad option and where it came from', () => {
    expect(() => loadConfig({}, { AIOS_PORT: 'eighty' })).toThrow(/port from AIOS_PORT must be a non-negative integer/);
    expect(() => loadConfig({}, { AIOS_DATABASE_URL: 'nonsense' })).toThrow(/databaseUrl from AIOS_DATABASE_URL must be a URL/);
    expect(() => loadConfig({}, { AIOS_INFLIGHT_BODY_NAMESPACE_PERCENT: '150' })).toThrow(/inflightBodyNamespacePercent from AIOS_INFLIGHT_BODY_NAMESPACE_PERCENT must be at most 100, got 150/);
    const bad = join(mkdtempSync(join(tmpdir(), 'aios-cfg-')), 'bad.json');
    writeFileSync(bad, JSON.stringify({ prot: 1 }));
    expect(() => loadConfig({}, {}, bad)).toThrow(/unknown option "prot"/);
  });

  it('is documented option by option in the README', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const o of CONFIG_OPTIONS) expect(readme, `README misses ${o.env}`).toMatch(new RegExp(`\\| \`--${o.flag}\` \\| \`${o.env}\` \\|`));
  });
});
