import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // One graphql instance, as under Node: Node loads graphql's CommonJS build (Apollo's packages
    // require it), while Vite would prefer its `module` build, and a schema built by one fails
    // graphql's instanceof checks in the other.
    alias: [{ find: /^graphql$/, replacement: createRequire(import.meta.url).resolve('graphql') }],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // End-to-end files start servers on ephemeral loopback ports; a few in parallel is plenty on 2 cores.
    maxWorkers: 2,
    // In CI a test that fails gets one more try; .ci/run names every test that needed it, so a flaky
    // test shows (and gets fixed) without holding a landing hostage. Locally and under
    // `npm run test:stress` there is no retry.
    retry: process.env.CI ? 1 : 0,
  },
});
