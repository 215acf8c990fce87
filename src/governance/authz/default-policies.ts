/**
 * The policy set a new AIOS starts with. Policies are data: this text is stored as version 1,
 * and `PUT /api/v1/policies` replaces it (validated against the Cedar schema first).
 * Each policy's `@id` is what audit records name as the deciding policy.
 */
export const DEFAULT_POLICIES = `// Tenancy: nobody acts on another namespace's resources, except principals of namespace "*".
@id("namespace-isolation")
forbid (principal, action, resource)
unless { principal.namespace == "*" || principal.namespace == resource.namespace };

// admin: everything in its namespace, including keys, policies and secret values.
@id("admin")
permit (principal in AIOS::Role::"admin", action, resource);

// operator: runs the platform (topics, replay, audit), and everything an engineer does.
@id("operator")
permit (
  principal in AIOS::Role::"operator",
  action in [AIOS::Action::"read", AIOS::Action::"write", AIOS::Action::"operate"],
  resource
);

// engineer: reads everything in its namespace and feeds data in.
@id("engineer")
permit (
  principal in AIOS::Role::"engineer",
  action in [AIOS::Action::"read", AIOS::Action::"write"],
  resource
);

// viewer: reads only.
@id("viewer")
permit (principal in AIOS::Role::"viewer", action in AIOS::Action::"read", resource);

// service: a machine client (a gateway, a connector): reads, appends and consumes.
@id("service")
permit (
  principal in AIOS::Role::"service",
  action in [AIOS::Action::"read", AIOS::Action::"write"],
  resource
);
`;
