export { createAios } from './create-aios.ts';
export type { Aios, CreateAiosOptions } from './create-aios.ts';
export { CAPABILITIES } from './capabilities.ts';
export { CONFIG_OPTIONS, ERROR_CODES, loadConfig, migrate, MIGRATIONS } from './assembled.ts';
export type { AiosConfig, ErrorCode } from './assembled.ts';
