import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAios, type TestAios } from './support/runtime.ts';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'aios-api';

let t: TestAios;
let jwks: Server;
let good: CryptoKey;
let stranger: CryptoKey;
let jwksUrl: string;

beforeAll(async () => {
  const a = await generateKeyPair('RS256', { extractable: true });
  const b = await generateKeyPair('RS256', { extractable: true });
  good = a.privateKey;
  stranger = b.privateKey;
  const published: JWK = { ...(await exportJWK(a.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  // The JWKS the issuer publishes, served by the test; it holds only the good key.
  jwks = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: [published] }));
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwks.address() as { port: number }).port}/jwks.json`;
  t = await startTestAios({
    oidcIssuer: ISSUER,
    oidcAudience: AUDIENCE,
    oidcJwksUrl: jwksUrl,
    oidcRoleMap: JSON.stringify({ 'plant-engineers': 'engineer', 'plant-viewers': 'viewer' }),
    oidcRolesClaim: 'realm_access.roles',
  });
  await t.api({ method: 'POST', url: '/api/v1/topics', payload: { name: 'vibration' }, headers: { 'x-aios-namespace': 'plant-a' } });
});
afterAll(async () => {
  await t.cleanup();
  jwks.close();
});

function token(opts: { key?: CryptoKey; kid?: string; iss?: string; aud?: string; exp?: number | string; roles?: string[]; alg?: string; ns?: string; sub?: string } = {}) {
  return new SignJWT({ realm_access: { roles: opts.roles ?? ['plant-engineers'] }, aios_namespace: opts.ns ?? 'plant-a' })
    .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid: opts.kid ?? 'k1' })
    .setSubject(opts.sub ?? 'alice@plant-a')
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime(opts.exp ?? '5m')
    .sign(opts.key ?? good);
}

const call = (jwt: string, url = '/api/v1/topics/vibration') => t.aios.http.inject({ method: 'GET', url, headers: { authorization: `Bearer ${jwt}` } });

function unsigned(): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub: 'mallory', iss: ISSUER, aud: AUDIENCE, exp: now + 300, iat: now, realm_access: { roles: ['admin'] }, aios_namespace: 'plant-a' })}.`;
}

describe('OIDC bearer tokens', () => {
  it('accepts a valid token and maps its claims to a principal with roles', async () => {
    const r = await call(await token());
    expect(r.statusCode).toBe(200);
    expect(r.json().name).toBe('vibration');
    const who = (await call(await token(), '/api/v1/auth/whoami')).json();
    expect(who).toMatchObject({ principal: { type: 'user', id: 'alice@plant-a', namespace: 'plant-a', roles: ['engineer'], authMethod: 'oidc' }, namespace: 'plant-a' });
  });

  it.each([
    ['a bad signature', async () => token({ key: stranger })],
    ['a wrong issuer', async () => token({ iss: 'https://evil.example.test/' })],
    ['a wrong audience', async () => token({ aud: 'another-api' })],
    ['an expired token (beyond the clock skew)', async () => token({ exp: Math.floor(Date.now() / 1000) - 120 })],
    ['alg: none', async () => unsigned()],
    ['a key that is not in the JWKS', async () => token({ key: stranger, kid: 'k-unknown' })],
    ['an algorithm that is not pinned (HS256)', async () => new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).setSubject('x').setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(new TextEncoder().encode('k'.repeat(32)))],
    ['garbage', async () => 'not.a.jwt'],
    ['a namespace claim of "*" (all namespaces)', async () => token({ ns: '*', roles: ['admin'] })],
    ['a namespace claim that is not a namespace name', async () => token({ ns: 'Plant A' })],
    ['a 3,000-character namespace claim', async () => token({ ns: 'x'.repeat(3000) })],
    ['a namespace claim reserved for AIOS', async () => token({ ns: 'aios-system', roles: ['plant-engineers'] })],
    ['a subject reserved for AIOS\'s own principals', async () => token({ sub: 'aios-system' })],
  ])('rejects %s with 401', async (_name, make) => {
    const r = await call(await make());
    expect(r.statusCode).toBe(401);
    expect(r.json().code).toBe('AIOS_AUTH_UNAUTHENTICATED');
  });

  it('tolerates a token expired within the allowed clock skew', async () => {
    expect((await call(await token({ exp: Math.floor(Date.now() / 1000) - 5 }))).statusCode).toBe(200);
  });

  it('gives mapped roles their rights and no more, in their own namespace only', async () => {
    const viewer = await token({ roles: ['plant-viewers'] });
    expect((await call(viewer)).statusCode).toBe(200);
    const append = await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/vibration/events', headers: { authorization: `Bearer ${viewer}` }, payload: { data: 1 } });
    expect(append.statusCode).toBe(403);
    const engineer = await token();
    const ok = await t.aios.http.inject({ method: 'POST', url: '/api/v1/topics/vibration/events', headers: { authorization: `Bearer ${engineer}` }, payload: { data: 1 } });
    expect(ok.statusCode).toBe(200);
    const unknownRoles = await token({ roles: ['root', 'superuser'] });
    expect((await call(unknownRoles)).statusCode).toBe(403);
    const other = await t.aios.http.inject({ method: 'GET', url: '/api/v1/topics/vibration', headers: { authorization: `Bearer ${engineer}`, 'x-aios-namespace': 'plant-b' } });
    expect(other.statusCode).toBe(403);
    const elsewhere = await token({ ns: 'plant-b' });
    expect((await call(elsewhere)).statusCode).toBe(404);
  });
});
