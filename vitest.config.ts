import { defineConfig } from 'vitest/config';

// The suite runs twice: once with the addon required, once with the pure-TS
// fallback forced. Files run one at a time: they start real clusters on a
// 2-core machine, and parallel files would only make each other time out.
export default defineConfig({
  test: {
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      { extends: true, test: { name: 'native', env: { STICKY_NATIVE: 'native' } } },
      { extends: true, test: { name: 'fallback', env: { STICKY_NATIVE: 'fallback' } } },
    ],
  },
});
