import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AiosError, type AiosConfig, type Clock, type Logger } from '../core/index.ts';
import type { Database } from '../storage/index.ts';
import { AuditTrail, loadAuditSigningKey, verifyAuditChain, type AuditVerification } from './audit/index.ts';
import { Authorizer } from './authz/authorizer.ts';
import { CedarEngine } from './authz/cedar-engine.ts';
import type { PolicyEngine } from './authz/policy-engine.ts';
import { PolicyStore } from './authz/policy-store.ts';
import { ApiKeyStore } from './identity/api-key-store.ts';
import { Authenticator } from './identity/authenticator.ts';
import { OidcVerifier } from './identity/oidc.ts';
import { RateLimits } from './identity/rate-limits.ts';
import { LineageStore } from './lineage/index.ts';
import { loadMasterKeys, SecretStore } from './secrets/index.ts';

export interface GovernanceOptions {
  readonly config: AiosConfig;
  readonly env: Record<string, string | undefined>;
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Another policy engine; Cedar by default. */
  readonly engine?: PolicyEngine;
}

/** Identities, authorization, audit, lineage and secrets of one AIOS. */
export interface Governance {
  readonly keys: ApiKeyStore;
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly policies: PolicyStore;
  readonly rateLimits: RateLimits;
  readonly audit: AuditTrail;
  readonly lineage: LineageStore;
  readonly secrets: SecretStore;
  /** Checks the whole audit chain and its signed checkpoints against this AIOS's signing key. */
  verifyAudit(): Promise<AuditVerification>;
  /** Where the first start wrote the admin key, when it did. */
  readonly adminKeyFile: string;
  /** Loads the policy set, starts checkpoints, and creates the admin key on a new database. */
  start(): Promise<{ adminKeyCreated: boolean }>;
  close(): Promise<void>;
}

function oidcFrom(config: AiosConfig): OidcVerifier | undefined {
  if (!config.oidcIssuer && !config.oidcJwksUrl) return undefined;
  if (!config.oidcIssuer || !config.oidcJwksUrl || !config.oidcAudience) {
    throw new AiosError('AIOS_CONFIG_INVALID', 'OIDC needs all three of oidcIssuer, oidcJwksUrl and oidcAudience');
  }
  let roleMap: Record<string, string>;
  try {
    roleMap = JSON.parse(config.oidcRoleMap) as Record<string, string>;
  } catch {
    throw new AiosError('AIOS_CONFIG_INVALID', 'oidcRoleMap must be a JSON object, e.g. {"plant-eng":"engineer"}');
  }
  const algorithms = config.oidcAlgorithms.split(',').map((a) => a.trim()).filter(Boolean);
  if (algorithms.some((a) => a.toLowerCase() === 'none')) throw new AiosError('AIOS_CONFIG_INVALID', 'oidcAlgorithms may not include "none"');
  return new OidcVerifier({
    issuer: config.oidcIssuer,
    audience: config.oidcAudience,
    jwksUrl: config.oidcJwksUrl,
    algorithms,
    clockSkewSeconds: config.oidcClockSkewSeconds,
    rolesClaim: config.oidcRolesClaim,
    namespaceClaim: config.oidcNamespaceClaim,
    roleMap,
  });
}

/** Builds the governance capability from configuration. Nothing touches the database until `start`. */
export function createGovernance(opts: GovernanceOptions): Governance {
  const { config, env, database, clock, logger } = opts;
  const keys = new ApiKeyStore({ database, clock, logger });
  const authorizer = new Authorizer(opts.engine ?? new CedarEngine());
  const policies = new PolicyStore({ database, clock, logger, authorizer });
  const signingKey = loadAuditSigningKey({ dataDir: config.dataDir, env });
  const audit = new AuditTrail({
    database,
    clock,
    logger,
    signingKey,
    checkpointEvery: config.auditCheckpointEvery,
    checkpointIntervalMs: config.auditCheckpointIntervalMs,
  });
  const adminKeyFile = join(config.dataDir, 'admin.key');
  return {
    keys,
    authenticator: new Authenticator({ keys, oidc: oidcFrom(config), clock }),
    authorizer,
    policies,
    rateLimits: new RateLimits({ database, perPrincipal: config.rateLimitPrincipal, perNamespace: config.rateLimitNamespace, windowSeconds: config.rateLimitWindowSeconds }),
    audit,
    lineage: new LineageStore({ database, clock }),
    secrets: new SecretStore({ database, clock, keyring: loadMasterKeys({ dataDir: config.dataDir, env }), audit }),
    adminKeyFile,
    verifyAudit: () => verifyAuditChain(database, { publicKey: signingKey.publicKey }),
    async start() {
      await policies.load();
      policies.startRefresh(database.flags.name === 'postgres' ? 2_000 : 0);
      audit.start();
      const key = await keys.bootstrapAdmin(database.flags);
      if (key) {
        // The key goes to a 0600 file, never to the log or the terminal.
        mkdirSync(config.dataDir, { recursive: true });
        writeFileSync(adminKeyFile, `${key}\n`, { mode: 0o600 });
        chmodSync(adminKeyFile, 0o600);
        logger.warn({ file: adminKeyFile }, 'created the first admin API key; it is in this file (mode 0600)');
      } else if (!existsSync(adminKeyFile)) {
        logger.debug('API keys exist; no admin key file written');
      }
      return { adminKeyCreated: !!key };
    },
    async close() {
      policies.stop();
      await audit.close();
    },
  };
}
