import type { FastifyPluginAsync } from 'fastify';
import { Type } from 'typebox';
import { AiosError } from '../../core/index.ts';
import { namespaceOf, type App } from '../../http/index.ts';
import type { ServerDeps } from './deps.ts';
import { ProblemSchema } from '../../http/index.ts';
import { pagedList, pageSchema } from '../../http/index.ts';
import { ScheduleCreateBody, ScheduleListQuery, ScheduleOut, ScheduleParams, SchedulePatchBody, scheduleOut } from './workflow-schemas.ts';
import { requesterOf } from './workflows.ts';

export function scheduleRoutes(deps: ServerDeps): FastifyPluginAsync {
  return async (plugin) => {
    const app = plugin as unknown as App;
    const schedules = deps.schedules;
    const notFound = (id: string) => new AiosError('AIOS_NOT_FOUND', `no schedule ${id} in this namespace`);

    app.post(
      '/schedules',
      {
        config: { action: 'schedules:create' },
        schema: {
          tags: ['schedules'],
          summary: 'Create a cron schedule that starts runs of a workflow',
          description:
            'Each tick starts the run `sched:<id>:<tick ms>`, once across every scheduler. 404 when the workflow is not registered on this process ' +
            '(its runs could not start), 400 for a cron or time zone that does not parse or has no next tick, 409 when the id exists.',
          body: ScheduleCreateBody,
          response: { 201: ScheduleOut, 400: ProblemSchema, 404: ProblemSchema, 409: ProblemSchema, 413: ProblemSchema },
        },
      },
      async (req, reply) => {
        const body = req.body;
        // A schedule of an unknown workflow, or with an input its schema refuses, would fail at every tick, in a log nobody reads.
        deps.workflows.validateInput(body.workflow, body.input);
        const schedule = await schedules.create(namespaceOf(req), { ...body, createdBy: requesterOf(req) });
        return reply.code(201).send(scheduleOut(schedule));
      },
    );

    app.get(
      '/schedules',
      {
        config: { action: 'schedules:list' },
        schema: {
          tags: ['schedules'],
          summary: 'List schedules in id order; page with `next`',
          querystring: ScheduleListQuery,
          response: { 200: pageSchema('schedules', ScheduleOut), 400: ProblemSchema },
        },
      },
      async (req) =>
        pagedList('schedules', req.query.limit, async (limit) => {
          const page = await schedules.list(namespaceOf(req), { limit, ...(req.query.after !== undefined ? { after: req.query.after } : {}) });
          return { items: page.schedules, next: page.next };
        }, scheduleOut),
    );

    app.get(
      '/schedules/:id',
      { config: { action: 'schedules:read' }, schema: { tags: ['schedules'], summary: 'A schedule with its next and last tick', params: ScheduleParams, response: { 200: ScheduleOut, 404: ProblemSchema } } },
      async (req) => {
        const s = await schedules.get(namespaceOf(req), req.params.id);
        if (!s) throw notFound(req.params.id);
        return scheduleOut(s);
      },
    );

    app.patch(
      '/schedules/:id',
      {
        config: { action: 'schedules:update' },
        schema: {
          tags: ['schedules'],
          summary: 'Change a schedule, or pause and resume it',
          description: 'A new cron or time zone, and a resume, compute the next tick from now (ticks missed while paused are not caught up).',
          params: ScheduleParams,
          body: SchedulePatchBody,
          response: { 200: ScheduleOut, 400: ProblemSchema, 404: ProblemSchema, 413: ProblemSchema },
        },
      },
      async (req) => {
        if (req.body.input !== undefined) {
          const current = await schedules.get(namespaceOf(req), req.params.id);
          if (!current) throw notFound(req.params.id);
          deps.workflows.validateInput(current.workflow, req.body.input);
        }
        return scheduleOut(await schedules.update(namespaceOf(req), req.params.id, req.body));
      },
    );

    app.delete(
      '/schedules/:id',
      { config: { action: 'schedules:delete' }, schema: { tags: ['schedules'], summary: 'Delete a schedule (the runs it started are left as they are)', params: ScheduleParams, response: { 204: Type.Null(), 404: ProblemSchema } } },
      async (req, reply) => {
        if (!(await schedules.delete(namespaceOf(req), req.params.id))) throw notFound(req.params.id);
        return reply.code(204).send(null);
      },
    );
  };
}
