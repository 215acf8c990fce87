import type { RouteDeps } from '../../http/index.ts';
import type { Governance } from '../index.ts';

export type ServerDeps = RouteDeps<{ governance: Governance }>;
