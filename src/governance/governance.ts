import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join, relative, resolve, isAbsolute } from 'node:path';
import { AiosError, type AiosConfig as CoreConfig, type Clock, type Logger } from '../core/index.ts';
import { ensurePrivateDir, tightenFiles, type Database } from '../storage/index.ts';
import { AuditTrail, fileWitness, loadAuditSigningKey, SIGNING_KEY_FILE, verifyAuditChain, webhookWitness, WitnessPublisher, type AuditVerification, type VerifyAuditOptions, type WitnessSink } from './audit/index.ts';
import { Authorizer } from './authz/authorizer.ts';
import { CedarEngine } from './authz/cedar-engine.ts';
import { DEFAULT_ACTION_TABLE, type ActionTable } from './authz/cedar-schema.ts';
import type { GovernanceConfig } from './config.ts';
import type { PolicyEngine } from './authz/policy-engine.ts';
import { PolicyStore } from './authz/policy-store.ts';
import { ApiKeyStore } from './identity/api-key-store.ts';
import { AuthFailures } from './identity/auth-failures.ts';
import { Authenticator } from './identity/authenticator.ts';
import { OidcVerifier } from './identity/oidc.ts';
import { RateLimits } from './identity/rate-limits.ts';
import { LineageStore } from './lineage/index.ts';
import { loadMasterKeys, SecretStore } from './secrets/index.ts';

/** The options governance reads: the platform's and its own. */
type AiosConfig = CoreConfig & GovernanceConfig;

export interface GovernanceOptions {
  readonly config: AiosConfig;
  readonly env: Record<string, string | undefined>;
  readonly database: Database;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Another policy engine; Cedar by default. */
  readonly engine?: PolicyEngine;
  /** Every action routes may declare, with its resource type: governance's own by default. */
  readonly actionTable?: ActionTable;
}

/** Identities, authorization, audit, lineage and secrets of one AIOS. */
export interface Governance {
  readonly keys: ApiKeyStore;
  readonly authenticator: Authenticator;
  readonly authorizer: Authorizer;
  readonly policies: PolicyStore;
  readonly rateLimits: RateLimits;
  /** Failed authentications: counted per client address, audited under `aios-system`, aggregated. */
  readonly authFailures: AuthFailures;
  readonly audit: AuditTrail;
  readonly lineage: LineageStore;
  readonly secrets: SecretStore;
  /** The actions routes may declare and the Cedar schema holds, with the entity type each applies to. */
  readonly actionTable: ActionTable;
  /**
   * Checks the whole audit chain and its signed checkpoints against this AIOS's signing key, and
   * against a witness when given one.
   */
  verifyAudit(opts?: Pick<VerifyAuditOptions, 'witness'>): Promise<AuditVerification>;
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

/**
 * What an owner of the data directory could otherwise undo unseen: a signing key beside the
 * database lets them re-sign a rewritten history, and a witness file beside it is theirs to
 * rewrite too.
 */
function warnAboutAuditTrust(config: AiosConfig, keySource: string | undefined, logger: Logger): void {
  const inDataDir = (path: string) => {
    const rel = relative(resolve(config.dataDir), resolve(path));
    return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
  };
  if (config.databaseUrl && keySource && keySource !== 'AIOS_AUDIT_SIGNING_KEY') {
    logger.warn(
      { file: keySource },
      'the audit signing key is a file in the data directory; in cluster mode give every process the same key in AIOS_AUDIT_SIGNING_KEY (from a secret manager), and give auditors only the public key',
    );
  }
  if (config.auditWitnessFile && inDataDir(config.auditWitnessFile)) {
    logger.warn({ file: config.auditWitnessFile }, 'the audit witness file is inside the data directory; whoever can rewrite the database can rewrite it too: put it on another disk, host or account');
  }
  if (!config.auditWitnessFile && !config.auditWitnessUrl) {
    logger.info('no audit witness configured (AIOS_AUDIT_WITNESS_FILE, AIOS_AUDIT_WITNESS_URL): "aios audit verify" cannot detect the audit log cut back to an earlier checkpoint');
  }
}

/** Builds the governance capability from configuration. Nothing touches the database until `start`. */
export function createGovernance(opts: GovernanceOptions): Governance {
  const { config, env, database, clock, logger } = opts;
  const actionTable = opts.actionTable ?? DEFAULT_ACTION_TABLE;
  // Key files from an earlier start (or copied in) that others may read are AIOS's own: made 0600.
  for (const { file, mode } of tightenFiles(config.dataDir, ['admin.key', SIGNING_KEY_FILE, 'master.key'])) {
    logger.warn({ file, mode: `0${mode.toString(8)}` }, 'a key file in the data directory was open to other users; it is 0600 now');
  }
  const keys = new ApiKeyStore({ database, clock, logger });
  const authorizer = new Authorizer(opts.engine ?? new CedarEngine({ clock, logger, actionTable }));
  const policies = new PolicyStore({ database, clock, logger, authorizer });
  const signingKey = loadAuditSigningKey({ dataDir: config.dataDir, env });
  const sinks: WitnessSink[] = [];
  if (config.auditWitnessFile) sinks.push(fileWitness(resolve(config.auditWitnessFile)));
  if (config.auditWitnessUrl) sinks.push(webhookWitness(config.auditWitnessUrl));
  const audit = new AuditTrail({
    database,
    clock,
    logger,
    signingKey,
    checkpointEvery: config.auditCheckpointEvery,
    checkpointIntervalMs: config.auditCheckpointIntervalMs,
    witness: sinks.length ? new WitnessPublisher({ sinks, logger }) : undefined,
  });
  const adminKeyFile = join(config.dataDir, 'admin.key');
  const authFailures = new AuthFailures({ audit, clock, logger, limit: config.authFailureLimit, windowMs: config.authFailureWindowMs });
  return {
    keys,
    actionTable,
    authenticator: new Authenticator({ keys, oidc: oidcFrom(config), clock }),
    authorizer,
    policies,
    rateLimits: new RateLimits({ database, perPrincipal: config.rateLimitPrincipal, perNamespace: config.rateLimitNamespace, windowSeconds: config.rateLimitWindowSeconds }),
    authFailures,
    audit,
    lineage: new LineageStore({ database, clock }),
    secrets: new SecretStore({ database, clock, keyring: loadMasterKeys({ dataDir: config.dataDir, env }), audit }),
    adminKeyFile,
    verifyAudit: (opts = {}) => verifyAuditChain(database, { ...opts, publicKey: signingKey.publicKey, coverWithinMs: 2 * config.auditCheckpointIntervalMs, now: clock.now() }),
    async start() {
      warnAboutAuditTrust(config, signingKey.source, logger);
      await policies.load();
      // Another process may change the policies when several share the database.
      policies.startRefresh(database.flags.concurrentWriters ? 2_000 : 0);
      audit.start();
      const key = await keys.bootstrapAdmin(database.flags);
      if (key) {
        // The key goes to a 0600 file, never to the log or the terminal.
        ensurePrivateDir(config.dataDir);
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
      authorizer.engine.close?.();
      await authFailures.close();
      await audit.close();
    },
  };
}
