import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, processGroupMembers } from './support/child.ts';
import { until } from './support/until.ts';

/*
 * The README, run as a reader would run it: its ```sh and ```bash blocks, in order, in one bash
 * (set -e) in a fresh working directory, with the real npm, CLI and curl. What differs from a
 * reader's terminal, and why:
 * - the port is a free one: `localhost:8080` and `127.0.0.1:8080` in the blocks become it, and
 *   AIOS_PORT is set so that `npm start` and the CLI use it too;
 * - curl gets --fail-with-body, so that an HTTP error answer fails the block as a reader would
 *   notice it;
 * - `npm install`, `npm ci` and `npm test` are refused: they would change the shared install or
 *   run the suite inside itself.
 * A block preceded by an HTML comment is run as it says:
 *   <!-- readme-test: background until ready -->         keeps running (a server), in a process group
 *                                                         of its own; the next block runs once /readyz
 *                                                         answers 200
 *   <!-- readme-test: interrupt after output "x" -->     runs (a live tail) until its output holds x,
 *                                                         then gets the reader's Ctrl-C
 *   <!-- readme-test: skip: <why> -->                     not run; refused in the sections that must run
 * Ctrl-C is SIGINT to the block's process group, and the block must then end by itself. A
 * background block gets it when a later one starts (the reader stops the first server to start
 * another) and at the end.
 */

const REPO = fileURLToPath(new URL('..', import.meta.url));
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
/** The sections whose every shell block must run. */
const MUST_RUN = ['Quick start', 'The event log', 'Workflows'];
/** Liveness bounds for a loaded machine, never an assertion about speed. */
const BLOCK_TIMEOUT_MS = 300_000;
const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 120_000;
/** What the checkout's commands need in the working directory (the rest of the checkout stays out of it). */
const LINKED = ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'bin', 'src', 'examples', 'node_modules'];

type Mode =
  | { kind: 'run' }
  | { kind: 'skip'; why: string }
  | { kind: 'background'; until: { ready: true } | { output: string }; interrupt: boolean };

interface Block {
  readonly line: number;
  readonly section: string;
  readonly code: string;
  readonly mode: Mode;
}

function modeOf(marker: string | undefined, line: number): Mode {
  if (marker === undefined) return { kind: 'run' };
  const m = /^<!--\s*readme-test:\s*(.*?)\s*-->$/.exec(marker)!;
  const text = m[1];
  let r: RegExpExecArray | null;
  if ((r = /^skip:\s*(.+)$/.exec(text))) return { kind: 'skip', why: r[1] };
  if (text === 'background until ready') return { kind: 'background', until: { ready: true }, interrupt: false };
  if ((r = /^interrupt after output "(.+)"$/.exec(text))) return { kind: 'background', until: { output: r[1] }, interrupt: true };
  throw new Error(`README.md line ${line}: unknown readme-test marker "${text}"`);
}

/** The shell blocks of the README with the level-2 section each is in and the marker before it. */
function shellBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let section = '';
  let marker: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const fence = /^(\s*)```(\w*)/.exec(line);
    if (fence) {
      const indent = fence[1].length;
      const body: string[] = [];
      let j = i + 1;
      while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].slice(indent));
      if (fence[2] === 'sh' || fence[2] === 'bash') blocks.push({ line: i + 1, section, code: body.join('\n'), mode: modeOf(marker, i + 1) });
      else if (marker) throw new Error(`README.md line ${i + 1}: a readme-test marker before a ${fence[2] || 'plain'} block`);
      marker = undefined;
      i = j;
      continue;
    }
    const m = /^\s*(<!--\s*readme-test:.*-->)\s*$/.exec(line);
    if (m) marker = m[1];
    else if (line.trim() !== '') marker = undefined;
  }
  return blocks;
}

const BLOCKS = shellBlocks(README);
const TO_RUN = BLOCKS.filter((b) => b.mode.kind !== 'skip');
const where = (b: Block) => `README.md line ${b.line} (## ${b.section})`;

/** Set up once in the reader's shell, before the first block. */
const PRELUDE = ['set -eE', 'set -m', `trap 'echo "readme-test: exit status $? from: $BASH_COMMAND" >&2' ERR`, ''].join('\n');

/**
 * Stand-ins for curl and npm, first on PATH, that run the real ones (so that the ERR trap names
 * the README's own command line): curl with --fail-with-body, npm except install, ci and test.
 */
function writeShims(dir: string): void {
  const real = (name: string) => execFileSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  mkdirSync(dir);
  writeFileSync(join(dir, 'curl'), `#!/bin/sh\nexec '${real('curl')}' --fail-with-body "$@"\n`, { mode: 0o755 });
  writeFileSync(
    join(dir, 'npm'),
    [
      '#!/bin/sh',
      'case "${1:-}" in',
      '  install|i|ci|test|t) echo "readme-test: refusing \\"npm $1\\": it would change the shared install or run the suite inside itself" >&2; exit 1 ;;',
      'esac',
      `exec '${real('npm')}' "$@"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
}

interface Background {
  readonly block: Block;
  readonly pgid: number;
  readonly log: string;
}

/** One bash that the blocks are fed to, as a reader types them into a terminal. */
class ReaderShell {
  readonly #child: ChildProcess;
  #out = '';
  #exit: number | string | undefined;
  readonly #exited: Promise<void>;

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.#child = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    this.#child.stdout!.on('data', (d) => (this.#out += String(d)));
    this.#child.stderr!.on('data', (d) => (this.#out += String(d)));
    this.#exited = new Promise((resolve) => this.#child.once('exit', (code, signal) => ((this.#exit = code ?? signal ?? -1), resolve())));
    this.#child.stdin!.write(PRELUDE);
  }

  get pgid(): number {
    return this.#child.pid!;
  }

  /** Sends a command line and waits for `marker` in the output; returns what came before it. */
  async send(line: string, marker: string, timeoutMs: number, what: string): Promise<{ ok: true; output: string } | { ok: false; output: string; why: string }> {
    const start = this.#out.length;
    this.#child.stdin!.write(`${line}\nprintf '\\n%s\\n' '${marker}'\n`);
    let timedOut = false;
    await Promise.race([
      until(() => this.#out.includes(marker, start) || this.#exit !== undefined, what, timeoutMs).catch(() => (timedOut = true)),
      this.#exited,
    ]);
    const end = this.#out.indexOf(marker, start);
    if (end >= 0) return { ok: true, output: this.#out.slice(start, end) };
    const output = this.#out.slice(start);
    return { ok: false, output, why: timedOut ? `did not finish within ${timeoutMs} ms` : `the shell exited (${this.#exit})` };
  }

  async close(): Promise<void> {
    if (this.#exit === undefined) this.#child.stdin!.end('exit 0\n');
    await Promise.race([this.#exited, new Promise((r) => setTimeout(r, STOP_TIMEOUT_MS).unref())]);
    killGroup(this.pgid);
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // gone
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('the README', () => {
  it('has shell blocks in every section that must run, none of them skipped', () => {
    for (const section of MUST_RUN) {
      const blocks = BLOCKS.filter((b) => b.section === section);
      expect(blocks.length, `## ${section} has no shell block`).toBeGreaterThan(0);
      for (const b of blocks) expect(b.mode.kind, `${where(b)} is marked skip`).not.toBe('skip');
    }
  });

  it('runs, as written and in order, on a fresh data directory', async () => {
    const port = await freePort();
    const work = mkdtempSync(join(tmpdir(), 'aios-readme-'));
    const scratch = mkdtempSync(join(tmpdir(), 'aios-readme-blocks-'));
    cleanups.push(() => rmSync(work, { recursive: true, force: true }), () => rmSync(scratch, { recursive: true, force: true }));
    for (const name of LINKED) if (existsSync(join(REPO, name))) symlinkSync(join(REPO, name), join(work, name));
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('AIOS_') && !k.startsWith('npm_')) env[k] = v;
    env.AIOS_PORT = String(port);
    writeShims(join(scratch, 'bin'));
    env.PATH = `${join(scratch, 'bin')}:${env.PATH}`;

    const shell = new ReaderShell(work, env);
    const running: Background[] = [];
    const report = (b: Block, why: string, output: string) =>
      [`${where(b)} failed: ${why}`, '--- block ---', b.code, '--- output ---', output, ...running.map((r) => `--- output of the background block at line ${r.block.line} ---\n${readLog(r.log)}`)].join('\n');
    const readLog = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : '');

    /** Ctrl-C to a background block, and a wait for all of it to end. */
    const stop = async (r: Background) => {
      try {
        process.kill(-r.pgid, 'SIGINT');
      } catch {
        // already ended
      }
      const stopped = await until(() => processGroupMembers(r.pgid).length === 0, 'a background block to stop', STOP_TIMEOUT_MS).then(() => true, () => false);
      if (!stopped) {
        killGroup(r.pgid);
        throw new Error(report(r.block, `still running ${STOP_TIMEOUT_MS} ms after Ctrl-C (SIGINT to its process group)`, readLog(r.log)));
      }
    };
    /** Stops every background block still running, newest first. */
    const stopBackground = async () => {
      while (running.length > 0) await stop(running.pop()!);
    };
    cleanups.push(async () => {
      for (const r of running) killGroup(r.pgid);
      await shell.close();
    });

    let n = 0;
    for (const b of TO_RUN) {
      n++;
      const code = b.code.replaceAll('localhost:8080', `localhost:${port}`).replaceAll('127.0.0.1:8080', `127.0.0.1:${port}`);
      const file = join(scratch, `block-${n}.sh`);
      writeFileSync(file, `${code}\n`);
      if (b.mode.kind === 'background') {
        if (!b.mode.interrupt) await stopBackground();
        const log = join(scratch, `block-${n}.log`);
        const started = await shell.send(`( source '${file}' ) </dev/null >'${log}' 2>&1 &\nprintf '\\nreadme-test-pgid %s\\n' "$!"`, `readme-test-started-${n}`, BLOCK_TIMEOUT_MS, `block ${n} to start`);
        const pgid = Number(/readme-test-pgid (\d+)/.exec(started.output)?.[1]);
        if (!started.ok || !pgid) throw new Error(report(b, started.ok ? 'no process id' : started.why, started.output));
        const bg = { block: b, pgid, log };
        running.push(bg);
        const until_ = b.mode.until;
        const ready = await until(
          async () => {
            if (processGroupMembers(pgid).length === 0) return 'ended';
            if ('ready' in until_) return (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false)) && 'ready';
            return readLog(log).includes(until_.output) && 'ready';
          },
          `the background block at line ${b.line}`,
          READY_TIMEOUT_MS,
          50,
        ).catch(() => 'timed out');
        if (ready !== 'ready') {
          running.pop();
          killGroup(pgid);
          throw new Error(report(b, ready === 'ended' ? 'it ended by itself, before it was ready' : `not ready within ${READY_TIMEOUT_MS} ms`, readLog(log)));
        }
        if (b.mode.interrupt) await stop(running.pop()!);
      } else {
        const done = await shell.send(`source '${file}' </dev/null 2>&1`, `readme-test-done-${n}`, BLOCK_TIMEOUT_MS, `block ${n}`);
        if (!done.ok) throw new Error(report(b, done.why, done.output));
      }
    }
    await stopBackground();
    for (const section of MUST_RUN) expect(TO_RUN.some((b) => b.section === section), `no block of ## ${section} ran`).toBe(true);
  }, 60 * 60_000);
});

// Parsing is checked on its own, so that a marker the runner would misread fails here and not in a long run.
describe('reading the README\'s blocks', () => {
  it('takes the section, the marker and the indented body of each shell block', () => {
    const md = ['## One', '', '<!-- readme-test: background until ready -->', '```sh', 'npm start', '```', '## Two', '- item', '  ```bash', '  echo hi', '  ```', '<!-- readme-test: skip: needs PostgreSQL -->', '```sh', 'x', '```', '```ts', 'y', '```'].join('\n');
    expect(shellBlocks(md)).toEqual([
      { line: 4, section: 'One', code: 'npm start', mode: { kind: 'background', until: { ready: true }, interrupt: false } },
      { line: 9, section: 'Two', code: 'echo hi', mode: { kind: 'run' } },
      { line: 13, section: 'Two', code: 'x', mode: { kind: 'skip', why: 'needs PostgreSQL' } },
    ]);
    expect(() => shellBlocks('<!-- readme-test: backgruond -->\n```sh\nx\n```')).toThrow(/unknown readme-test marker/);
    expect(() => shellBlocks('<!-- readme-test: skip: no -->\n```ts\nx\n```')).toThrow(/before a ts block/);
  });
});

