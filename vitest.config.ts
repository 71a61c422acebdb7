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
    // Test files create SDK clients without an entry point's node-support.ts; the shutdown-quiet
    // test removes this again for the npm start it spawns, so the entry points are still checked.
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
  },
});
