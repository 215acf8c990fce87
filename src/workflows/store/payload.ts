import { AiosError, findNul, jsonMayHoldNul, NUL_MESSAGE } from '../../core/index.ts';
import { WorkflowsError } from '../errors.ts';

export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/**
 * A value as the JSON text to store, or null for `undefined`. Refuses a value larger than
 * `limit` bytes of UTF-8 (`what` names it in the message), one JSON cannot represent, and one
 * holding a NUL character (which PostgreSQL cannot store, so neither engine does).
 */
export function encodePayload(value: unknown, limit: number, what: string): string | null {
  if (value === undefined) return null;
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new AiosError('AIOS_VALIDATION', `${what} is not JSON-serialisable: ${(e as Error).message}`, { cause: e });
  }
  if (text === undefined) throw new AiosError('AIOS_VALIDATION', `${what} is not JSON-serialisable (a function or a symbol)`);
  if (jsonMayHoldNul(text)) {
    const at = findNul(value);
    if (at) {
      const message = `${at.key ? 'has a key that ' : ''}${NUL_MESSAGE}`;
      throw new AiosError('AIOS_VALIDATION', `${what}${at.pointer ? ` at ${at.pointer}` : ''} ${message}`, { errors: [{ path: at.pointer || '/', message }] });
    }
  }
  // A UTF-16 code unit is 1 to 3 UTF-8 bytes: only count bytes when the length leaves a doubt.
  if (text.length * 3 <= limit) return text;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > limit) {
    throw new WorkflowsError('AIOS_WF_PAYLOAD_TOO_LARGE', `${what} is ${bytes} bytes of JSON, more than the limit of ${limit}; store large values elsewhere (an artifact, a topic) and pass a reference`, {
      extra: { bytes, limit },
    });
  }
  return text;
}
