import { mkdir, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { WitnessEntry } from './witness-entry.ts';
import type { WitnessSink } from './witness-publisher.ts';

/**
 * Appends each entry as one NDJSON line to `path` and fsyncs it before the delivery counts; the
 * directory is fsynced too when the file is new, so the file itself survives a crash. Keep the
 * file where the owner of the database cannot rewrite it: another disk, host or account.
 *
 * @example new WitnessPublisher({ sinks: [fileWitness('/mnt/audit-witness/aios.ndjson')], logger })
 */
export function fileWitness(path: string): WitnessSink {
  return {
    name: `file ${path}`,
    async deliver(entry) {
      const isNew = await stat(path).then(() => false, () => true);
      if (isNew) await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      const fh = await open(path, 'a', 0o600);
      try {
        await fh.appendFile(`${JSON.stringify(entry)}\n`, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (isNew) {
        const dir = await open(dirname(path), 'r');
        try {
          await dir.sync();
        } finally {
          await dir.close();
        }
      }
    },
  };
}

/**
 * POSTs each entry as JSON to `url`; any 2xx counts as delivered. Each try is cut after
 * `timeoutMs` (default 5,000), so a hung receiver only delays later entries for that witness.
 *
 * @example new WitnessPublisher({ sinks: [webhookWitness('https://witness.example/aios')], logger })
 */
export function webhookWitness(url: string, { timeoutMs = 5_000 }: { timeoutMs?: number } = {}): WitnessSink {
  return {
    name: `webhook ${new URL(url).origin}`,
    async deliver(entry: WitnessEntry) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(entry),
        signal: AbortSignal.timeout(timeoutMs),
      });
      // Drained so that the connection is reused.
      await res.arrayBuffer().catch(() => undefined);
      if (!res.ok) throw new Error(`the witness answered ${res.status}`);
    },
  };
}
