import { cpus, totalmem } from 'node:os';

/** The machine a figure was measured on, for the JSON line and BENCHMARKS.md. */
export function machine() {
  return { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform}-${process.arch}` };
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return 0;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** `--rounds N` or `--rounds=N`: how many times a bench runs all its cases (1 when absent). */
export function roundsArg(argv: readonly string[] = process.argv): number {
  const i = argv.indexOf('--rounds');
  const raw = i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--rounds='))?.slice(9);
  if (raw === undefined) return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--rounds takes a whole number of at least 1, got ${raw}`);
  return n;
}

/**
 * Folds the rows of several rounds into one row per case (the rows whose `key` fields are equal),
 * in the order cases first appear: every numeric field becomes its median over the rounds, and
 * each `spread` field is followed by its lowest and highest value (`<field>Min`, `<field>Max`).
 * A single round is returned as it is.
 */
export function summarize(rounds: Record<string, unknown>[][], key: readonly string[], spread: readonly string[]): Record<string, unknown>[] {
  if (rounds.length === 1) return rounds[0];
  const cases = new Map<string, Record<string, unknown>[]>();
  for (const row of rounds.flat()) {
    const k = JSON.stringify(key.map((f) => row[f]));
    cases.set(k, [...(cases.get(k) ?? []), row]);
  }
  return [...cases.values()].map((rows) => {
    const out: Record<string, unknown> = {};
    for (const field of new Set(rows.flatMap((r) => Object.keys(r)))) {
      const values = rows.map((r) => r[field]).filter((v): v is number => typeof v === 'number');
      if (key.includes(field) || values.length === 0) {
        out[field] = rows[0][field];
        continue;
      }
      const m = median(values);
      out[field] = values.every(Number.isInteger) ? Math.round(m) : round(m);
      if (spread.includes(field)) {
        out[`${field}Min`] = Math.min(...values);
        out[`${field}Max`] = Math.max(...values);
      }
    }
    return out;
  });
}

/** Prints a readable table, then the one JSON line every benchmark ends with. */
export function report(bench: string, results: Record<string, unknown>[], meta: Record<string, unknown> = {}): void {
  const cols = [...new Set(results.flatMap((r) => Object.keys(r)))];
  const width = cols.map((c) => Math.max(c.length, ...results.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(width[i])).join('  ');
  console.log(line(cols));
  console.log(width.map((w) => '-'.repeat(w)).join('  '));
  for (const r of results) console.log(line(cols.map((c) => String(r[c] ?? ''))));
  console.log(JSON.stringify({ bench, machine: machine(), ...meta, results }));
}
