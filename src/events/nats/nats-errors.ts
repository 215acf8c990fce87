import { JetStreamApiError } from '@nats-io/jetstream';
import { AiosError } from '../../core/index.ts';
import { EventsError } from '../errors.ts';

/** JetStream API error codes the store acts on. */
export const JS_CONSUMER_NOT_FOUND = 10014;
export const JS_STREAM_NOT_FOUND = 10059;
export const JS_STREAM_NAME_IN_USE = 10058;
export const JS_WRONG_LAST_SEQUENCE = 10071;

const UNAVAILABLE = new Set([
  'ConnectionError',
  'ClosedConnectionError',
  'DrainingConnectionError',
  'TimeoutError',
  'NoResponders',
  'RequestError',
  'JetStreamNotEnabled',
  'AuthorizationError',
  'UserAuthenticationExpiredError',
]);

export function apiCode(err: unknown): number | undefined {
  return err instanceof JetStreamApiError ? err.code : undefined;
}

/**
 * Driver errors become AiosErrors once, here: an unreachable or closed server is
 * AIOS_UNAVAILABLE (retryable, 503); anything else the server refused is AIOS_INTERNAL.
 */
export function translate(err: unknown, doing: string): AiosError {
  if (err instanceof AiosError) return err;
  const e = err instanceof Error ? err : new Error(String(err));
  if (UNAVAILABLE.has(e.name)) return new AiosError('AIOS_UNAVAILABLE', `NATS is unavailable while ${doing}: ${e.message}`, { cause: err });
  return new AiosError('AIOS_INTERNAL', `NATS refused ${doing}: ${e.message}`, { cause: err });
}

/** As translate, but a missing stream means the topic is gone (deleted by another process). */
export function gone(err: unknown, topic: { ns: string; name: string }, doing: string): AiosError {
  if (apiCode(err) === JS_STREAM_NOT_FOUND) {
    return new EventsError('AIOS_EVENTS_TOPIC_NOT_FOUND', `topic ${topic.name} in namespace ${topic.ns} has no stream in NATS: it was deleted, or NATS lost its data`, { cause: err });
  }
  return translate(err, `${doing} topic ${topic.ns}/${topic.name}`);
}
