import type { ActionSpec } from '../capability/index.ts';

/** The event log's authorization actions: topics, appends and reads, consumer groups. */
export const EVENTS_ACTIONS = {
  'topics:list': { group: 'read', resource: 'Namespace', description: 'list topics' },
  'topics:read': { group: 'read', resource: 'Topic', description: 'read a topic definition and its schema history' },
  'topics:create': { group: 'operate', resource: 'Namespace', description: 'create a topic' },
  'topics:update': { group: 'operate', resource: 'Topic', description: 'change a topic' },
  'topics:delete': { group: 'operate', resource: 'Topic', description: 'delete a topic and its events' },
  'events:append': { group: 'write', resource: 'Topic', description: 'append events' },
  'events:read': { group: 'read', resource: 'Topic', description: 'read and tail events' },
  'groups:read': { group: 'read', resource: 'Topic', description: 'see consumer groups and their lag' },
  'groups:consume': { group: 'write', resource: 'Topic', description: 'fetch and commit as a group member' },
  'groups:reset': { group: 'operate', resource: 'Topic', description: 'replay: move a group\'s position' },
} as const satisfies Record<string, ActionSpec>;

/** Its entity type: a topic, in its namespace. */
export const EVENTS_RESOURCE_TYPES = ['Topic'] as const;
