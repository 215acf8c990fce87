import { AiosError } from '../core/index.ts';

/**
 * A topic-wide read position: the next offset per partition, written `0:15,1:7`. It is the SSE
 * event id of a live tail, so a reconnecting EventSource resumes every partition exactly.
 */
export type Cursor = Map<number, number>;

export function formatCursor(c: Cursor): string {
  return [...c].sort((a, b) => a[0] - b[0]).map(([p, o]) => `${p}:${o}`).join(',');
}

export function parseCursor(text: string): Cursor {
  const c: Cursor = new Map();
  if (text.trim() === '') return c;
  for (const part of text.split(',')) {
    const m = /^(\d{1,3}):(\d{1,16})$/.exec(part.trim());
    if (!m) throw new AiosError('AIOS_EVENTS_INVALID_POSITION', `cursor "${text.slice(0, 100)}" is not of the form partition:offset,...`);
    c.set(Number(m[1]), Number(m[2]));
  }
  return c;
}
