import { Type } from 'typebox';
import { toRfc3339 } from '../../core/index.ts';
import type { StoredEvent } from '../index.ts';

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
