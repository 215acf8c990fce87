/**
 * Restate: the `restate-server` binary (single node, default dev profile, RocksDB + its local
 * log under a temp base dir) plus a service endpoint in this process (restate-sdk over HTTP/2),
 * running the shared workload as a Restate Workflow invoked through the ingress HTTP API.
 *
 * One run: pick free ports, spawn the server, wait for admin and ingress health, serve the endpoint,
 * register it (`POST /deployments`), measure, then SIGTERM the server and delete its base dir.
 *
 * Ingress semantics that matter for the figures: `POST /BenchWorkflow/<id>/run` is a request-response
 * call, so one HTTP request starts the workflow and returns its result; a workflow id can run once
 * (a second `run` with the same id is refused), so every invocation gets a fresh id.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { createRequire } from 'node:module';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomName } from '../../test/support/services.ts';
import { importPeer, PEERS_DIR, PeerUnavailableError } from './ensure.ts';
import { measure, stepsOf, type PeerOptions, type PeerResult } from './workload.ts';

/** The part of `@restatedev/restate-sdk` 1.14 used here (typed locally: see importPeer). */
interface RestateContext {
  run<T>(name: string, action: () => Promise<T>): PromiseLike<T>;
}
interface RestateModule {
  workflow(def: { name: string; handlers: { run: (ctx: RestateContext, req: { steps: number; input: number }) => Promise<number> } }): unknown;
  endpoint(): RestateEndpoint;
}
interface RestateEndpoint {
  bind(def: unknown): RestateEndpoint;
  setLogger(logger: (meta: { level: string; replaying: boolean }, message?: unknown, ...rest: unknown[]) => void): RestateEndpoint;
  http2Handler(): (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void;
}

const WORKFLOW = 'BenchWorkflow';

/** The server binary shipped by the platform package that `@restatedev/restate-server` lists as an optional dependency. */
export function restateServerBinary(): string {
  const pkg = `@restatedev/restate-server-${process.platform}-${process.arch}`;
  try {
    return createRequire(join(PEERS_DIR, 'package.json')).resolve(`${pkg}/bin/restate-server`);
  } catch {
    throw new PeerUnavailableError('restate', `${pkg} is not installed (no restate-server binary for ${process.platform}-${process.arch}, or bench/peers is not installed)`);
  }
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

async function httpStatus(url: string): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

interface Server {
  child: ChildProcess;
  admin: string;
  ingress: string;
  dir: string;
  log: string;
}

const logTail = (file: string) => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
};

async function startServer(): Promise<Server> {
  const binary = restateServerBinary();
  const [ingressPort, adminPort, nodePort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'aios-bench-restate-'));
  const log = join(dir, 'server.log');
  const fd = openSync(log, 'a');
  const child = spawn(binary, ['--no-logo', '--base-dir', join(dir, 'data'), '--node-name', 'bench'], {
    stdio: ['ignore', fd, fd],
    env: {
      // The server reads RESTATE_* settings from the environment; drop any inherited ones so that every
      // run measures the same configuration.
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('RESTATE_'))),
      RESTATE_INGRESS__BIND_ADDRESS: `127.0.0.1:${ingressPort}`,
      RESTATE_ADMIN__BIND_ADDRESS: `127.0.0.1:${adminPort}`,
      RESTATE_BIND_ADDRESS: `127.0.0.1:${nodePort}`,
      RESTATE_LISTEN_MODE: 'tcp',
      RESTATE_DISABLE_TELEMETRY: 'true',
      RESTATE_LOG_FILTER: 'warn',
      RESTATE_LOG_DISABLE_ANSI_CODES: 'true',
      RESTATE_SHUTDOWN_TIMEOUT: '5s',
    },
  });
  closeSync(fd);
  // If this process dies mid-run, do not leave the server behind.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.removeListener('exit', killOnExit));
  const server = { child, admin: `http://127.0.0.1:${adminPort}`, ingress: `http://127.0.0.1:${ingressPort}`, dir, log };
  let spawnError: Error | undefined;
  child.once('error', (e) => (spawnError = e));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (spawnError || child.exitCode !== null || child.signalCode !== null) {
      const tail = logTail(log);
      await stopServer(server);
      throw new PeerUnavailableError('restate', `restate-server ${spawnError ? `could not start: ${spawnError.message}` : `exited with ${child.exitCode ?? child.signalCode}`}; log:\n${tail}`);
    }
    if ((await httpStatus(`${server.admin}/health`)) === 200 && (await httpStatus(`${server.ingress}/restate/health`)) === 200) return server;
    await sleep(100);
  }
  const tail = logTail(log);
  await stopServer(server);
  throw new PeerUnavailableError('restate', `restate-server was not healthy within 30 s; log:\n${tail}`);
}

async function stopServer(s: Server) {
  if (s.child.exitCode === null && s.child.signalCode === null) {
    const exited = new Promise((r) => s.child.once('exit', r));
    s.child.kill('SIGTERM');
    const timer = setTimeout(() => s.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(s.dir, { recursive: true, force: true });
}

/** POST through the ingress on a keep-alive agent; resolves with status and body. */
function post(agent: http.Agent, url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

export async function runPeer(opts: PeerOptions): Promise<PeerResult> {
  const restate = await importPeer<RestateModule>('@restatedev/restate-sdk');
  const steps = stepsOf(opts.workload);
  const benchWorkflow = restate.workflow({
    name: WORKFLOW,
    handlers: {
      run: async (ctx, req) => {
        let sum = 0;
        for (let i = 0; i < req.steps; i++) sum += await ctx.run(`step-${i}`, async () => i + req.input);
        return sum;
      },
    },
  });
  // The SDK logs two INFO lines per invocation to the console by default; that alone costs more than
  // the steps. Keep warnings and errors (DBOS runs with logLevel 'error' likewise), except the one
  // every run prints because a local benchmark configures no request-signing key.
  const logger = (meta: { level: string }, message?: unknown, ...rest: unknown[]) => {
    if (meta.level !== 'warn' && meta.level !== 'error') return;
    if (typeof message === 'string' && message.startsWith('Accepting requests without validating request signatures')) return;
    console.error(`[restate-sdk] ${meta.level}:`, message, ...rest);
  };
  const endpoint = http2.createServer(restate.endpoint().bind(benchWorkflow).setLogger(logger).http2Handler());
  await new Promise<void>((resolve, reject) => endpoint.once('error', reject).listen(0, '127.0.0.1', resolve));
  const endpointUrl = `http://127.0.0.1:${(endpoint.address() as AddressInfo).port}`;
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  let server: Server | undefined;
  try {
    server = await startServer();
    const reg = await fetch(`${server.admin}/deployments`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ uri: endpointUrl }) });
    const regBody = await reg.text();
    if (!reg.ok) throw new PeerUnavailableError('restate', `registering the deployment ${endpointUrl} failed: HTTP ${reg.status} ${regBody}`);

    const prefix = randomName('wf-');
    const invoke = async (id: string, input: number): Promise<number> => {
      const res = await post(agent, `${server!.ingress}/${WORKFLOW}/${id}/run`, JSON.stringify({ steps, input }));
      if (res.status !== 200) throw new Error(`restate: ${WORKFLOW}/${id}/run answered HTTP ${res.status}: ${res.body}`);
      return JSON.parse(res.body) as number;
    };
    // The ingress learns of a new deployment asynchronously: until it does, it answers 404.
    const deadline = Date.now() + 10_000;
    for (let probe = 0; ; probe++) {
      const res = await post(agent, `${server.ingress}/${WORKFLOW}/${prefix}-probe-${probe}/run`, JSON.stringify({ steps: 1, input: 0 }));
      if (res.status === 200) break;
      if (res.status !== 404 || Date.now() > deadline) throw new PeerUnavailableError('restate', `the ingress did not serve ${WORKFLOW} after registration: HTTP ${res.status} ${res.body}`);
      await sleep(50);
    }
    return await measure('restate', 'restate', opts, (seq, input) => invoke(`${prefix}-${seq}`, input));
  } finally {
    agent.destroy();
    if (server) await stopServer(server);
    endpoint.close();
  }
}
