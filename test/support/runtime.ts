import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createAios, type Aios } from '../../src/index.ts';
import { createLogger } from '../../src/core/index.ts';

/** An embedded AIOS on a fresh data directory, its logs captured in `logs`. */
export async function startTestAios(config: Record<string, string | number> = {}, opts: { listen?: boolean } = {}): Promise<{ aios: Aios; logs: string[]; cleanup(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'aios-rt-'));
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const aios = await createAios({ config: { dataDir, retentionIntervalMs: 0, ...config }, env: {}, logger: createLogger({ level: 'info', destination }) });
  await aios.start({ listen: opts.listen });
  return {
    aios,
    logs,
    async cleanup() {
      await aios.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
