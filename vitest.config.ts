import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // End-to-end files start servers on ephemeral loopback ports; a few in parallel is plenty on 2 cores.
    maxWorkers: 2,
  },
});
