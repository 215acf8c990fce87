export { defineCapability } from './define.ts';
export type { ActionSpec, Capability, CapabilityContext, CapabilityInstance, CliContext, HttpSurface, MetricSpec, OperationSpec, RouteFixture, StartReport } from './define.ts';
export { collectActions, collectConfigOptions, collectErrors, collectMigrations, collectOperations, collectResourceTypes, inDependencyOrder, migrationProblems, usesProblems } from './assemble.ts';
export { actionsOnUnknownTypes, routesWithoutAction, undocumentedConfigOptions, undocumentedErrorCodes, unprefixedErrorCodes } from './checks.ts';
