import { execFile } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AIOS_BIN, freePort } from './support/child.ts';
import { startTestAios, type TestAios } from './support/runtime.ts';
import { useTempDirs } from './support/temp-dirs.ts';

/* The CLI's key files, through the real binary: written 0600 by the CLI itself, read strictly, and never quoted by an error. */

const run = promisify(execFile);
/** Each CLI call starts a Node process that loads the TypeScript sources: about a second, far more on a busy machine. */
const CLI_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 4 * CLI_TIMEOUT_MS;
const REPO = fileURLToPath(new URL('..', import.meta.url));
const KEY = /^aios_[a-z2-9]{12}_[A-Za-z0-9_-]{43}$/;
const tempDir = useTempDirs();
let t: TestAios;
let url: string;

beforeAll(async () => {
  t = await startTestAios({ port: await freePort() }, { listen: true });
  url = t.aios.url!;
});
afterAll(() => t.cleanup());

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `aios <args>` against the test's AIOS (AIOS_URL); resolves with the exit code instead of throwing on failure. */
function cli(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const base: NodeJS.ProcessEnv = { ...process.env, AIOS_DATA_DIR: t.dataDir, AIOS_URL: url };
  delete base.AIOS_API_KEY;
  delete base.AIOS_KEY_FILE;
  return run(process.execPath, [AIOS_BIN, ...args], { timeout: CLI_TIMEOUT_MS, env: { ...base, ...env } }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );
}

const keyCount = async () => (await t.api({ method: 'GET', url: '/api/v1/keys?limit=1000' })).json().keys.length as number;

/** A fresh key, made through the API. */
async function mintKey(name: string): Promise<string> {
  const r = await t.api({ method: 'POST', url: '/api/v1/keys', payload: { name, roles: ['viewer'], type: 'service' } });
  return r.json().key as string;
}

describe('aios keys create --out', () => {
  it('writes the key alone to a new 0600 file, prints none of it, and the file works as --key-file', async () => {
    const dir = tempDir('aios-keyfile-');
    const file = join(dir, 'gateway.key');
    const r = await cli(['keys', 'create', 'gateway', '--role', 'service', '--out', file]);
    expect(r.code, r.stderr).toBe(0);
    const text = readFileSync(file, 'utf8');
    expect(text.endsWith('\n')).toBe(true);
    const key = text.trim();
    expect(key).toMatch(KEY);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${key.slice(0, 17)} in namespace default`);
    expect(r.stderr).toContain(`the key is in ${file} (mode 0600)`);
    expect(r.stderr).not.toContain(key.slice(18));
    expect(readdirSync(dir)).toEqual(['gateway.key']);
    const used = await cli(['topics', 'list', '--key-file', file]);
    expect(used.code, used.stderr).toBe(0);
  }, TEST_TIMEOUT_MS);

  it('refuses an existing file without --force, before any key is made', async () => {
    const dir = tempDir('aios-keyfile-');
    const file = join(dir, 'taken.key');
    writeFileSync(file, 'keep me\n');
    const before = await keyCount();
    const r = await cli(['keys', 'create', 'second', '--role', 'service', '--out', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${file} exists; pass --force to replace it`);
    expect(readFileSync(file, 'utf8')).toBe('keep me\n');
    expect(await keyCount()).toBe(before);
    expect(readdirSync(dir)).toEqual(['taken.key']);
  }, TEST_TIMEOUT_MS);

  it('replaces the file with --force, at mode 0600 whatever the old file had', async () => {
    const dir = tempDir('aios-keyfile-');
    const file = join(dir, 'rotated.key');
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o644);
    const r = await cli(['keys', 'create', 'rotated', '--role', 'viewer', '--out', file, '--force']);
    expect(r.code, r.stderr).toBe(0);
    expect(readFileSync(file, 'utf8').trim()).toMatch(KEY);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['rotated.key']);
  }, TEST_TIMEOUT_MS);

  it('makes no key when the file cannot be written', async () => {
    const before = await keyCount();
    const r = await cli(['keys', 'create', 'nowhere', '--role', 'viewer', '--out', join(tempDir('aios-keyfile-'), 'missing-dir', 'k.key')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot write the key file .*missing-dir\/k\.key: ENOENT/);
    expect(await keyCount()).toBe(before);
  }, TEST_TIMEOUT_MS);
});

describe('the key the CLI sends', () => {
  it('a key file with npm\'s banner in front of the key: names the file, quotes nothing of it, sends nothing', async () => {
    // The README's old way: `npm run aios -- keys create ... > file` stores npm's banner too.
    const file = join(tempDir('aios-keyfile-'), 'gateway.key');
    await run('sh', ['-c', 'npm run aios -- keys create bannered --role viewer > "$1"', 'sh', file], { cwd: REPO, timeout: CLI_TIMEOUT_MS, env: { ...process.env, AIOS_DATA_DIR: t.dataDir, AIOS_URL: url } });
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines[0]).toMatch(/^> aios@/);
    const key = lines.at(-1)!;
    expect(key).toMatch(KEY);
    const r = await cli(['topics', 'list', '--key-file', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`the key file ${file} does not hold an API key: it has ${lines.length} lines`);
    expect(r.stderr).toContain('--out FILE');
    expect(r.stderr).not.toContain(key.slice(18));
    expect(r.stderr).not.toContain('aios@0.1.0');
    expect(r.stderr).not.toContain('Bearer');
  }, TEST_TIMEOUT_MS);

  it('a malformed AIOS_API_KEY: names the variable, not its value', async () => {
    const key = await mintKey('spaced');
    const r = await cli(['topics', 'list'], { AIOS_API_KEY: `Bearer ${key}` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AIOS_API_KEY does not hold an API key');
    expect(r.stderr).not.toContain(key.slice(18));
  }, TEST_TIMEOUT_MS);

  it('no key file: says which file it looked for and how to get a key', async () => {
    const dataDir = join(tempDir('aios-keyfile-'), 'no-such-data-dir');
    const r = await cli(['topics', 'list'], { AIOS_DATA_DIR: dataDir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`there is no key file at ${join(dataDir, 'admin.key')}`);
    expect(r.stderr).toContain('aios start');
    expect(r.stderr).toContain('aios keys create NAME --role ROLE --out FILE');
    expect(r.stderr).not.toContain('401');
  }, TEST_TIMEOUT_MS);

  it('a refused key: names where it came from, never its secret', async () => {
    const key = await mintKey('revoked');
    await t.api({ method: 'DELETE', url: `/api/v1/keys/${key.slice(0, 17)}` });
    const file = join(tempDir('aios-keyfile-'), 'revoked.key');
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    const r = await cli(['topics', 'list', '--key-file', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AIOS_AUTH_UNAUTHENTICATED');
    expect(r.stderr).toContain(`the key from ${file} was refused`);
    expect(r.stderr).not.toContain(key.slice(18));
  }, TEST_TIMEOUT_MS);

  it('a password in --url never reaches the terminal', async () => {
    const withPassword = url.replace('http://', 'http://ops:hunter2-s3cret@');
    const r = await cli(['topics', 'list', '--url', withPassword]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: /m);
    expect(r.stderr).not.toContain('hunter2-s3cret');
  }, TEST_TIMEOUT_MS);

  it('`aios start` does not quote a database URL it refuses (it may hold a password)', async () => {
    const r = await cli(['start', '--port', '0'], { AIOS_DATABASE_URL: 'ops:hunter2-s3cret@db.example/plant' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('AIOS_CONFIG_INVALID');
    expect(r.stderr).not.toContain('hunter2-s3cret');
  }, TEST_TIMEOUT_MS);
});
