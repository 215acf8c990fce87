export { createAios } from './create-aios.ts';
export type { Aios, CreateAiosOptions } from './create-aios.ts';
