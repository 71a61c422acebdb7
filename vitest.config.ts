import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // onnxruntime sessions and servers on loopback are heavy: keep worker count at the core count.
    pool: 'forks',
    maxWorkers: 2,
  },
});
