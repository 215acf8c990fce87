import { defineErrors } from '../core/index.ts';

export const InfoError = defineErrors({
  AIOS_INFO_INSTANCE_NOT_FOUND: { status: 404, title: 'No instance of this id has started on this database' },
});
