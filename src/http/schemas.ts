import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import type { StoredEvent } from '../../events/index.ts';

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.String(),
    code: Type.String(),
    instance: Type.Optional(Type.String()),
    errors: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details (application/problem+json)' },
);

/** Query of every list route ordered by name: `?after=<last name of the previous page>&limit=`. */
export const PageQuery = Type.Object({
  after: Type.Optional(Type.String({ maxLength: 200, description: 'the `next` of the previous page' })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 100 })),
});

/** The cursor of the next page: the last item's name when the page is full, else null. */
export function nextAfter<T>(items: readonly T[], limit: number, nameOf: (t: T) => string): string | null {
  return items.length === limit ? nameOf(items[items.length - 1]) : null;
}

/** `:topic` in every route under /topics/{topic}. */
export const TopicParams = Type.Object({ topic: Type.String({ maxLength: 100 }) });

export const EventOut = Type.Object({
  topic: Type.String(),
  partition: Type.Integer(),
  offset: Type.Integer(),
  id: Type.String(),
  key: Type.Union([Type.String(), Type.Null()]),
  time: Type.String({ format: 'date-time' }),
  ingestedAt: Type.String({ format: 'date-time' }),
  data: Type.Unknown(),
  headers: Type.Record(Type.String(), Type.String()),
});

export function eventOut(e: StoredEvent) {
  return { ...e, time: toRfc3339(e.time), ingestedAt: toRfc3339(e.ingestedAt) };
}
