import type { Kysely } from 'kysely';
import type { Database } from '../storage/index.ts';
import type { AuditActor, AuditInput, Governance } from '../governance/index.ts';
import type { JournalEntryInput, RunChange, RunRecorder, RunStatus, WorkflowRun, WorkflowTables } from './index.ts';

const ENGINE: AuditActor = { type: 'system', id: 'workflow-engine', authMethod: 'system', keyId: null };

/** `user:ana` → a user actor; `service:…` → a service; anything else (schedule:…, workflow:…, system) → system. */
function actorOf(by: string): AuditActor {
  const i = by.indexOf(':');
  const type = i > 0 ? by.slice(0, i) : '';
  if (type === 'user' || type === 'service') return { type, id: by.slice(i + 1), authMethod: 'system', keyId: null };
  return { type: 'system', id: by, authMethod: 'system', keyId: null };
}

const resource = (run: WorkflowRun) => `workflow:${run.id}`;

/**
 * The audit trail and lineage of workflow runs: a lineage node per journaled step (in the step's
 * transaction), and an audit record for each run's end and each outside change (start, signal,
 * cancel, termination, retry, with whoever made it), each in the transaction of what it records.
 */
export function workflowRecorder(governance: Governance, database: Database): RunRecorder {
  const { audit, lineage } = governance;
  return {
    async stepsCommitted(trx: Kysely<WorkflowTables>, run: WorkflowRun, steps: readonly JournalEntryInput[]) {
      const tx = database.joinTransaction(trx);
      for (const step of steps) {
        await lineage.recordIn(tx, {
          ns: run.ns,
          lineageId: run.lineageId,
          kind: 'workflow_step',
          name: step.name,
          ref: `workflow:${run.id}/step:${step.seq}`,
          attrs: { workflow: run.name, version: run.version, seq: step.seq, status: step.status, ...(step.error ? { error: step.error.code ?? step.error.name } : {}) },
        });
      }
    },
    async runEnded(trx: Kysely<WorkflowTables>, run: WorkflowRun, end: { status: RunStatus; error?: { name: string; code?: string } }) {
      await audit.recordIn(database.joinTransaction(trx), {
        ns: run.ns,
        actor: ENGINE,
        action: `workflows:${end.status}`,
        resource: resource(run),
        outcome: end.status === 'completed' ? 'success' : 'failure',
        error: end.error ? (end.error.code ?? end.error.name) : null,
        lineageId: run.lineageId,
        input: { workflow: run.name, version: run.version, createdBy: run.createdBy },
        output: { status: end.status },
      });
    },
    async runChanged(trx: Kysely<WorkflowTables>, run: WorkflowRun, change: RunChange) {
      await audit.recordIn(database.joinTransaction(trx), {
        ns: run.ns,
        actor: actorOf(change.by),
        action: `workflows:${change.kind}`,
        resource: resource(run),
        outcome: 'success',
        lineageId: run.lineageId,
        input: { workflow: run.name, version: run.version, ...change.detail },
        // What these records have always hashed as their output.
        output: null,
      });
    },
  };
}
