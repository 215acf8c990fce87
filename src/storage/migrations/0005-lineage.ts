import type { Migration } from '../migrate.ts';

export const m0005Lineage: Migration = {
  version: 5,
  name: 'lineage',
  async up() {},
};
