import type { Migration } from '../migrate.ts';
import { m0001Events } from './0001-events.ts';

/** Numbered, embedded in the build, applied in order. Never edit one that has shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [m0001Events];
