import type { Ajv, ValidateFunction } from 'ajv';
import { AiosError } from '../../core/index.ts';
import { createLinearAjv } from '../../events/index.ts';
import type { WorkflowDefinition } from './define.ts';

/**
 * Orders workflow versions: as numbers when both are integers ('2' < '10'), otherwise by plain
 * string (UTF-16 code unit) order ('1.10' < '1.9'). Negative, zero or positive, like a sort comparator.
 */
export function compareVersions(a: string, b: string): number {
  const int = /^-?\d+$/;
  if (int.test(a) && int.test(b)) {
    const x = BigInt(a);
    const y = BigInt(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A registered version of a workflow, with its compiled input schema. */
export interface DefEntry {
  readonly def: WorkflowDefinition;
  readonly validate?: ValidateFunction;
}

/**
 * The workflow definitions an engine can run: every registered version of every name (name ->
 * version -> definition), each input schema compiled once.
 */
export class DefinitionRegistry {
  readonly #defs = new Map<string, Map<string, DefEntry>>();
  readonly #ajv: Ajv;

  constructor() {
    // Inputs come from users (HTTP, schedules): patterns and formats run in linear time.
    this.#ajv = createLinearAjv({ allErrors: true });
  }

  add(def: WorkflowDefinition): void {
    let validate: ValidateFunction | undefined;
    if (def.inputSchema) {
      try {
        validate = this.#ajv.compile(def.inputSchema);
      } catch (e) {
        throw new AiosError('AIOS_CONFIG_INVALID', `the input schema of workflow "${def.name}" is not a valid JSON Schema: ${(e as Error).message}`);
      }
    }
    let versions = this.#defs.get(def.name);
    if (!versions) this.#defs.set(def.name, (versions = new Map()));
    versions.set(def.version, { def, validate });
  }

  /** The definition a run pinned to `name`@`version` executes, if registered. */
  get(name: string, version: string): WorkflowDefinition | undefined {
    return this.#defs.get(name)?.get(version)?.def;
  }

  /** The registered versions of a name, lowest first. */
  versions(name: string): string[] {
    return [...(this.#defs.get(name)?.keys() ?? [])].sort(compareVersions);
  }

  /** Each registered name with its versions, lowest first. */
  list(): { name: string; versions: string[] }[] {
    return [...this.#defs.keys()].sort().map((name) => ({ name, versions: this.versions(name) }));
  }

  /**
   * The entry a new run of `name` starts on (`version`, default the highest), checking `input`
   * against its schema: AIOS_NOT_FOUND for an unregistered name or version, AIOS_VALIDATION
   * naming each field the schema refuses.
   */
  resolve(name: string, input: unknown, version?: string): DefEntry {
    const versions = this.#defs.get(name);
    if (!versions) throw new AiosError('AIOS_NOT_FOUND', `no workflow named "${name}" is registered on this engine; registered: ${[...this.#defs.keys()].join(', ') || 'none'}`);
    const v = version ?? this.versions(name).at(-1)!;
    const entry = versions.get(v);
    if (!entry) throw new AiosError('AIOS_NOT_FOUND', `workflow "${name}" has no version "${v}" registered on this engine; registered: ${this.versions(name).join(', ')}`);
    if (entry.validate && !entry.validate(input)) {
      const errors = (entry.validate.errors ?? []).map((e) => ({ path: e.instancePath || '/', message: e.message ?? 'is invalid' }));
      throw new AiosError('AIOS_VALIDATION', `the input does not match the schema of workflow "${name}": ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, { errors });
    }
    return entry;
  }
}
