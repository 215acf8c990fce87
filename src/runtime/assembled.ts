import { collectActions, collectConfigOptions, collectErrors, collectMigrations, collectResourceTypes, type ActionSpec, type Capability } from '../capability/index.ts';
import { CONFIG_OPTIONS as CORE_OPTIONS, ERROR_CODES as CORE_ERRORS, loadConfig as loadOptions, type AiosConfig as CoreConfig, type ConfigInput, type ConfigOf, type ConfigOptionSpec, type ErrorSpec } from '../core/index.ts';
import { BASE_RESOURCE_TYPES, type ActionTable } from '../governance/index.ts';
import { migrate as runMigrations, type Database, type MigrateResult, type Migration } from '../storage/index.ts';
import { CAPABILITIES } from './capabilities.ts';

type Listed = (typeof CAPABILITIES)[number];
type OptionsOf<C> = C extends { readonly config: readonly (infer O extends ConfigOptionSpec)[] } ? O : never;
type ErrorsOf<C> = C extends { readonly errors: infer E } ? keyof E & string : never;
type ActionsOf<C> = C extends { readonly actions: infer A } ? keyof A & string : never;

/** Every option AIOS takes: core's and each capability's. */
export type AiosConfig = CoreConfig & ConfigOf<OptionsOf<Listed>>;

/** Every error code: core's and each capability's. */
export type ErrorCode = keyof typeof CORE_ERRORS | ErrorsOf<Listed>;

/** Every authorization action a route may declare: each capability's. */
export type Action = ActionsOf<Listed>;

const LIST: readonly Capability[] = CAPABILITIES;

/** The migrations of every capability: one sequence 1, 2, 3... (checked here, at load). */
export const MIGRATIONS: readonly Migration[] = collectMigrations(LIST);

/** The error registry problem+json, docs/errors.md and its test use. */
export const ERROR_CODES: Readonly<Record<ErrorCode, ErrorSpec>> = collectErrors(CORE_ERRORS, LIST) as Readonly<Record<ErrorCode, ErrorSpec>>;

/** The actions and entity types of every capability: what the Cedar schema is generated from. */
export const ACTION_TABLE: ActionTable = Object.freeze({ actions: collectActions({}, LIST), resourceTypes: collectResourceTypes(BASE_RESOURCE_TYPES, LIST) });

/** Every action, with its group and the entity type it applies to. */
export const ACTIONS = ACTION_TABLE.actions as Readonly<Record<Action, ActionSpec>>;

/** Every option: the CLI flags, the environment names, `aios start --help` and the README table. */
export const CONFIG_OPTIONS: readonly ConfigOptionSpec[] = collectConfigOptions(CORE_OPTIONS, LIST);

/**
 * Resolves the configuration of every capability. `flags` wins over `env`, which wins over the
 * JSON config file (`configFile`, or `AIOS_CONFIG`, or `./aios.config.json` when present), which
 * wins over defaults.
 */
export function loadConfig(flags: ConfigInput = {}, env: Record<string, string | undefined> = process.env, configFile?: string): AiosConfig {
  return loadOptions(flags, env, configFile, CONFIG_OPTIONS) as AiosConfig;
}

/**
 * Applies every capability's migrations in order, each once; running it again changes nothing,
 * and a database whose schema is newer than this build is refused.
 */
export function migrate(database: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrateResult> {
  return runMigrations(database, migrations);
}
