import { CedarEngine as GovernanceCedarEngine, type CedarEngineOptions } from '../governance/index.ts';
import { ACTION_TABLE } from './assembled.ts';

/**
 * The Cedar policy engine over the actions of every capability in the list, unless given another
 * table: what `createAios({ policyEngine })` expects, and what policies naming any route's
 * action validate against.
 */
export class CedarEngine extends GovernanceCedarEngine {
  constructor(opts: CedarEngineOptions = {}) {
    super({ actionTable: ACTION_TABLE, ...opts });
  }
}
