import type { OperationSpec } from '../../capability/index.ts';
import { NDJSON } from '../../http/index.ts';
import { CLOUDEVENTS_CONTENT_TYPES } from '../cloudevents.ts';

const APPEND_MEDIA_TYPES: readonly string[] = ['application/json', NDJSON, ...CLOUDEVENTS_CONTENT_TYPES];

/** The event routes' operations, by method and OpenAPI path. */
export const EVENTS_OPERATIONS: Readonly<Record<string, OperationSpec>> = {
  'POST /api/v1/topics': { id: 'createTopic' },
  'GET /api/v1/topics': { id: 'listTopics' },
  'GET /api/v1/topics/{topic}': { id: 'getTopic' },
  'PATCH /api/v1/topics/{topic}': { id: 'updateTopic' },
  'DELETE /api/v1/topics/{topic}': { id: 'deleteTopic' },
  'GET /api/v1/topics/{topic}/schemas': { id: 'listTopicSchemas' },
  'POST /api/v1/topics/{topic}/events': { id: 'appendEvents', accepts: APPEND_MEDIA_TYPES },
  'GET /api/v1/topics/{topic}/events': { id: 'readEvents' },
  'GET /api/v1/topics/{topic}/stream': { id: 'streamEvents', produces: 'text/event-stream' },
  'GET /api/v1/topics/{topic}/groups': { id: 'listGroups' },
  'GET /api/v1/topics/{topic}/groups/{group}': { id: 'getGroup' },
  'POST /api/v1/topics/{topic}/groups/{group}/fetch': { id: 'fetchGroupEvents' },
  'POST /api/v1/topics/{topic}/groups/{group}/commit': { id: 'commitGroupOffsets' },
  'POST /api/v1/topics/{topic}/groups/{group}/reset': { id: 'resetGroup' },
};

export const EVENTS_TAGS = [
  { name: 'topics', description: 'Event topics and their data contracts' },
  { name: 'events', description: 'Append, read and tail events' },
  { name: 'groups', description: 'Consumer groups: at-least-once delivery and replay' },
];
