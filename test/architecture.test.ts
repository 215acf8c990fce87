import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * The shape of the source tree, checked from its imports: floors that only import downwards,
 * no import cycle that crosses a folder, HTTP only in a capability's `http/` folder, and `src/`
 * never reaching into `test/`.
 */
const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/**
 * Floors from the bottom. Every top-level folder of src/ not named here is a capability: its
 * domain code stands on the contract, and its `http/` and `cli/` folders on the route and CLI kits
 * (so the kits may use a capability's types, and a capability's engine never sees HTTP).
 */
const FLOORS: Readonly<Record<string, number>> = {
  core: 0,
  storage: 1,
  sdk: 1,
  capability: 2,
  http: 4,
  'cli-kit': 4,
  server: 6,
  runtime: 7,
  cli: 8,
};
const CAPABILITY_FLOOR = 3;
const CAPABILITY_EDGE_FLOOR = 5;
/** A capability's definition (the file that calls defineCapability) gathers its edges: above them. */
const CAPABILITY_DEFINITION_FLOOR = 5.5;
const definesCapability = (file: string) => existsSync(file) && readFileSync(file, 'utf8').includes('defineCapability(');

interface SourceFile {
  readonly file: string;
  readonly imports: readonly { readonly spec: string; readonly target?: string }[];
}

function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

function readSources(): SourceFile[] {
  return walk(SRC).map((file) => {
    const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const specs = [...info.importedFiles.map((f) => f.fileName)];
    return {
      file,
      imports: specs.map((spec) => (spec.startsWith('.') ? { spec, target: resolve(dirname(file), spec) } : { spec })),
    };
  });
}

const rel = (f: string) => relative(ROOT, f).split(sep).join('/');
/** The top-level folder of src/ a file lives in ('' for src/index.ts). */
const topOf = (f: string) => {
  const parts = relative(SRC, f).split(sep);
  return parts.length > 1 ? parts[0]! : '';
};
const isCapability = (top: string) => top !== '' && FLOORS[top] === undefined;
/** The floor of a file: its folder's, or for a capability's http/ and cli/ folders the edge floor. */
const floorOf = (file: string) => {
  const top = topOf(file);
  if (top === '') return 9;
  if (!isCapability(top)) return FLOORS[top]!;
  if (definesCapability(file)) return CAPABILITY_DEFINITION_FLOOR;
  const parts = relative(SRC, file).split(sep);
  return parts.includes('http') || parts.includes('cli') ? CAPABILITY_EDGE_FLOOR : CAPABILITY_FLOOR;
};
const isTest = (f: string) => f.endsWith('.test.ts');

/** Tarjan's strongly connected components over the file graph. */
function cycles(nodes: readonly string[], edges: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) out.push(scc.sort());
    }
  };
  for (const n of nodes) if (!idx.has(n)) visit(n);
  return out;
}

describe('architecture of src/', () => {
  const sources = readSources().filter((s) => !isTest(s.file));
  const files = new Set(sources.map((s) => s.file));

  it('resolves every relative import to a file of the tree', () => {
    const missing = sources.flatMap((s) => s.imports.filter((i) => i.target && !files.has(i.target) && !i.target.startsWith(join(ROOT, 'node_modules'))).map((i) => `${rel(s.file)} -> ${i.spec}`));
    expect(missing).toEqual([]);
  });

  it('never imports test/ from src/', () => {
    const all = readSources();
    const bad = all.flatMap((s) => s.imports.filter((i) => i.target?.startsWith(join(ROOT, 'test') + sep)).map((i) => `${rel(s.file)} -> ${i.spec}`));
    expect(bad).toEqual([]);
  });

  it('has no import cycle between files of different folders', () => {
    const edges = new Map(sources.map((s) => [s.file, s.imports.flatMap((i) => (i.target && files.has(i.target) ? [i.target] : []))]));
    const crossing = cycles([...files], edges).filter((scc) => new Set(scc.map((f) => dirname(f))).size > 1);
    expect(crossing.map((scc) => scc.map(rel))).toEqual([]);
  });

  it('has no cycle between server/app.ts and the routes', () => {
    const app = join(SRC, 'server', 'app.ts');
    const importsOfApp = new Set<string>();
    const seen = new Set<string>();
    const edges = new Map(sources.map((s) => [s.file, s.imports.flatMap((i) => (i.target && files.has(i.target) ? [i.target] : []))]));
    const reach = (f: string) => {
      for (const t of edges.get(f) ?? []) if (!seen.has(t)) {
        seen.add(t);
        importsOfApp.add(t);
        reach(t);
      }
    };
    reach(app);
    expect(importsOfApp.has(app)).toBe(false);
  });

  it('imports only downwards: a floor never imports a floor above it, a capability none of runtime, server or cli', () => {
    const bad = sources.flatMap((s) => {
      const from = floorOf(s.file);
      return s.imports.filter((i) => i.target && files.has(i.target) && floorOf(i.target) > from).map((i) => `${rel(s.file)} -> ${rel(i.target!)}`);
    });
    expect(bad).toEqual([]);
  });

  it('keeps the folders of capabilities free of cycles between them', () => {
    const tops = new Map<string, Set<string>>();
    for (const s of sources) {
      const a = topOf(s.file);
      if (!isCapability(a)) continue;
      for (const i of s.imports) {
        if (!i.target || !files.has(i.target)) continue;
        const b = topOf(i.target);
        if (b !== a && isCapability(b)) {
          if (!tops.has(a)) tops.set(a, new Set());
          tops.get(a)!.add(b);
        }
      }
    }
    const found = cycles([...tops.keys()], new Map([...tops].map(([k, v]) => [k, [...v]])));
    expect(found).toEqual([]);
  });

  it('reaches another capability only through its front door', () => {
    const bad = sources.flatMap((s) => {
      const a = topOf(s.file);
      if (!isCapability(a)) return [];
      return s.imports.filter((i) => {
        if (!i.target || !files.has(i.target)) return false;
        const b = topOf(i.target);
        return b !== a && isCapability(b) && i.target !== join(SRC, b, 'index.ts');
      }).map((i) => `${rel(s.file)} -> ${rel(i.target!)}`);
    });
    expect(bad).toEqual([]);
  });

  it('keeps HTTP out of domain code: only a capability\'s http/ folder, the route kit and the server import Fastify', () => {
    const bad = sources.flatMap((s) => {
      const top = topOf(s.file);
      const inHttp = top === 'http' || top === 'server' || relative(SRC, s.file).split(sep).includes('http');
      if (inHttp) return [];
      return s.imports.filter((i) => /^(fastify|@fastify\/)/.test(i.spec)).map((i) => `${rel(s.file)} -> ${i.spec}`);
    });
    expect(bad).toEqual([]);
  });

  it('can fail: the cycle finder sees a cycle across folders and the floor rule sees an upward import', () => {
    const a = join(SRC, 'events', 'a.ts');
    const b = join(SRC, 'governance', 'b.ts');
    expect(cycles([a, b], new Map([[a, [b]], [b, [a]]]))).toHaveLength(1);
    expect(floorOf(join(SRC, 'server', 'app.ts'))).toBeGreaterThan(floorOf(a));
    expect(floorOf(join(SRC, 'storage', 'x.ts'))).toBeLessThan(floorOf(a));
    expect(floorOf(join(SRC, 'events', 'http', 'events.ts'))).toBeGreaterThan(floorOf(join(SRC, 'http', 'index.ts')));
    expect(floorOf(join(SRC, 'http', 'index.ts'))).toBeGreaterThan(floorOf(a));
  });
});
