import type { ConfigOptionSpec, ErrorSpec } from '../core/index.ts';
import type { Migration } from '../storage/index.ts';
import type { ActionSpec, Capability, OperationSpec } from './define.ts';

/**
 * The capabilities in dependency order: each after every capability it `uses`. Throws when a
 * capability uses one that is not in the list, or when the uses form a cycle.
 */
export function inDependencyOrder<C extends Capability>(list: readonly C[]): C[] {
  const problems = usesProblems(list);
  if (problems.length) throw new Error(problems.join('; '));
  const byId = new Map(list.map((c) => [c.id, c]));
  const done = new Set<string>();
  const out: C[] = [];
  const visit = (c: C) => {
    if (done.has(c.id)) return;
    done.add(c.id);
    for (const u of c.uses ?? []) visit(byId.get(u)!);
    out.push(c);
  };
  for (const c of list) visit(c);
  return out;
}

/** Unknown or duplicate ids, unknown `uses`, and cycles among them, each named. */
export function usesProblems(list: readonly Capability[]): string[] {
  const problems: string[] = [];
  const byId = new Map<string, Capability>();
  for (const c of list) {
    if (byId.has(c.id)) problems.push(`capability id "${c.id}" is used twice`);
    byId.set(c.id, c);
  }
  for (const c of list) for (const u of c.uses ?? []) if (!byId.has(u)) problems.push(`capability "${c.id}" uses "${u}", which is not in the list`);
  const state = new Map<string, 'visiting' | 'done'>();
  const walk = (id: string, path: string[]) => {
    if (state.get(id) === 'done' || !byId.has(id)) return;
    if (state.get(id) === 'visiting') {
      problems.push(`capabilities use each other in a cycle: ${[...path.slice(path.indexOf(id)), id].join(' -> ')}`);
      return;
    }
    state.set(id, 'visiting');
    for (const u of byId.get(id)!.uses ?? []) walk(u, [...path, id]);
    state.set(id, 'done');
  };
  for (const c of list) walk(c.id, []);
  return problems;
}

/** Every capability's migrations, in version order. Throws when they are not one sequence 1, 2, 3... */
export function collectMigrations(list: readonly Capability[]): Migration[] {
  const problems = migrationProblems(list);
  if (problems.length) throw new Error(problems.join('; '));
  return list.flatMap((c) => c.migrations ?? []).sort((a, b) => a.version - b.version);
}

/** Gaps, duplicates and names out of place in the one global migration sequence. */
export function migrationProblems(list: readonly Capability[]): string[] {
  const all = list.flatMap((c) => (c.migrations ?? []).map((m) => ({ m, owner: c.id }))).sort((a, b) => a.m.version - b.m.version);
  const problems: string[] = [];
  all.forEach(({ m, owner }, i) => {
    const expected = i + 1;
    if (m.version !== expected) {
      const twin = all.find((o, j) => j !== i && o.m.version === m.version);
      problems.push(twin ? `migration ${m.version} is declared twice (${owner}: ${m.name}, ${twin.owner}: ${twin.m.name})` : `migration ${m.version}-${m.name} of ${owner} is out of sequence: expected ${expected}`);
    }
  });
  return [...new Set(problems)];
}

function merged<T>(what: string, base: Readonly<Record<string, T>>, list: readonly Capability[], pick: (c: Capability) => Readonly<Record<string, T>> | undefined): Readonly<Record<string, T>> {
  const out: Record<string, T> = { ...base };
  for (const c of list) {
    for (const [k, v] of Object.entries(pick(c) ?? {})) {
      if (Object.hasOwn(out, k)) throw new Error(`${what} "${k}" of capability "${c.id}" is declared twice`);
      out[k] = v;
    }
  }
  return Object.freeze(out);
}

/** The error registry: core's codes and every capability's. */
export function collectErrors(base: Readonly<Record<string, ErrorSpec>>, list: readonly Capability[]): Readonly<Record<string, ErrorSpec>> {
  return merged('error code', base, list, (c) => c.errors);
}

/** The action table the Cedar schema and the guard use. */
export function collectActions(base: Readonly<Record<string, ActionSpec>>, list: readonly Capability[]): Readonly<Record<string, ActionSpec>> {
  return merged('action', base, list, (c) => c.actions);
}

export function collectResourceTypes(base: readonly string[], list: readonly Capability[]): readonly string[] {
  return [...base, ...list.flatMap((c) => c.resourceTypes ?? [])];
}

/** The documented operations of every capability's routes. */
export function collectOperations(base: Readonly<Record<string, OperationSpec>>, list: readonly Capability[]): Readonly<Record<string, OperationSpec>> {
  return merged('operation', base, list, (c) => c.http?.operations);
}

/** Core's options and every capability's; a key, flag or variable declared twice throws. */
export function collectConfigOptions(base: readonly ConfigOptionSpec[], list: readonly Capability[]): readonly ConfigOptionSpec[] {
  const out = [...base];
  for (const c of list) {
    for (const o of c.config ?? []) {
      const twin = out.find((x) => x.key === o.key || x.flag === o.flag || x.env === o.env);
      if (twin) throw new Error(`config option ${o.key} (--${o.flag}, ${o.env}) of capability "${c.id}" clashes with ${twin.key}`);
      out.push(o);
    }
  }
  return Object.freeze(out);
}
