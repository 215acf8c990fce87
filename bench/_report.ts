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

/** Prints a readable table, then the one JSON line every benchmark ends with. */
export function report(bench: string, results: Record<string, unknown>[]): void {
  const cols = [...new Set(results.flatMap((r) => Object.keys(r)))];
  const width = cols.map((c) => Math.max(c.length, ...results.map((r) => String(r[c] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(width[i])).join('  ');
  console.log(line(cols));
  console.log(width.map((w) => '-'.repeat(w)).join('  '));
  for (const r of results) console.log(line(cols.map((c) => String(r[c] ?? ''))));
  console.log(JSON.stringify({ bench, machine: machine(), results }));
}
