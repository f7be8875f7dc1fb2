import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Two cores here: keep workers few so binaryen/Dawn start-up does not thrash.
    maxWorkers: 2,
  },
});
