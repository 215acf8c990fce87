export { createAios } from './create-aios.ts';
export type { Aios, CreateAiosOptions } from './create-aios.ts';
export { CAPABILITIES } from './capabilities.ts';
export { ACTION_TABLE, ACTIONS, CONFIG_OPTIONS, ERROR_CODES, loadConfig, migrate, MIGRATIONS } from './assembled.ts';
export type { Action, AiosConfig, ErrorCode } from './assembled.ts';
export { CedarEngine } from './cedar-engine.ts';
