import { defineErrors } from '../core/index.ts';

/** The events capability's error codes, documented in docs/errors.md; thrown as `EventsError`. */
export const EventsError = defineErrors({
  AIOS_EVENTS_TOPIC_NOT_FOUND: { status: 404, title: 'No such topic' },
  AIOS_EVENTS_TOPIC_EXISTS: { status: 409, title: 'A topic with this name exists with a different definition' },
  AIOS_EVENTS_INVALID_TOPIC: { status: 400, title: 'The topic definition is invalid' },
  AIOS_EVENTS_SCHEMA_INVALID: { status: 400, title: 'The data contract is not a valid JSON Schema' },
  AIOS_EVENTS_SCHEMA_INCOMPATIBLE: { status: 409, title: 'The new data contract is not backward compatible' },
  AIOS_EVENTS_SCHEMA_VIOLATION: { status: 422, title: 'The event does not match the topic data contract' },
  AIOS_EVENTS_INVALID_EVENT: { status: 422, title: 'The event envelope is invalid' },
  AIOS_EVENTS_BATCH_REJECTED: { status: 422, title: 'The request was refused because of rejected events; nothing was appended' },
  AIOS_EVENTS_BATCH_TOO_LARGE: { status: 413, title: 'The request holds more events than allowed' },
  AIOS_EVENTS_INVALID_POSITION: { status: 400, title: 'The offset, partition or time is out of range' },
});
