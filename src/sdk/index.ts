export { AiosClient, ApiError } from './client.ts';
export type { ClientOptions, ApiEvent } from './client.ts';
