import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { AiosError } from '../core/index.ts';
import { isWorkflowDefinition, type WorkflowDefinition } from './engine/index.ts';

/** What an app module contributes; workflows for now, models and rules as they land. */
export interface AppModule {
  readonly path: string;
  readonly workflows: WorkflowDefinition[];
}

/**
 * Loads an app module (`aios start --app ./app.ts`): TypeScript or JavaScript, no build step.
 * Every workflow definition it exports is collected: named exports, the default export, and
 * definitions inside exported arrays or plain objects (one level). Nothing registers by import:
 * the caller registers what this returns.
 *
 * @example
 * // app.ts
 * export const inspect = defineWorkflow('inspect', { version: '1' }, async (ctx) => ctx.step('read', () => 42));
 */
export async function loadApp(path: string): Promise<AppModule> {
  const file = resolve(path);
  if (!existsSync(file)) throw new AiosError('AIOS_CONFIG_INVALID', `app module ${path} does not exist (resolved to ${file})`);
  let mod: Record<string, unknown>;
  try {
    // The process's own loader (bin/aios.js registers tsx), so the module shares this AIOS instance.
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (first) {
    try {
      // A .ts file outside an ESM package (no "type": "module" above it): tsx's scoped loader takes it as ESM.
      const { tsImport } = await import('tsx/esm/api');
      mod = (await tsImport(pathToFileURL(file).href, import.meta.url)) as Record<string, unknown>;
    } catch {
      throw new AiosError('AIOS_CONFIG_INVALID', `app module ${path} failed to load: ${(first as Error).message}`);
    }
  }
  const found = new Set<WorkflowDefinition>();
  const collect = (value: unknown, depth: number): void => {
    if (isWorkflowDefinition(value)) found.add(value);
    else if (depth > 0 && Array.isArray(value)) for (const v of value) collect(v, depth - 1);
    else if (depth > 0 && value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, depth - 1);
  };
  for (const value of Object.values(mod)) collect(value, 2);
  if (!found.size) throw new AiosError('AIOS_CONFIG_INVALID', `app module ${path} exports no workflow definition (export what defineWorkflow returns)`);
  const seen = new Map<string, WorkflowDefinition>();
  for (const def of found) {
    const k = `${def.name}@${def.version}`;
    if (seen.has(k)) throw new AiosError('AIOS_CONFIG_INVALID', `app module ${path} exports two definitions of workflow ${k}`);
    seen.set(k, def);
  }
  return { path: file, workflows: [...found] };
}
