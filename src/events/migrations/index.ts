import { m0001Events } from './0001-events.ts';
import { m0002GroupLeases } from './0002-group-leases.ts';

/** The event log's tables, in the one global sequence. */
export const EVENTS_MIGRATIONS = [m0001Events, m0002GroupLeases] as const;
