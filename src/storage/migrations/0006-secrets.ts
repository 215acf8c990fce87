import type { Migration } from '../migrate.ts';

export const m0006Secrets: Migration = {
  version: 6,
  name: 'secrets',
  async up() {},
};
