import { eventsCapability } from '../events/capability.ts';
import { governanceCapability } from '../governance/capability.ts';
import { infoCapability } from '../info/index.ts';
import { workflowsCapability } from '../workflows/capability.ts';

/**
 * Every capability of AIOS, once. The runtime, the server, the CLI, the error registry, the
 * Cedar schema, the config table and the OpenAPI document are assembled from this list; adding a
 * capability is adding its folder and one line here. Routes, tags and commands keep this order;
 * creation and start follow `uses` (stop the reverse).
 */
export const CAPABILITIES = [eventsCapability, governanceCapability, workflowsCapability, infoCapability] as const;
