import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { createAios, type Aios, type PolicyEngine } from '../../src/index.ts';
import { createLogger } from '../../src/core/index.ts';


export interface TestAios {
  readonly aios: Aios;
  /** The admin key the first start created. */
  readonly adminKey: string;
  /** `aios.http.inject` with the admin key, unless the request sets its own authorization. */
  api(opts: InjectOptions): Promise<LightMyRequestResponse>;
  readonly logs: string[];
  readonly dataDir: string;
  cleanup(): Promise<void>;
}

/** An embedded AIOS on a fresh data directory, its logs captured in `logs`. */
export async function startTestAios(config: Record<string, string | number> = {}, opts: { listen?: boolean; env?: Record<string, string>; adminKey?: string; policyEngine?: PolicyEngine } = {}): Promise<TestAios> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aios-rt-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const aios = await createAios({ config: { dataDir, retentionIntervalMs: 0, ...config }, env: opts.env ?? {}, logger: createLogger({ level: 'info', destination }), policyEngine: opts.policyEngine });
  await aios.start({ listen: opts.listen });
  // A second process on a shared database finds keys there and writes no file: the caller hands it the first's key.
  const adminKey = opts.adminKey ?? readFileSync(join(dataDir, 'admin.key'), 'utf8').trim();
  return {
    aios,
    adminKey,
    api: (o) => aios.http.inject({ ...o, headers: { authorization: `Bearer ${adminKey}`, ...(o.headers ?? {}) } }),
    logs,
    dataDir,
    async cleanup() {
      await aios.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
