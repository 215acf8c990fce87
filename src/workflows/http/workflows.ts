import { isDeepStrictEqual } from 'node:util';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AiosError } from '../../core/index.ts';
import { RESERVED_SIGNAL_PREFIX, type WorkflowRun } from '../index.ts';
import { actorOf } from '../../http/index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { ProblemSchema } from '../../http/index.ts';
import { pagedList, pageSchema } from '../../http/index.ts';
import { HistoryOut, RUN_ID_PATTERN, ReasonBody, RunListQuery, RunOut, RunParams, RunSummaryOut, SignalParams, StartBody, historyOut, runOut, runSummaryOut, timeParam } from './workflow-schemas.ts';

/** Who asked, as the engine records it ('user:ana', 'service:gateway'), like 'schedule:<id>' for a schedule's runs. */
export function requesterOf(req: FastifyRequest): string {
  const a = actorOf(req.aiosAuth?.principal);
  return `${a.type}:${a.id}`;
}

/**
 * Run ids the engine names itself: a schedule's fire (`sched:<schedule>:<tick>`) and a child run
 * (`<parent>:child:<position>`). A client taking one first would stand in for that run; and
 * "definitions" would be shadowed by `GET /workflows/definitions`.
 */
function reservedRunId(id: string): boolean {
  return id === 'definitions' || id.startsWith('sched:') || id.includes(':child:');
}

/** Signal names the engine uses itself (cancel, a child's end). */
const isReservedSignal = (name: string) => name.toLowerCase().startsWith(RESERVED_SIGNAL_PREFIX);

/** Cancel and terminate take an optional body: no body means no reason. */
async function noBodyIsEmpty(req: { body: unknown }): Promise<void> {
  if (req.body === undefined || req.body === null) req.body = {};
}

export function workflowRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const engine = deps.workflows;

    /** The run, or a 404 that reads the same whether it is absent or in another namespace. */
    const runIdPattern = new RegExp(RUN_ID_PATTERN);

    async function runOf(ns: string, id: string): Promise<WorkflowRun> {
      const run = await engine.getRun(ns, id);
      if (!run) throw new AiosError('AIOS_NOT_FOUND', `no workflow run ${id} in this namespace`);
      return run;
    }

    app.post(
      '/workflows',
      {
        config: { action: 'workflows:start' },
        schema: {
          tags: ['workflows'],
          summary: 'Start a workflow run (idempotent by id, or by the Idempotency-Key header: an existing id answers 200 with that run)',
          description:
            'The run is pinned to `version` or the highest registered version of `name`, and continues the request\'s lineage id. ' +
            '404 for a workflow or version not registered here, 400 for an input its schema refuses, 409 when `id` names a run of another workflow or input.',
          body: StartBody,
          response: { 201: RunOut, 200: RunOut, 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 413: ProblemSchema },
        },
      },
      async (req, reply) => {
        const { name, input, version } = req.body;
        // The API convention for writes: an `Idempotency-Key` header names the run when the body does not.
        const header = req.headers['idempotency-key'];
        const key = typeof header === 'string' && header !== '' ? header : undefined;
        if (key !== undefined && req.body.id !== undefined && key !== req.body.id) {
          throw new AiosError('AIOS_VALIDATION', 'the Idempotency-Key header and the body\'s id differ; send one, or the same in both', { errors: [{ path: '/body/id', message: 'differs from the Idempotency-Key header' }] });
        }
        if (key !== undefined && !runIdPattern.test(key)) {
          throw new AiosError('AIOS_VALIDATION', `the Idempotency-Key header is not a valid run id (it must match ${RUN_ID_PATTERN})`, { errors: [{ path: '/headers/idempotency-key', message: `must match ${RUN_ID_PATTERN}` }] });
        }
        const id = req.body.id ?? key;
        if (id !== undefined && reservedRunId(id)) {
          throw new AiosError('AIOS_VALIDATION', `run id "${id}" is reserved: "definitions", "sched:..." and "...:child:..." name runs AIOS starts itself`, { errors: [{ path: '/body/id', message: 'is reserved' }] });
        }
        const { run, created } = await engine.submit(namespaceOf(req), name, input, {
          ...(id !== undefined ? { id } : {}),
          ...(version !== undefined ? { version } : {}),
          createdBy: requesterOf(req),
          lineageId: req.lineageId,
        });
        // An idempotent retry gets the run it started; a different request under a taken id is a
        // conflict, not that run. Inputs compare as stored (JSON), so -0 and 0 are the same input.
        const sent = input === undefined ? null : JSON.parse(JSON.stringify(input));
        if (!created && (run.name !== name || (version !== undefined && run.version !== version) || !isDeepStrictEqual(run.input ?? null, sent))) {
          throw new AiosError('AIOS_CONFLICT', `run ${run.id} exists with another workflow, version or input (${run.name}@${run.version}); choose another id`);
        }
        return reply.code(created ? 201 : 200).send(runOut(run));
      },
    );

    app.get(
      '/workflows',
      {
        config: { action: 'workflows:list' },
        schema: {
          tags: ['workflows'],
          summary: 'List runs in creation order, by name, status and creation time; page with `next`',
          description: 'Items are summaries, without input, output or state; GET the run for those.',
          querystring: RunListQuery,
          response: { 200: pageSchema('runs', RunSummaryOut), 400: ProblemSchema },
        },
      },
      async (req) => {
        const q = req.query;
        return pagedList('runs', q.limit, async (limit) => {
          const page = await engine.listRuns(namespaceOf(req), {
            ...(q.name !== undefined ? { name: q.name } : {}),
            ...(q.status !== undefined ? { status: q.status } : {}),
            from: timeParam('from', q.from),
            to: timeParam('to', q.to),
            ...(q.after !== undefined ? { after: q.after } : {}),
            limit,
          });
          return { items: page.runs, next: page.next };
        }, runSummaryOut);
      },
    );

    // Static, so the router prefers it to /workflows/:id (and "definitions" is refused as a run id).
    app.get(
      '/workflows/definitions',
      {
        config: { action: 'workflows:list' },
        schema: {
          tags: ['workflows'],
          summary: 'The workflows registered on this process, each with its versions (lowest first)',
          response: { 200: Type.Object({ workflows: Type.Array(Type.Object({ name: Type.String(), versions: Type.Array(Type.String()) })) }) },
        },
      },
      async () => ({ workflows: engine.definitions() }),
    );

    app.get(
      '/workflows/:id',
      { config: { action: 'workflows:read' }, schema: { tags: ['workflows'], summary: 'A run: status, input, output or error, and its live state', params: RunParams, response: { 200: RunOut, 404: ProblemSchema } } },
      async (req) => runOut(await runOf(namespaceOf(req), req.params.id)),
    );

    app.get(
      '/workflows/:id/history',
      {
        config: { action: 'workflows:read' },
        schema: { tags: ['workflows'], summary: 'The run\'s journal: every step, timer, signal and recorded value, in order', params: RunParams, response: { 200: HistoryOut, 404: ProblemSchema } },
      },
      async (req) => {
        const ns = namespaceOf(req);
        await runOf(ns, req.params.id);
        return historyOut(await engine.history(ns, req.params.id));
      },
    );

    app.post(
      '/workflows/:id/signals/:name',
      {
        config: { action: 'workflows:signal' },
        schema: {
          tags: ['workflows'],
          summary: 'Send a signal; the body (any JSON, or none) is its payload',
          description: 'Stored whether or not the run waits for it yet; a later wait takes it. 409 for a finished run. Names starting with "aios." are reserved.',
          params: SignalParams,
          body: Type.Unknown({ description: 'the payload: any JSON value, or no body' }),
          response: { 202: Type.Object({ seq: Type.Integer({ description: 'the signal\'s number within the run' }) }), 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 413: ProblemSchema, 415: ProblemSchema },
        },
      },
      async (req, reply) => {
        const { id, name } = req.params;
        if (isReservedSignal(name)) {
          throw new AiosError('AIOS_VALIDATION', `signal name "${name}" is reserved: names starting with "aios." are the engine's own (cancel, child runs); use POST /workflows/{id}/cancel to cancel`, {
            errors: [{ path: '/params/name', message: 'is reserved' }],
          });
        }
        // Only JSON is a payload: a text/plain or NDJSON body would otherwise arrive as a string or an array.
        const type = req.headers['content-type'];
        if (req.body !== undefined && !(typeof type === 'string' && /^application\/json\s*(;|$)/i.test(type))) {
          throw new AiosError('AIOS_UNSUPPORTED_MEDIA_TYPE', 'send the signal payload as application/json, or no body');
        }
        const ns = namespaceOf(req);
        return reply.code(202).send(await engine.signal(ns, id, name, req.body));
      },
    );

    const operatorRoute = (verb: 'cancel' | 'terminate', summary: string, description: string) =>
      app.post(
        `/workflows/:id/${verb}`,
        {
          config: { action: `workflows:${verb}` },
          preValidation: noBodyIsEmpty,
          schema: { tags: ['workflows'], summary, description, params: RunParams, body: ReasonBody, response: { 200: RunOut, 400: ProblemSchema, 404: ProblemSchema } },
        },
        async (req) => {
          const opts = { ...(req.body.reason !== undefined ? { reason: req.body.reason } : {}), by: requesterOf(req) };
          const ns = namespaceOf(req);
          return runOut(verb === 'cancel' ? await engine.cancel(ns, req.params.id, opts) : await engine.terminate(ns, req.params.id, opts));
        },
      );
    operatorRoute(
      'cancel',
      'Ask a run to cancel: its code gets a CancelledError at its next step, sleep or wait and may compensate',
      'Durable: whichever process runs it next observes the request. The answer is the run as it is now (status changes when the code has observed the cancel). A finished run is returned unchanged.',
    );
    operatorRoute('terminate', 'End a run at once: no more workflow code runs, no compensation', 'A finished run is returned unchanged.');

    app.post(
      '/workflows/:id/retry',
      {
        config: { action: 'workflows:retry' },
        schema: {
          tags: ['workflows'],
          summary: 'Retry a failed run from its failed step (the steps before it are replayed, not run again)',
          description: '409 unless the run failed.',
          params: RunParams,
          response: { 200: RunOut, 404: ProblemSchema, 409: ProblemSchema },
        },
      },
      async (req) => runOut(await engine.retry(namespaceOf(req), req.params.id)),
    );
  };
}
