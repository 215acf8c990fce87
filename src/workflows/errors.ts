import { defineErrors } from '../core/index.ts';

/** The workflows capability's error codes, documented in docs/errors.md; thrown as `WorkflowsError`. */
export const WorkflowsError = defineErrors({
  AIOS_WF_CANCELLED: { status: 409, title: 'The workflow run was cancelled' },
  AIOS_WF_LEASE_LOST: { status: 409, title: 'This worker no longer holds the workflow run: another worker claimed it' },
  AIOS_WF_NON_DETERMINISM: { status: 500, title: 'The workflow code no longer matches the journal of a run it replays' },
  AIOS_WF_PAYLOAD_TOO_LARGE: { status: 413, title: 'A workflow input, result, state or signal payload is larger than the configured limit' },
});
