import type { Migration } from '../migrate.ts';
import { m0001Events } from './0001-events.ts';
import { m0002GroupLeases } from './0002-group-leases.ts';
import { m0003Identity } from './0003-identity.ts';
import { m0004Audit } from './0004-audit.ts';
import { m0005Lineage } from './0005-lineage.ts';
import { m0006Secrets } from './0006-secrets.ts';
import { m0007Workflows } from './0007-workflows.ts';
import { m0008Schedules } from './0008-schedules.ts';
import { m0009EventWaits } from './0009-event-waits.ts';
import { m0010Outbox } from './0010-outbox.ts';
import { m0011AuditCheckpointChain } from './0011-audit-checkpoint-chain.ts';

/** Numbered, embedded in the build, applied in order. Never edit one that has shipped: add the next. */
export const MIGRATIONS: readonly Migration[] = [m0001Events, m0002GroupLeases, m0003Identity, m0004Audit, m0005Lineage, m0006Secrets, m0007Workflows, m0008Schedules, m0009EventWaits, m0010Outbox, m0011AuditCheckpointChain];
