/**
 * The workflow outbox for an event log outside the database (NATS JetStream): emitted events are
 * written with the journal entry and published by a relay, with their ids, exactly once in the log.
 */
export { OutboxRelay } from './outbox-relay.ts';
export type { OutboxRelayOptions } from './outbox-relay.ts';
