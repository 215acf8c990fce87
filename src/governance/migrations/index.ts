import { m0003Identity } from './0003-identity.ts';
import { m0004Audit } from './0004-audit.ts';
import { m0005Lineage } from './0005-lineage.ts';
import { m0006Secrets } from './0006-secrets.ts';
import { m0011AuditCheckpointChain } from './0011-audit-checkpoint-chain.ts';

/** Governance's tables, in the one global sequence. */
export const GOVERNANCE_MIGRATIONS = [m0003Identity, m0004Audit, m0005Lineage, m0006Secrets, m0011AuditCheckpointChain] as const;
