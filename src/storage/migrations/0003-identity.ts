import type { Migration } from '../migrate.ts';

export const m0003Identity: Migration = {
  version: 3,
  name: 'identity',
  async up() {},
};
