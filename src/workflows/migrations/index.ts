import { m0007Workflows } from './0007-workflows.ts';
import { m0008Schedules } from './0008-schedules.ts';
import { m0009EventWaits } from './0009-event-waits.ts';
import { m0010Outbox } from './0010-outbox.ts';

/** The workflows' tables, in the one global sequence. */
export const WORKFLOWS_MIGRATIONS = [m0007Workflows, m0008Schedules, m0009EventWaits, m0010Outbox] as const;
