import type { Migration } from '../migrate.ts';

export const m0004Audit: Migration = {
  version: 4,
  name: 'audit',
  async up() {},
};
