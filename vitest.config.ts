import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    // Liveness bounds, not speed limits: a test that starts processes or databases may take many
    // times longer on a shared, loaded machine. A hung test still ends, with its own message
    // where it waits through test/support/until.ts (whose bound is lower).
    testTimeout: 600_000,
    hookTimeout: 600_000,
    // Two cores: more workers than that only adds contention.
    maxWorkers: 2,
    pool: 'forks',
  },
});
