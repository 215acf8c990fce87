import type { Migration } from '../migrate.ts';
import { m0001Events } from './0001-events.ts';
import { m0002GroupLeases } from './0002-group-leases.ts';

/** Numbered, embedded in the build, applied in order. Never edit one that has shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [m0001Events, m0002GroupLeases];
