import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { reserveKeyFile } from '../../cli-kit/index.ts';
import { action, clientFrom, withRemote } from '../../cli-kit/index.ts';

interface KeyInfo {
  id: string;
  namespace: string;
  name: string;
  roles: string[];
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export function keysCommand(): Command {
  const cmd = new Command('keys').description('create, list and revoke API keys');
  withRemote(
    cmd
      .command('create <name>')
      .description('create an API key; it is shown once, on stdout or in the --out file, and never again')
      .requiredOption('-r, --role <role...>', 'admin, operator, engineer, viewer or service')
      .option('--user <id>', 'the key stands for this user (default: a service account named after the key)')
      .option('--expires <rfc3339>', 'expiry time')
      .option('-o, --out <file>', 'write the key to this file (mode 0600) instead of stdout')
      .option('--force', 'replace the --out file when it exists'),
  ).action(
    action(async (name: string, o) => {
      const body = { name, roles: o.role, type: o.user ? 'user' : 'service', principalId: o.user, expiresAt: o.expires };
      const client = clientFrom(o);
      // Reserved first: a key that could not be stored would be shown nowhere and wasted.
      const out = o.out === undefined ? undefined : reserveKeyFile(o.out, { force: !!o.force });
      let r: { body: { key: string; info: KeyInfo } };
      try {
        r = await client.request<{ key: string; info: KeyInfo }>('POST', '/api/v1/keys', body);
      } catch (e) {
        out?.abandon();
        throw e;
      }
      const { info } = r.body;
      const created = `created ${info.id} in namespace ${info.namespace} with roles ${info.roles.join(', ')}`;
      if (out) {
        try {
          out.write(r.body.key);
        } catch (e) {
          throw new Error(`${created}, but could not write ${o.out} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); revoke it with "aios keys revoke ${info.id}"`);
        }
        console.error(`${created}; the key is in ${o.out} (mode 0600)`);
      } else {
        // The key alone on stdout, so that `aios keys create gw -r service > gw.key` stores just it.
        console.log(r.body.key);
        console.error(`${created}; store the key now, it is not shown again`);
      }
    }),
  );
  withRemote(cmd.command('list').description('list the namespace\'s keys (never the keys themselves)')).action(
    action(async (o) => {
      const r = await clientFrom(o).request<{ keys: KeyInfo[] }>('GET', '/api/v1/keys?limit=1000');
      for (const k of r.body.keys) {
        const state = k.revokedAt ? `revoked ${k.revokedAt}` : k.expiresAt ? `expires ${k.expiresAt}` : 'active';
        console.log(`${k.id}\t${k.name}\t${k.roles.join(',')}\t${state}\tlast used ${k.lastUsedAt ?? 'never'}`);
      }
    }),
  );
  withRemote(cmd.command('revoke <id>').description('revoke a key by its id (the aios_... prefix)')).action(
    action(async (id: string, o) => {
      const r = await clientFrom(o).request<KeyInfo>('DELETE', `/api/v1/keys/${encodeURIComponent(id)}`);
      console.log(`revoked ${r.body.id} at ${r.body.revokedAt}`);
    }),
  );
  return cmd;
}

export function policiesCommand(): Command {
  const cmd = new Command('policies').description('read and replace the Cedar policy set');
  withRemote(cmd.command('get').description('print the active policy set')).action(
    action(async (o) => {
      const r = await clientFrom(o).request<{ version: number; hash: string; text: string }>('GET', '/api/v1/policies');
      console.error(`version ${r.body.version}, sha256 ${r.body.hash}`);
      process.stdout.write(r.body.text);
    }),
  );
  withRemote(cmd.command('set <file>').description('validate a .cedar file and make it the active policy set').option('-m, --comment <text>', 'why')).action(
    action(async (file: string, o) => {
      const r = await clientFrom(o).request<{ version: number; hash: string; policyIds: string[] }>('PUT', '/api/v1/policies', { text: readFileSync(file, 'utf8'), comment: o.comment });
      console.log(`policy set version ${r.body.version} active (${r.body.policyIds.length} policies, sha256 ${r.body.hash})`);
    }),
  );
  withRemote(cmd.command('schema').description('print the Cedar schema policies are validated against')).action(
    action(async (o) => {
      process.stdout.write(`${(await clientFrom(o).request<{ schema: string }>('GET', '/api/v1/policies/schema')).body.schema}\n`);
    }),
  );
  return cmd;
}
