import type { Governance } from '../../governance/index.ts';
import type { RouteDeps } from '../../http/index.ts';
import type { EventLog } from '../index.ts';

/** What the event routes use: the event log, and governance for the audit and lineage of appends. */
export type ServerDeps = RouteDeps<{ events: EventLog; governance: Governance }>;
